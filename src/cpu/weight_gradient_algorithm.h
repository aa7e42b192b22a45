// The weight-gradient algorithms behind one interface, and the ordered table BackwardWeightsPlan chooses
// from (as ConvPlan does from algorithms(): the first entry that can compute the spec and does not step
// aside; PlanOptions::algorithm forces one by name, then only `cannot` counts).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "isa.h"

namespace convkit::cpu {

// dL/dw of one spec, and dL/db (dy summed over batch and pixels) where the algorithm sums it in its own pass
// over dy (sums_bias); the plan sums dy for the others.
class WeightGradientAlgorithm {
 public:
  virtual ~WeightGradientAlgorithm() = default;
  // `input` and `grad_output` contiguous in the spec's layout, shapes checked by the plan; `grad_weight`
  // contiguous weight_shape(spec); `grad_bias` null, or (sums_bias() only) out_channels floats. The
  // result must not depend on `threads`.
  virtual void run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, float* grad_bias,
                   int threads) const = 0;
  // Whether run() computes the bias gradient too, from the dy vectors its kernels load anyway (a bias
  // sum of its own reads dy from memory once more: a third of the traffic of a depthwise layer).
  virtual bool sums_bias() const { return false; }
  // The kernel, e.g. "gemm.avx512.14x32-indirect" (family.isa.tile: isa.h kernel_name).
  virtual std::string name() const = 0;
  // One line for BackwardWeightsPlan::explain: what it does for this spec.
  virtual std::string details() const = 0;
  virtual std::size_t workspace_bytes(const Shape& input_shape, int threads) const = 0;
};

struct WeightGradientEntry {
  std::string_view name;  // what PlanOptions::algorithm names
  std::string (*cannot)(const ConvSpec& spec);       // empty when it computes `spec`, otherwise why not
  std::string (*prefers_not)(const ConvSpec& spec);  // empty when the plan should choose it; forcing ignores it
  std::unique_ptr<WeightGradientAlgorithm> (*create)(const ConvSpec& spec, Isa isa);
};

// Every weight-gradient algorithm, in order of preference; the last one (gemm) computes every spec.
std::span<const WeightGradientEntry> weight_gradient_algorithms();

}  // namespace convkit::cpu
