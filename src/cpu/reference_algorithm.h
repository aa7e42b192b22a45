// The exact reference engine as a plan algorithm: the table's last entry, chosen when forced
// (PlanOptions::algorithm = "reference") or for weights holding NaN or Inf (create_direct, algorithm.h).
#pragma once

#include <optional>

#include "algorithm.h"

namespace convkit::cpu {

class ReferenceAlgorithm final : public Algorithm {
 public:
  ReferenceAlgorithm(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;
  // Scalar C++ in the baseline build, sums in double.
  std::string name() const override { return kernel_name("reference", Isa::portable, "double"); }
  std::string details() const override { return "exact, double accumulation; slow"; }
  std::size_t packed_bytes() const override;
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  ConvSpec spec_;
  Tensor weight_;
  std::optional<Tensor> bias_;
};

}  // namespace convkit::cpu
