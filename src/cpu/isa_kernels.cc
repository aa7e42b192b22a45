// One ISA's kernel registry (isa_kernels.h). The build compiles this file once per ISA
// (src/cpu/CMakeLists.txt), with CONVKIT_TARGET = portable, avx2 or avx512, CONVKIT_TARGET_<ISA> = 1 and
// that ISA's flags, as Highway's foreach_target does: everything here and in the *_impl.h templates is
// defined in namespace convkit::cpu::CONVKIT_TARGET, so no inline function or template instantiation
// compiled for one ISA can be the copy the linker keeps for another (a fault on a CPU without it).
// What differs between the ISAs is the block below: the vector type and the register-tile shapes.
#include "isa_kernels.h"

#include <array>
#include <utility>

#include "depthwise_kernel_impl.h"
#include "fft_impl.h"
#include "finite_scan_impl.h"
#include "grouped_kernel_impl.h"
#include "spatial_kernel_impl.h"
#include "tile_kernel_impl.h"
#include "wgrad_kernel_impl.h"
#include "winograd_transform_impl.h"

namespace convkit::cpu::CONVKIT_TARGET {
namespace {

// A register tile: MR rows x NV vectors of columns.
struct TileShape {
  int mr, nv;
};

}  // namespace
}  // namespace convkit::cpu::CONVKIT_TARGET

#if defined(CONVKIT_TARGET_AVX512)
#include "simd_avx512.h"
namespace convkit::cpu::CONVKIT_TARGET {
namespace {
using Vec = Avx512;
constexpr Isa kIsa = Isa::avx512;
// 32 zmm registers: up to 28 accumulators + B vectors.
constexpr std::array<TileShape, 3> kTiles = {{{14, 2}, {8, 3}, {4, 6}}};
// grouped_gemm's widths fitting common channels per group that the dense tiles pad (16 -> 32, 80 -> 96,
// 112 -> 192).
constexpr std::array<TileShape, 3> kGroupedWidths = {{{14, 1}, {5, 5}, {4, 7}}};
constexpr int kSpatialAccumulators = 24;
}  // namespace
}  // namespace convkit::cpu::CONVKIT_TARGET
#elif defined(CONVKIT_TARGET_AVX2)
#include "simd_avx2.h"
namespace convkit::cpu::CONVKIT_TARGET {
namespace {
using Vec = Avx2;
constexpr Isa kIsa = Isa::avx2;
// 16 ymm registers: 12 accumulators + B vectors.
constexpr std::array<TileShape, 3> kTiles = {{{6, 2}, {4, 3}, {2, 6}}};
// One vector wide: 8 channels per group, which the dense tiles pad to 16.
constexpr std::array<TileShape, 1> kGroupedWidths = {{{8, 1}}};
constexpr int kSpatialAccumulators = 12;
}  // namespace
}  // namespace convkit::cpu::CONVKIT_TARGET
#elif defined(CONVKIT_TARGET_PORTABLE)
#include "simd_portable.h"
namespace convkit::cpu::CONVKIT_TARGET {
namespace {
using Vec = Portable;
constexpr Isa kIsa = Isa::portable;
// 16 xmm registers (SSE2 baseline).
constexpr std::array<TileShape, 2> kTiles = {{{4, 2}, {2, 4}}};
constexpr std::array<TileShape, 0> kGroupedWidths = {};
constexpr int kSpatialAccumulators = 12;
}  // namespace
}  // namespace convkit::cpu::CONVKIT_TARGET
#else
#error "isa_kernels.cc is compiled once per ISA with CONVKIT_TARGET_<ISA> defined (src/cpu/CMakeLists.txt)"
#endif

namespace convkit::cpu::CONVKIT_TARGET {
namespace {

// Every shape of kShapes as a gemm (packed A) and an igemm (A through row pointers) kernel, then the
// igemm kernels of kExtra.
template <const auto& kShapes, const auto& kExtra, size_t... I, size_t... E>
constexpr auto tile_table(std::index_sequence<I...>, std::index_sequence<E...>) {
  return std::array<TileKernel, 2 * sizeof...(I) + sizeof...(E)>{
      gemm_kernel<Vec, kIsa, kShapes[I].mr, kShapes[I].nv>()...,
      igemm_kernel<Vec, kIsa, kShapes[I].mr, kShapes[I].nv>()...,
      igemm_kernel<Vec, kIsa, kExtra[E].mr, kExtra[E].nv>()...};
}

constexpr std::array<TileShape, 0> kNone = {};
constexpr auto kTileKernels = tile_table<kTiles, kNone>(std::make_index_sequence<kTiles.size()>{},
                                                          std::index_sequence<>{});
constexpr auto kGroupedGemmTiles = tile_table<kTiles, kGroupedWidths>(
    std::make_index_sequence<kTiles.size()>{}, std::make_index_sequence<kGroupedWidths.size()>{});
constexpr auto kSpatialKernels = spatial_table<Vec::kLanes, kSpatialAccumulators>(kIsa);
constexpr DepthwiseKernels kDepthwise = depthwise_kernel_table<Vec, kIsa>();
constexpr GroupedKernels kGrouped = grouped_kernel_table<Vec, kIsa>();
constexpr FftKernels kFft = fft_kernel_table<kIsa>();
constexpr WgradKernels kWgrad = wgrad_kernel_table<Vec, kIsa>();

}  // namespace

const IsaKernels& kernels() {
  static constexpr IsaKernels kKernels = {
      .isa = kIsa,
      .tiles = kTileKernels,
      .grouped_gemm_tiles = kGroupedGemmTiles,
      .spatial = kSpatialKernels,
      .depthwise = &kDepthwise,
      .grouped = &kGrouped,
      .fft = &kFft,
      .winograd = kWinogradTable<Vec, kIsa>,
      .wgrad = &kWgrad,
      .all_finite = &all_finite,
  };
  return kKernels;
}

}  // namespace convkit::cpu::CONVKIT_TARGET
