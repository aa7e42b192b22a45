// The table BackwardWeightsPlan chooses from, in order of preference (see weight_gradient_algorithm.h).
#include "weight_gradient.h"
#include "weight_gradient_algorithm.h"

namespace convkit::cpu {
namespace {

std::string always(const ConvSpec&) { return {}; }

template <class A>
std::unique_ptr<WeightGradientAlgorithm> create(const ConvSpec& spec, Isa isa) {
  return std::make_unique<A>(spec, isa);
}

}  // namespace

std::span<const WeightGradientEntry> weight_gradient_algorithms() {
  static const WeightGradientEntry table[] = {
      {"gemm", &always, &always, &create<WeightGradient>},
  };
  return table;
}

}  // namespace convkit::cpu
