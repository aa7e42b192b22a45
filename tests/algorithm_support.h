// Helpers for the tests of the CPU algorithms (src/cpu/*_convolution.h): each is built from
// (spec, weight, bias, isa, extras...) and runs with run(input, output, threads).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "../src/cpu/isa.h"
#include "test_support.h"

namespace convkit::testing {

// Byte-for-byte equal: a thread count must not change a single bit of a result.
inline bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

// Runs `problem` through Algorithm built for `isa` (constructor arguments after the ISA in `extra`) on
// `threads` threads into a NaN-filled output, so an output the algorithm does not write shows.
template <class Algorithm, class... Extra>
Tensor run_algorithm(const Problem& problem, const ProblemData& data, cpu::Isa isa, int threads, Extra... extra) {
  const Algorithm conv(problem.spec, data.weight.view(), data.bias.numel() ? data.bias.data() : nullptr, isa, extra...);
  Tensor out(output_shape(problem.spec, problem.input_shape), std::numeric_limits<float>::quiet_NaN());
  conv.run(data.input.view(), out.data(), threads);
  return out;
}

// On every ISA this CPU runs, Algorithm on `threads_a` threads is within `tolerance` of `expected` (0:
// exactly equal, for integer data, whose float sums are exact in any order) and on `threads_b` threads
// bit-identical to that.
template <class Algorithm, class... Extra>
::testing::AssertionResult matches_on_every_isa(const Problem& problem, const ProblemData& data, const Tensor& expected,
                                                double tolerance, int threads_a = 1, int threads_b = 2,
                                                Extra... extra) {
  for (cpu::Isa isa : cpu::supported_isas()) {
    const Tensor a = run_algorithm<Algorithm>(problem, data, isa, threads_a, extra...);
    if (const double difference = max_abs_difference(a, expected); difference > tolerance)
      return ::testing::AssertionFailure()
             << to_string(isa) << ", " << threads_a << " thread(s): differs from the "
             << "reference by " << difference << " > " << tolerance << ": " << problem.describe();
    if (!bit_identical(a, run_algorithm<Algorithm>(problem, data, isa, threads_b, extra...)))
      return ::testing::AssertionFailure() << to_string(isa) << ": " << threads_a << " and " << threads_b
                                           << " threads differ: " << problem.describe();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace convkit::testing
