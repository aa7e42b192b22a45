// The table BackwardWeightsPlan chooses from, in order of preference (see weight_gradient_algorithm.h).
#include "weight_gradient.h"
#include "weight_gradient_algorithm.h"
#include "weight_gradient_direct.h"

namespace convkit::cpu {
namespace {

std::string always(const ConvSpec&) { return {}; }

template <class A>
std::unique_ptr<WeightGradientAlgorithm> create(const ConvSpec& spec, Isa isa) {
  return std::make_unique<A>(spec, isa);
}

// channels_last: the channels in the vector lanes; channels_first: along W over staged rows (one
// input and one output channel per group).
std::unique_ptr<WeightGradientAlgorithm> create_depthwise(const ConvSpec& spec, Isa isa) {
  if (spec.layout == Layout::channels_last) return create<ChannelVectorWeightGradient>(spec, isa);
  return create<RowWeightGradient>(spec, isa);
}

}  // namespace

std::span<const WeightGradientEntry> weight_gradient_algorithms() {
  static const WeightGradientEntry table[] = {
      {"depthwise", &ChannelVectorWeightGradient::cannot, &always, &create_depthwise},
      {"gemm", &always, &always, &create<WeightGradient>},
  };
  return table;
}

}  // namespace convkit::cpu
