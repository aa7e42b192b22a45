// A seeded random source that gives the same numbers with every compiler and standard library (the
// std:: distributions are implementation-defined), so training runs and synthetic data replay exactly.
#pragma once

#include <cstdint>
#include <random>

namespace convkit {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) from the top 53 bits of one 64-bit draw.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Standard normal by the Box-Muller transform: sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1].
  double normal();
  // Uniform integer in [0, n), n >= 1.
  int64_t index(int64_t n) { return static_cast<int64_t>(uniform() * static_cast<double>(n)); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace convkit
