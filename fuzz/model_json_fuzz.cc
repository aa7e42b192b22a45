// libFuzzer target for the MODEL.json reader. Any input must either parse or raise convkit::Error; a
// crash, sanitizer report (signed overflow included), leak or exception of another type is a bug. A
// model that parses must be consistent: each layer reads earlier tensors and its input shape is its first
// input's, every size is positive, non-trainable params are part of the params, and the totals are the
// sums of the layers.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "convkit/error.h"
#include "convkit/model.h"
#include "convkit/model_json.h"

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "model_json_fuzz: %s\n", what);
  std::abort();
}

void check(const convkit::Model& model) {
  int64_t params = 0, macs = 0, non_trainable = 0;
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const convkit::ModelLayer& layer = model.layers[i];
    if (layer.inputs.empty()) bug("a layer reads nothing");
    for (convkit::TensorIndex tensor : layer.inputs)
      if (tensor > i) bug("a layer reads a tensor that is not earlier");
    if (layer.input_shape != model.tensor_shape(layer.inputs.front())) bug("a layer's input shape is not its input's");
    if (layer.non_trainable_params > layer.params) bug("more non-trainable params than params");
    for (int64_t d : layer.output_shape)
      if (d < 1) bug("an output size is not positive");
    if (layer.params < 0 || layer.macs < 0) bug("a negative count");
    if (layer.receptive_field.size() != static_cast<size_t>(model.spatial_rank())) bug("receptive field rank");
    params += layer.params;
    macs += layer.macs;
    non_trainable += layer.non_trainable_params;
  }
  if (params != model.total_params() || macs != model.total_macs() || non_trainable != model.total_non_trainable_params())
    bug("totals are not the sums of the layers");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    check(convkit::parse_model(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json"));
  } catch (const convkit::Error&) {
  }
  return 0;
}
