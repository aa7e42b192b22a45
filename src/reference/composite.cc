#include "convkit/composite.h"
#include "convkit/error.h"
#include "convkit/reference.h"

namespace convkit::reference {

Tensor run(const Composite& composite, ConstTensorView input, std::span<const StageWeights> weights) {
  const size_t conv_count = conv_stages(composite).size();
  if (weights.size() != conv_count)
    fail(composite.kind, ": got weights for ", weights.size(), " stages; expected ", conv_count,
         " (one per convolution stage)");
  Tensor current = Tensor::copy_of(input);
  size_t next_weight = 0;
  for (const Stage& stage : composite.stages) {
    if (stage.is_shuffle()) {
      current = channel_shuffle(current, stage.shuffle_groups, composite.stages.front().conv.layout);
    } else {
      const StageWeights& w = weights[next_weight++];
      current = convolution(stage.conv, current, w.weight, w.bias);
    }
  }
  return current;
}

}  // namespace convkit::reference
