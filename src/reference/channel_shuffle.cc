#include "convkit/error.h"
#include "convkit/reference.h"

namespace convkit::reference {

Tensor channel_shuffle(ConstTensorView input, int64_t groups, Layout layout) {
  if (input.rank() < 2)
    fail("channel_shuffle: input of shape ", input.shape(), " has no channel axis; expected rank >= 2");
  const int channel_axis = layout == Layout::channels_first ? 1 : input.rank() - 1;
  const int64_t channels = input.dim(channel_axis);
  if (groups < 1 || channels % groups != 0)
    fail("channel_shuffle: groups=", groups, " does not divide the ", channels, " channels of input ", input.shape());
  // Output channel i*groups + g reads input channel g*(C/groups) + i.
  const int64_t per_group = channels / groups;
  Tensor output(input.shape());
  TensorView out = output.view();
  Shape index(static_cast<size_t>(input.rank()), 0);
  if (output.numel() == 0) return output;
  do {
    Shape source = index;
    const int64_t c = index[static_cast<size_t>(channel_axis)];
    source[static_cast<size_t>(channel_axis)] = (c % groups) * per_group + c / groups;
    out[index] = input[source];
  } while (next_index(index, input.shape()));
  return output;
}

}  // namespace convkit::reference
