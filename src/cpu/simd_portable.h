// The portable vector type of the kernel templates (*_impl.h), for isa_kernels.cc's portable build:
// 4 floats in plain C++ that the compiler maps to the baseline SIMD (SSE2 on x86-64).
#pragma once

#include <algorithm>
#include <cstdint>

namespace convkit::cpu::portable {

struct Portable {
  static constexpr int kLanes = 4;
  static constexpr int kRegisters = 16;
  struct Reg {
    float v[kLanes];
  };
  static Reg zero() { return {}; }
  static Reg set1(float x) { return {{x, x, x, x}}; }
  static Reg load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
  static Reg fma(Reg a, Reg b, Reg acc) {
    for (int l = 0; l < kLanes; ++l) acc.v[l] += a.v[l] * b.v[l];
    return acc;
  }
  static void store(float* p, Reg v) { std::copy_n(v.v, kLanes, p); }
  static Reg load_partial(const float* p, int64_t n) {
    Reg r{};
    std::copy_n(p, n, r.v);
    return r;
  }
  static void store_partial(float* p, int64_t n, Reg v) { std::copy_n(v.v, n, p); }
  static Reg even(Reg a, Reg b) { return {{a.v[0], a.v[2], b.v[0], b.v[2]}}; }
  static Reg add(Reg a, Reg b) {
    for (int l = 0; l < kLanes; ++l) a.v[l] += b.v[l];
    return a;
  }
  static Reg permute(Reg v, const int32_t* index) { return {{v.v[index[0]], v.v[index[1]], v.v[index[2]], v.v[index[3]]}}; }
  static Reg interleave_zero_low(Reg v) { return {{v.v[0], 0.0f, v.v[1], 0.0f}}; }
  static Reg interleave_zero_high(Reg v) { return {{v.v[2], 0.0f, v.v[3], 0.0f}}; }
  static Reg broadcast(const float* p) { return set1(*p); }
  static Reg sub(Reg a, Reg b) {
    for (int l = 0; l < kLanes; ++l) a.v[l] -= b.v[l];
    return a;
  }
  static Reg mul(Reg a, Reg b) {
    for (int l = 0; l < kLanes; ++l) a.v[l] *= b.v[l];
    return a;
  }
  static Reg load_strided(const float* p, int64_t step, int64_t n) {
    Reg r{};
    for (int64_t l = 0; l < n; ++l) r.v[l] = p[l * step];
    return r;
  }
};

}  // namespace convkit::cpu::portable
