// Vector types for the per-ISA translation units (winograd_<isa>.cc): V::Reg, V::kLanes, zero(), set1(x),
// load(p), store(p, v), load_partial(p, n) / store_partial(p, n, v) touching only the first n < kLanes
// floats, add, sub, mul, fma(a, b, acc) = a * b + acc.
//
// The types live in an anonymous namespace on purpose: each including file is compiled with its own
// target flags, and internal linkage keeps the linker from merging an AVX-512 copy of an inline
// function into the portable code. A type is defined only when the file's flags allow it.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace convkit::cpu {
namespace {  // NOLINT(google-build-namespaces): see above

#if defined(__AVX512F__)
struct Avx512 {
  using Reg = __m512;
  static constexpr int kLanes = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static __mmask16 first(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }
  static Reg load_partial(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_partial(float* p, int64_t n, Reg v) { _mm512_mask_storeu_ps(p, first(n), v); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm512_fmadd_ps(a, b, acc); }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2 {
  using Reg = __m256;
  static constexpr int kLanes = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg load_partial(const float* p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_partial(float* p, int64_t n, Reg v) { _mm256_maskstore_ps(p, first(n), v); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm256_fmadd_ps(a, b, acc); }
};
#endif

// Plain C++ on 4-float "vectors" that the compiler maps to the baseline SIMD (SSE2 on x86-64).
struct Portable {
  static constexpr int kLanes = 4;
  struct Reg {
    float v[kLanes];
  };
  template <class F>
  static Reg each(F f) {
    Reg r;
    for (int l = 0; l < kLanes; ++l) r.v[l] = f(l);
    return r;
  }
  static Reg zero() { return {}; }
  static Reg set1(float x) { return {{x, x, x, x}}; }
  static Reg load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
  static void store(float* p, Reg v) { std::copy_n(v.v, kLanes, p); }
  static Reg load_partial(const float* p, int64_t n) {
    Reg r{};
    std::copy_n(p, n, r.v);
    return r;
  }
  static void store_partial(float* p, int64_t n, Reg v) { std::copy_n(v.v, n, p); }
  static Reg add(Reg a, Reg b) { return each([&](int l) { return a.v[l] + b.v[l]; }); }
  static Reg sub(Reg a, Reg b) { return each([&](int l) { return a.v[l] - b.v[l]; }); }
  static Reg mul(Reg a, Reg b) { return each([&](int l) { return a.v[l] * b.v[l]; }); }
  static Reg fma(Reg a, Reg b, Reg acc) { return each([&](int l) { return a.v[l] * b.v[l] + acc.v[l]; }); }
};

}  // namespace
}  // namespace convkit::cpu
