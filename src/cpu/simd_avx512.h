// The AVX-512 vector type of the kernel templates (*_impl.h), for isa_kernels.cc's avx512 build:
// 16 floats, masked partial loads and stores. Include only from translation units compiled with -mavx512f.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace convkit::cpu::avx512 {

struct Avx512 {
  using Reg = __m512;
  static constexpr int kLanes = 16;
  static constexpr int kRegisters = 32;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm512_fmadd_ps(a, b, acc); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static __mmask16 first(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }
  static Reg load_partial(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_partial(float* p, int64_t n, Reg v) { _mm512_mask_storeu_ps(p, first(n), v); }
  // The even lanes of the 2 * kLanes floats a, b.
  static Reg even(Reg a, Reg b) {
    return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
  }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  // r[i] = v[index[i]] (index[i] < kLanes).
  // (the masked form: GCC 12 warns that the plain one reads an uninitialized pass-through)
  static Reg permute(Reg v, const int32_t* index) {
    return _mm512_mask_permutexvar_ps(v, 0xFFFF, _mm512_loadu_si512(index), v);
  }
  // v0 0 v1 0 ... v7 0 and v8 0 ... v15 0 (zeros, not products: a NaN or Inf stays where it was).
  static Reg interleave_zero_low(Reg v) {
    return _mm512_maskz_permutexvar_ps(0x5555, _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), v);
  }
  static Reg interleave_zero_high(Reg v) {
    return _mm512_maskz_permutexvar_ps(0x5555, _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15),
                                       v);
  }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  // p[0], p[step], ..., p[(n - 1) * step], the other lanes zero (n <= kLanes).
  static Reg load_strided(const float* p, int64_t step, int64_t n) {
    const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32(static_cast<int>(step)));
    return _mm512_mask_i32gather_ps(zero(), first(n), index, p, 4);
  }
};

}  // namespace convkit::cpu::avx512
