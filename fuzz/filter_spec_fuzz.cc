// libFuzzer target for named filter specs (`convkit filter --filter NAME[:P1,P2]`). The first byte
// picks the spatial rank (1-3), the rest is the spec text. A spec must either resolve or raise
// convkit::Error; one that resolves must give finite kernels of that rank, and applying it to a small
// signal/image/volume must give an output of the input's shape (padding 'same', stride 1) or a
// convkit::Error (a kernel wider than the reflect border allows). Crashes, sanitizer reports, other
// exception types, and kernels whose size is not bounded by their parameters' sense (libFuzzer's
// -malloc_limit_mb and -timeout) are bugs.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "convkit/error.h"
#include "convkit/filters.h"

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "filter_spec_fuzz: %s\n", what);
  std::abort();
}

void check(const convkit::filters::Filter& filter, int rank) {
  if (filter.kernels.empty()) bug("a filter without kernels");
  for (const convkit::Tensor& kernel : filter.kernels) {
    if (kernel.rank() != rank) bug("a kernel of the wrong rank");
    for (int64_t i = 0; i < kernel.numel(); ++i)
      if (!std::isfinite(kernel[i])) bug("a kernel value is not finite");
  }
  convkit::Shape shape{2};  // two channels of 9 cells per axis
  for (int axis = 0; axis < rank; ++axis) shape.push_back(9);
  convkit::Tensor x(shape);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i % 5);
  try {
    const convkit::Tensor y = convkit::filters::apply(filter, x);
    if (y.shape() != x.shape()) bug("'same' filtering changed the shape");
  } catch (const convkit::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int rank = 1 + data[0] % 3;
  try {
    check(convkit::filters::named(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), rank), rank);
  } catch (const convkit::Error&) {
  }
  return 0;
}
