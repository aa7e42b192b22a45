#include <vector>

#include "convkit/backward.h"
#include "convkit/composite.h"
#include "convkit/error.h"
#include "convkit/reference.h"

namespace convkit::reference {

// The chain rule through the stages: run forward keeping every stage's input, then walk back, each
// convolution stage turning dL/d(its output) into dL/d(its input) and the gradients of its weights.
CompositeGradients run_backward(const Composite& composite, ConstTensorView input,
                                std::span<const StageWeights> weights, ConstTensorView grad_output) {
  const size_t conv_count = conv_stages(composite).size();
  if (weights.size() != conv_count)
    fail(composite.kind, " backward: got weights for ", weights.size(), " stages; expected ", conv_count,
         " (one per convolution stage)");
  const Layout layout = composite.stages.front().conv.layout;
  std::vector<Tensor> stage_inputs{Tensor::copy_of(input)};
  size_t next_weight = 0;
  for (const Stage& stage : composite.stages) {
    const Tensor& x = stage_inputs.back();
    if (stage.is_shuffle()) {
      stage_inputs.push_back(channel_shuffle(x, stage.shuffle_groups, layout));
    } else {
      const StageWeights& w = weights[next_weight++];
      stage_inputs.push_back(convolution(stage.conv, x, w.weight, w.bias));
    }
  }
  if (grad_output.shape() != stage_inputs.back().shape())
    fail(composite.kind, " backward: grad_output of shape ", grad_output.shape(),
         " does not match the output shape ", stage_inputs.back().shape());

  CompositeGradients result{Tensor::copy_of(grad_output), std::vector<StageGradients>(conv_count)};
  Tensor& grad = result.input;  // dL/d(output of the current stage), becoming dL/d(its input)
  for (size_t s = composite.stages.size(); s-- > 0;) {
    const Stage& stage = composite.stages[s];
    const Tensor& x = stage_inputs[s];
    if (stage.is_shuffle()) {
      grad = channel_shuffle_backward(grad, stage.shuffle_groups, layout);
      continue;
    }
    StageGradients& g = result.stages[--next_weight];
    g.weight = convolution_backward_weights(stage.conv, x, grad);
    if (weights[next_weight].bias) g.bias = convolution_backward_bias(stage.conv, grad);  // run() adds any bias given
    grad = convolution_backward_data(stage.conv, x.shape(), weights[next_weight].weight, grad);
  }
  return result;
}

}  // namespace convkit::reference
