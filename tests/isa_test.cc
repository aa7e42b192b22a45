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
#include "../src/cpu/weight_gradient_algorithm.h"
#include "../src/cpu/isa.h"
#include "convkit/backward_plan.h"
#include "convkit/conv.h"
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

// The kernel-name grammar family.isa.tile (src/cpu/isa.h): the family is the table entry, the ISA the
// one whose kernels run (the reference is baseline scalar code: portable).
void expect_kernel_name(const std::string& name, std::string_view family, cpu::Isa isa) {
  const std::string prefix = std::string(family) + "." +
                             std::string(cpu::to_string(family == "reference" ? cpu::Isa::portable : isa)) + ".";
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name << " is not " << prefix << "tile";
  EXPECT_GT(name.size(), prefix.size()) << name << " has no tile";
  EXPECT_EQ(name.find('.', prefix.size()), std::string::npos) << name << ": a tile holds no '.'";
}

// Forcing family.isa reads back that family's kernel on that ISA, and forcing the name read back
// makes the same plan again: the name you force is the name you read.
TEST(EveryAlgorithm, TheNameItReportsForcesItAgainOnEveryIsa) {
  std::mt19937 rng(kSeed + 1);
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms())
    for (const testing::Problem& p : problems_for(entry, 3, rng)) {
      const testing::ProblemData d = testing::random_data(p, rng);
      for (cpu::Isa isa : cpu::supported_isas()) {
        const std::string family_on_isa = std::string(entry.name) + "." + std::string(cpu::to_string(isa));
        const ConvPlan plan(p.spec, d.weight.view(), d.bias_view(), {.algorithm = family_on_isa});
        expect_kernel_name(plan.algorithm(), entry.name, isa);
        const ConvPlan again(p.spec, d.weight.view(), d.bias_view(), {.algorithm = plan.algorithm()});
        EXPECT_EQ(again.algorithm(), plan.algorithm()) << p.describe();
      }
    }
}

TEST(EveryAlgorithm, OfTheWeightGradientTooTheNameItReportsForcesItAgain) {
  std::mt19937 rng(kSeed + 2);
  const testing::ProblemOptions options{.allow_transposed = true};
  for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms()) {
    int found = 0;
    for (int attempt = 0; attempt < 2000 && found < 3; ++attempt) {
      const testing::Problem p = testing::random_problem(rng, options);
      if (!entry.cannot(p.spec).empty()) continue;
      ++found;
      for (cpu::Isa isa : cpu::supported_isas()) {
        const std::string family_on_isa = std::string(entry.name) + "." + std::string(cpu::to_string(isa));
        const BackwardWeightsPlan plan(p.spec, {.algorithm = family_on_isa});
        expect_kernel_name(plan.algorithm(), entry.name, isa);
        EXPECT_EQ(BackwardWeightsPlan(p.spec, {.algorithm = plan.algorithm()}).algorithm(), plan.algorithm());
      }
    }
    EXPECT_EQ(found, 3) << entry.name << " accepts too few random problems";
  }
}

TEST(EveryAlgorithm, ARequestedKernelThatCannotRunIsAClearError) {
  const ConvSpec spec{.rank = 2, .in_channels = 16, .out_channels = 16, .kernel = {3}};
  const Tensor weight(weight_shape(spec), 1.0f);
  testing::expect_error([&] { ConvPlan(spec, weight, std::nullopt, {.algorithm = "gemm.sse9"}); },
                        {"PlanOptions.algorithm=gemm.sse9: the ISA 'sse9' is not one this CPU runs"});
  testing::expect_error([&] { ConvPlan(spec, weight, std::nullopt, {.algorithm = "gemm.portable.99x99"}); },
                        {"PlanOptions.algorithm=gemm.portable.99x99: for ", "gemm on portable runs gemm.portable."});
  testing::expect_error([&] { ConvPlan(spec, weight, std::nullopt, {.algorithm = "gemmm"}); },
                        {"PlanOptions.algorithm=gemmm: 'gemmm' is not one of: fft, depthwise"});
}

}  // namespace
}  // namespace convkit
