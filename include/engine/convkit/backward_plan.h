// Backward plans: the fast gradients of a convolution, built like ConvPlan (describe once, create,
// run many times; `run` is const and safe from several threads; results identical for every thread count).
// They compute what convkit/backward.h's reference functions compute (see there for the formulas).
//
//   BackwardDataPlan:    dL/dx from dL/dy. The gradient with respect to the input of a convolution C is
//                        C^T dy, the transposed convolution with the same weights (and that of a
//                        transposed convolution is the convolution), so it runs ConvPlans of the adjoint
//                        and inherits the forward engine's algorithms: stride 1, the convolution with the
//                        kernel reversed; stride s, one stride-1 convolution per output phase (the input
//                        cells i with (i + pad) % s == r, written every s-th cell), or the transposed
//                        plan where the phases would all run on gemm; strided depthwise layers run a
//                        direct kernel instead, each dx row once from the dy rows its taps reach
//                        (src/cpu/depthwise_backward.h). The adjoint depends on the input
//                        size ('same' pads, the exact input size), so one is made per input spatial size
//                        and kept.
//   BackwardWeightsPlan: dL/dw (and dL/db) from x and dL/dy, by the first algorithm of an ordered table
//                        that computes the spec and does not step aside (src/cpu/weight_gradient_algorithms.cc;
//                        `explain()` says why each declined); `gemm`, a GEMM over packed tiles whose reduction
//                        over batch and space runs inside one micro-kernel call per output tile, computes all.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "convkit/conv.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

class BackwardDataPlan {
 public:
  // Validates spec and weight shape (as ConvPlan does). options.algorithm forces the adjoint plan's algorithm
  // ("depthwise.<isa>": the direct strided depthwise kernel on that ISA, where it applies).
  BackwardDataPlan(const ConvSpec& spec, ConstTensorView weight, PlanOptions options = {});
  ~BackwardDataPlan();
  BackwardDataPlan(BackwardDataPlan&&) noexcept;
  BackwardDataPlan& operator=(BackwardDataPlan&&) noexcept;

  // dL/dx of shape `input_shape` (the forward input's) from grad_output (the forward output's shape).
  Tensor run(ConstTensorView grad_output, std::span<const int64_t> input_shape) const;
  // The same into a caller-provided view (any strides) of the forward input's shape.
  void run(ConstTensorView grad_output, TensorView grad_input) const;

  const ConvSpec& spec() const;
  // How an input of this shape is computed, e.g. "adjoint conv (stride 1, kernel flipped): gemm.avx512.14x32"
  // or "adjoint phases (stride 2x2: 4 stride-1 convs): spatial.avx512.3x8".
  std::string algorithm(std::span<const int64_t> input_shape) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// dL/db of the convolution `spec` from dL/dy (any strides, rank + 2 dimensions): per output channel the sum
// over batch and space, in double, in an order fixed by the shapes (as BackwardWeightsPlan computes it).
void conv_backward_bias(const ConvSpec& spec, ConstTensorView grad_output, TensorView grad_bias);

struct WeightGradients {
  Tensor weight;               // in the layout of weight_shape(spec)
  std::optional<Tensor> bias;  // bias_shape(spec), when spec.bias
};

class BackwardWeightsPlan {
 public:
  // options.algorithm forces an algorithm by name (an error when unknown or when it cannot compute the spec).
  explicit BackwardWeightsPlan(const ConvSpec& spec, PlanOptions options = {});
  ~BackwardWeightsPlan();
  BackwardWeightsPlan(BackwardWeightsPlan&&) noexcept;
  BackwardWeightsPlan& operator=(BackwardWeightsPlan&&) noexcept;

  // dL/dw (and dL/db when spec.bias) from the forward input and grad_output.
  WeightGradients run(ConstTensorView input, ConstTensorView grad_output) const;
  // The same into caller-provided views (any strides); grad_bias only when spec.bias.
  void run(ConstTensorView input, ConstTensorView grad_output, TensorView grad_weight,
           std::optional<TensorView> grad_bias = std::nullopt) const;

  const ConvSpec& spec() const;
  // The chosen kernel, e.g. "gemm.avx512.14x32-indirect" (family.isa.tile; family = the table entry).
  std::string algorithm() const;
  // One line per candidate algorithm: the chosen one and why the others declined.
  std::string explain() const;
  // The extra memory one run needs.
  std::size_t workspace_bytes(std::span<const int64_t> input_shape) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convkit
