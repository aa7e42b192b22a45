// The engine on the CPU it runs on: every entry of the algorithm table on every ISA this CPU has (or
// CONVKIT_ISA allows) against the reference, on random problems the entry accepts; and the ISAs found,
// when the run says which to expect (the emulated-CPU runs of tests/CMakeLists.txt set
// CONVKIT_EXPECT_ISAS: `qemu-x86_64 -cpu Haswell` must find "avx2,portable", `-cpu Nehalem` "portable").
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "../src/cpu/algorithm.h"
#include "../src/cpu/isa.h"
#include "convkit/reference.h"
#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;

std::string joined_isas() {
  std::string list;
  for (cpu::Isa isa : cpu::supported_isas()) {
    if (!list.empty()) list += ',';
    list += cpu::to_string(isa);
  }
  return list;
}

TEST(Isas, AreTheOnesTheRunExpects) {
  const char* expected = std::getenv("CONVKIT_EXPECT_ISAS");
  if (!expected) GTEST_SKIP() << "CONVKIT_EXPECT_ISAS is not set; this CPU runs " << joined_isas();
  EXPECT_EQ(joined_isas(), expected);
}

// Draws random problems (every option, both layouts, edge sizes, and larger ones so that the
// algorithms for many channels or long kernels get some) until `entry` accepts `count` of them.
std::vector<testing::Problem> problems_for(const cpu::AlgorithmEntry& entry, int count, std::mt19937& rng) {
  std::vector<testing::Problem> accepted;
  const testing::ProblemOptions small, large{.rank = 0, .max_channels = 40, .max_spatial = 24};
  for (int attempt = 0; attempt < 20000 && static_cast<int>(accepted.size()) < count; ++attempt) {
    testing::Problem p = testing::random_problem(rng, attempt % 2 ? large : small);
    if (entry.cannot(p.spec).empty()) accepted.push_back(std::move(p));
  }
  return accepted;
}

TEST(EveryAlgorithm, MatchesTheReferenceOnEveryIsaOfThisCpu) {
  std::mt19937 rng(kSeed);
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
    const std::vector<testing::Problem> problems = problems_for(entry, 12, rng);
    EXPECT_FALSE(problems.empty()) << entry.name << " accepts none of the random problems";
    for (const testing::Problem& p : problems) {
      const testing::ProblemData d = testing::random_data(p, rng);
      const Tensor expected = reference::convolution(p.spec, d.input.view(), d.weight.view(), d.bias_view());
      // Winograd's and the FFT's transforms round differently from a direct sum: relative 1e-4.
      const double tolerance = 1e-4 * std::max(1.0, testing::max_abs(expected));
      for (cpu::Isa isa : cpu::supported_isas()) {
        const auto algorithm = entry.create(p.spec, d.weight.view(), p.spec.bias ? d.bias.data() : nullptr, isa);
        Tensor out(output_shape(p.spec, p.input_shape), std::numeric_limits<float>::quiet_NaN());
        algorithm->run(d.input.view(), out.data(), 2);
        EXPECT_LE(testing::max_abs_difference(out, expected), tolerance)
            << entry.name << " as " << algorithm->name() << " on " << cpu::to_string(isa) << ": " << p.describe()
            << " (seed " << kSeed << ")";
      }
    }
  }
}

}  // namespace
}  // namespace convkit
