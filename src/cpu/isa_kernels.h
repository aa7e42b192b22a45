// The kernel registry: every micro-kernel family of the engine, for one ISA, in one struct. Each ISA's
// instance is defined by isa_kernels.cc, which the build compiles once per ISA with that ISA's flags and
// nothing else, into that ISA's namespace (convkit::cpu::avx512, ...; see docs/engine.md "Kernels per
// ISA"). A family added to the engine is a field here and one line in isa_kernels.cc.
#pragma once

#include <cstdint>
#include <span>

#include "depthwise_kernel.h"
#include "fft.h"
#include "grouped_kernel.h"
#include "isa.h"
#include "spatial_kernel.h"
#include "tile_kernel.h"
#include "wgrad_kernel.h"
#include "winograd_transform.h"

namespace convkit::cpu {

struct IsaKernels {
  Isa isa;
  std::span<const TileKernel> tiles;               // gemm and igemm, every MR x NR shape
  std::span<const TileKernel> grouped_gemm_tiles;  // tiles plus widths fitting common channels per group
  std::span<const SpatialKernel> spatial;          // indexed by output channels - 1
  const DepthwiseKernels* depthwise;
  const GroupedKernels* grouped;
  const FftKernels* fft;
  std::span<const WinogradTransform> winograd;
  const WgradKernels* wgrad;
  // True when no value of values[0, count) is NaN or +-Inf (finite_scan.h).
  bool (*all_finite)(const float* values, int64_t count);
};

// Each ISA's registry, defined in its own namespace by that ISA's build of isa_kernels.cc.
#define CONVKIT_DECLARE_ISA_KERNELS(isa) \
  namespace isa {                        \
  const IsaKernels& kernels();           \
  }
CONVKIT_FOR_EACH_ISA(CONVKIT_DECLARE_ISA_KERNELS)
#undef CONVKIT_DECLARE_ISA_KERNELS

// The kernels of `isa` (which this CPU must run: see supported_isas()).
const IsaKernels& isa_kernels(Isa isa);

}  // namespace convkit::cpu
