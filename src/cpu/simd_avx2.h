// The AVX2 + FMA vector type of the kernel templates (*_impl.h), for isa_kernels.cc's avx2 build:
// 8 floats, masked partial loads and stores. Include only from translation units compiled with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace convkit::cpu::avx2 {

struct Avx2 {
  using Reg = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kRegisters = 16;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float v) { return _mm256_set1_ps(v); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm256_fmadd_ps(a, b, acc); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_partial(float* p, int64_t n, Reg v) { _mm256_maskstore_ps(p, first(n), v); }
  // The even lanes of the 2 * kLanes floats a, b: a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs reordered.
  static Reg even(Reg a, Reg b) {
    const Reg pairs = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  // r[i] = v[index[i]] (index[i] < kLanes).
  static Reg permute(Reg v, const int32_t* index) {
    return _mm256_permutevar8x32_ps(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index)));
  }
  // v0 0 v1 0 v2 0 v3 0 and v4 0 ... v7 0: unpack per 128-bit half, then the halves reordered.
  static Reg interleave_zero_low(Reg v) {
    const Reg zero = _mm256_setzero_ps();
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(v, zero), _mm256_unpackhi_ps(v, zero), 0x20);
  }
  static Reg interleave_zero_high(Reg v) {
    const Reg zero = _mm256_setzero_ps();
    return _mm256_permute2f128_ps(_mm256_unpacklo_ps(v, zero), _mm256_unpackhi_ps(v, zero), 0x31);
  }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  // p[0], p[step], ..., p[(n - 1) * step], the other lanes zero (n <= kLanes).
  static Reg load_strided(const float* p, int64_t step, int64_t n) {
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(step)));
    return _mm256_mask_i32gather_ps(zero(), p, index, _mm256_castsi256_ps(first(n)), 4);
  }
};

}  // namespace convkit::cpu::avx2
