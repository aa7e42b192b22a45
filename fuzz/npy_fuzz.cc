// libFuzzer target for the .npy reader. Any input must either parse or raise convkit::Error; a crash,
// sanitizer report, leak or exception of another type is a bug. Inputs that parse must also survive a
// serialize/parse round trip bit for bit.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "convkit/error.h"
#include "convkit/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convkit::Tensor tensor;
  try {
    tensor = convkit::npy::parse(std::span<const uint8_t>(data, size), "fuzz.npy");
  } catch (const convkit::Error&) {
    return 0;
  }
  if (tensor.numel() != convkit::element_count(tensor.shape())) {
    std::fprintf(stderr, "parse returned %lld values for shape %s\n", static_cast<long long>(tensor.numel()),
                 convkit::to_string(tensor.shape()).c_str());
    std::abort();
  }
  const convkit::Tensor again = convkit::npy::parse(convkit::npy::serialize(tensor), "round trip");
  if (again.shape() != tensor.shape() ||
      (tensor.numel() > 0 &&
       std::memcmp(again.data(), tensor.data(), static_cast<size_t>(tensor.numel()) * sizeof(float)) != 0)) {
    std::fprintf(stderr, "serialize/parse round trip changed the tensor of shape %s\n",
                 convkit::to_string(tensor.shape()).c_str());
    std::abort();
  }
  return 0;
}
