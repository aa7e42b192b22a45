// Reference gradients: for every convolution reference::convolution computes, the gradient of a loss L
// with respect to its input (backward-data), weights (backward-weights) and bias, given dL/dy
// (`grad_output`, the shape of the forward output). Plain loops over the forward definition,
// accumulation in double, every ConvSpec option in both layouts; the oracle for the fast backward plans.
// The forward sum y[n,o,p] += w[o,c,q] * x[n,c,i] (i the input cell tap q of output p reads; for a
// transposed convolution the cell p that input i and tap q write) gives, term by term,
//   dL/dx[n,c,i] += w[o,c,q] * dL/dy[n,o,p],   dL/dw[o,c,q] += x[n,c,i] * dL/dy[n,o,p],   dL/db[o] += dL/dy[n,o,p].
// A padded cell that copies input cell i (reflect / replicate / circular) is such a read of i, so its
// gradient folds back onto i. With spec.flip the kernel tap q is w[k-1-q], and so is its gradient.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "convkit/composite.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::reference {

// dL/dx of shape `input_shape` (the forward input's shape).
Tensor convolution_backward_data(const ConvSpec& spec, std::span<const int64_t> input_shape, ConstTensorView weight,
                                 ConstTensorView grad_output);
// dL/dw in the layout of weight_shape(spec).
Tensor convolution_backward_weights(const ConvSpec& spec, ConstTensorView input, ConstTensorView grad_output);
// dL/db of shape bias_shape(spec): grad_output summed over batch and space (whether or not spec.bias).
Tensor convolution_backward_bias(const ConvSpec& spec, ConstTensorView grad_output);

// dL/dx of channel_shuffle(x, groups, layout). The shuffle is a permutation of channels whose inverse is
// the shuffle with C/groups groups (output channel i*g + j <- input j*(C/g) + i, read backwards).
Tensor channel_shuffle_backward(ConstTensorView grad_output, int64_t groups, Layout layout);

// Gradients of a composite (reference::run) by the chain rule, stage by stage in reverse order.
struct StageGradients {
  Tensor weight;
  std::optional<Tensor> bias;  // present when a bias was given for the stage
};
struct CompositeGradients {
  Tensor input;
  std::vector<StageGradients> stages;  // one per convolution stage, in order (as the weights of run())
};
CompositeGradients run_backward(const Composite& composite, ConstTensorView input,
                                std::span<const StageWeights> weights, ConstTensorView grad_output);

}  // namespace convkit::reference
