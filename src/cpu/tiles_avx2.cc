// AVX2 + FMA micro-kernels (16 ymm registers: 12 accumulators + B vectors). Compiled with -mavx2 -mfma.
#include <immintrin.h>

#include "tile_kernel_impl.h"

namespace convkit::cpu {
namespace {

struct Avx2 {
  using Reg = __m256;
  static constexpr int kLanes = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm256_fmadd_ps(a, b, acc); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_partial(float* p, int64_t n, Reg v) { _mm256_maskstore_ps(p, first(n), v); }
  static Reg load_strided(const float* p, int64_t step, int64_t n) {
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(step)));
    return _mm256_mask_i32gather_ps(zero(), p, index, _mm256_castsi256_ps(first(n)), 4);
  }
};

constexpr TileKernel kKernels[] = {
    gemm_kernel<Avx2, Isa::avx2, 6, 2>(), igemm_kernel<Avx2, Isa::avx2, 6, 2>(),
    gemm_kernel<Avx2, Isa::avx2, 4, 3>(), igemm_kernel<Avx2, Isa::avx2, 4, 3>(),
    gemm_kernel<Avx2, Isa::avx2, 2, 6>(), igemm_kernel<Avx2, Isa::avx2, 2, 6>(),
};

}  // namespace

std::span<const TileKernel> avx2_tile_kernels() { return kKernels; }

}  // namespace convkit::cpu
