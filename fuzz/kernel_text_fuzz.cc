// libFuzzer target for the kernel text/JSON reader. Any input must either parse or raise
// convkit::Error; a crash, sanitizer report, leak or exception of another type is a bug. A parsed
// kernel must be 1D to 3D, non-empty, with every value finite.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "convkit/error.h"
#include "convkit/kernel_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convkit::Tensor kernel;
  try {
    kernel = convkit::kernel_text::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.txt");
  } catch (const convkit::Error&) {
    return 0;
  }
  bool finite = true;
  for (float v : kernel.values()) finite = finite && std::isfinite(v);
  if (kernel.rank() < 1 || kernel.rank() > 3 || kernel.numel() < 1 ||
      kernel.numel() != convkit::element_count(kernel.shape()) || !finite) {
    std::fprintf(stderr, "parse returned a kernel of shape %s with %lld values (finite: %d)\n",
                 convkit::to_string(kernel.shape()).c_str(), static_cast<long long>(kernel.numel()), finite);
    std::abort();
  }
  return 0;
}
