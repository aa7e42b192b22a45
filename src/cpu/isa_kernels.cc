// One ISA's kernel registry (isa_kernels.h). The build compiles this file once per ISA
// (src/cpu/CMakeLists.txt), with CONVKIT_TARGET = portable, avx2 or avx512, CONVKIT_TARGET_<ISA> = 1 and
// that ISA's flags, as Highway's foreach_target does: everything here and in the *_impl.h templates is
// defined in namespace convkit::cpu::CONVKIT_TARGET, so no inline function or template instantiation
// compiled for one ISA can be the copy the linker keeps for another (a fault on a CPU without it).
// What differs between the ISAs is one block below: the vector type and the register-tile shapes.
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

#if defined(CONVKIT_TARGET_AVX512)
#include "simd_avx512.h"
#elif defined(CONVKIT_TARGET_AVX2)
#include "simd_avx2.h"
#elif defined(CONVKIT_TARGET_PORTABLE)
#include "simd_portable.h"
#else
#error "isa_kernels.cc is compiled once per ISA with CONVKIT_TARGET_<ISA> defined (src/cpu/CMakeLists.txt)"
#endif

namespace convkit::cpu::CONVKIT_TARGET {
namespace {

// A register tile: MR rows x NV vectors of columns.
struct TileShape {
  int mr, nv;
};

// Each ISA's vector type and register tiles (kGroupedWidths: grouped_gemm's widths for common channels
// per group that the dense tiles pad), sized for its register file: accumulators + one row of B vectors +
// one broadcast <= the registers (7x64 on AVX-512 would be 33 and spill an accumulator every step; 3x32 on
// AVX2 17). AVX-512's 6x64 needs as few operand loads per FMA as 4x96 and pads 64 or 128 output channels
// less: the channels_last GEMM takes it there (tile_kernel.h TileTies::fewest_loads).
#if defined(CONVKIT_TARGET_AVX512)
using Vec = Avx512;  // 32 zmm: up to 28 accumulators; widths for 16 -> 32, 80 -> 96, 112 -> 192 channels
constexpr auto kTiles = std::to_array<TileShape>({{14, 2}, {8, 3}, {4, 6}, {6, 4}});
constexpr auto kGroupedWidths = std::to_array<TileShape>({{14, 1}, {5, 5}, {4, 7}});
#elif defined(CONVKIT_TARGET_AVX2)
using Vec = Avx2;  // 16 ymm: 12 accumulators; one vector wide for 8 channels per group (padded to 16)
constexpr auto kTiles = std::to_array<TileShape>({{6, 2}, {4, 3}, {2, 6}});
constexpr auto kGroupedWidths = std::to_array<TileShape>({{8, 1}});
#else
using Vec = Portable;  // 16 xmm (SSE2 baseline)
constexpr auto kTiles = std::to_array<TileShape>({{4, 2}, {2, 4}});
constexpr std::array<TileShape, 0> kGroupedWidths = {};
#endif
constexpr Isa kIsa = Isa::CONVKIT_TARGET;
constexpr int kSpatialAccumulators = Vec::kRegisters * 3 / 4;  // the rest: weights and the input vector

}  // namespace
}  // namespace convkit::cpu::CONVKIT_TARGET

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
