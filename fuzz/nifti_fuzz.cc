// libFuzzer target for the NIfTI-1 and NIfTI-2 reader. Any input must either parse or raise
// convkit::Error; a crash, sanitizer report, leak, oversized allocation (-malloc_limit_mb) or exception of
// another type is a bug. Inputs that parse must survive a serialize/parse round trip bit for bit. Inputs
// starting with the gzip magic take the .nii.gz path, so the bounded inflation is fuzzed too.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "convkit/error.h"
#include "convkit/nifti.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convkit::nifti::Volume volume;
  try {
    volume = convkit::nifti::parse(std::span<const uint8_t>(data, size), "fuzz.nii");
  } catch (const convkit::Error&) {
    return 0;
  }
  if (volume.data.shape() != convkit::nifti::channels_shape(volume.header.dims)) {
    std::fprintf(stderr, "parse returned shape %s for dims of rank %zu\n", convkit::to_string(volume.data.shape()).c_str(),
                 volume.header.dims.size());
    std::abort();
  }
  const convkit::nifti::Volume again =
      convkit::nifti::parse(convkit::nifti::serialize(volume.data, volume.header), "round trip");
  if (again.data.shape() != volume.data.shape() ||
      std::memcmp(again.data.data(), volume.data.data(), static_cast<size_t>(volume.data.numel()) * sizeof(float)) != 0) {
    std::fprintf(stderr, "serialize/parse round trip changed the volume of shape %s\n",
                 convkit::to_string(volume.data.shape()).c_str());
    std::abort();
  }
  return 0;
}
