// AVX-512 micro-kernels (32 zmm registers: up to 28 accumulators + B vectors). Compiled with -mavx512f.
#include <immintrin.h>

#include "tile_kernel_impl.h"

namespace convkit::cpu {
namespace {

struct Avx512 {
  using Reg = __m512;
  static constexpr int kLanes = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm512_fmadd_ps(a, b, acc); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static __mmask16 first(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }  // n <= 16
  static Reg load_partial(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_partial(float* p, int64_t n, Reg v) { _mm512_mask_storeu_ps(p, first(n), v); }
  static Reg load_strided(const float* p, int64_t step, int64_t n) {
    const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int>(step)));
    return _mm512_mask_i32gather_ps(zero(), first(n), index, p, 4);
  }
};

constexpr TileKernel kKernels[] = {
    gemm_kernel<Avx512, Isa::avx512, 14, 2>(),  igemm_kernel<Avx512, Isa::avx512, 14, 2>(),
    gemm_kernel<Avx512, Isa::avx512, 8, 3>(),   igemm_kernel<Avx512, Isa::avx512, 8, 3>(),
    gemm_kernel<Avx512, Isa::avx512, 4, 6>(),   igemm_kernel<Avx512, Isa::avx512, 4, 6>(),
};

}  // namespace

std::span<const TileKernel> avx512_tile_kernels() { return kKernels; }

}  // namespace convkit::cpu
