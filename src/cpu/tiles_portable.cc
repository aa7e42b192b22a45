// Portable micro-kernels: plain C++ on 4-float "vectors" that the compiler maps to whatever SIMD the
// baseline target has (SSE2 on x86-64). The fallback when no better ISA is available.
#include "tile_kernel_impl.h"

namespace convkit::cpu {
namespace {

struct Portable {
  static constexpr int kLanes = 4;
  struct Reg {
    float v[kLanes];
  };
  static Reg zero() { return {}; }
  static Reg load(const float* p) { return {{p[0], p[1], p[2], p[3]}}; }
  static Reg broadcast(const float* p) { return {{*p, *p, *p, *p}}; }
  static Reg fma(Reg a, Reg b, Reg acc) {
    for (int l = 0; l < kLanes; ++l) acc.v[l] += a.v[l] * b.v[l];
    return acc;
  }
  static Reg add(Reg a, Reg b) {
    for (int l = 0; l < kLanes; ++l) a.v[l] += b.v[l];
    return a;
  }
  static void store(float* p, Reg v) { std::copy_n(v.v, kLanes, p); }
  static Reg load_partial(const float* p, int64_t n) {
    Reg r{};
    std::copy_n(p, n, r.v);
    return r;
  }
  static void store_partial(float* p, int64_t n, Reg v) { std::copy_n(v.v, n, p); }
  static Reg load_strided(const float* p, int64_t step, int64_t n) {
    Reg r{};
    for (int64_t l = 0; l < n; ++l) r.v[l] = p[l * step];
    return r;
  }
};

constexpr TileKernel kKernels[] = {
    gemm_kernel<Portable, Isa::portable, 4, 2>(), igemm_kernel<Portable, Isa::portable, 4, 2>(),
    gemm_kernel<Portable, Isa::portable, 2, 4>(), igemm_kernel<Portable, Isa::portable, 2, 4>(),
};

}  // namespace

std::span<const TileKernel> portable_tile_kernels() { return kKernels; }

}  // namespace convkit::cpu
