#include "convkit/backward.h"
#include "convkit/error.h"
#include "convkit/reference.h"

namespace convkit::reference {

Tensor channel_shuffle_backward(ConstTensorView grad_output, int64_t groups, Layout layout) {
  if (grad_output.rank() < 2)
    fail("channel_shuffle_backward: grad_output of shape ", grad_output.shape(),
         " has no channel axis; expected rank >= 2");
  const int channel_axis = layout == Layout::channels_first ? 1 : grad_output.rank() - 1;
  const int64_t channels = grad_output.dim(channel_axis);
  if (groups < 1 || channels % groups != 0)
    fail("channel_shuffle_backward: groups=", groups, " does not divide the ", channels,
         " channels of grad_output ", grad_output.shape());
  // The shuffle moves channel j*(C/g) + i to i*g + j: transposing a (g, C/g) grid. Its adjoint is its
  // inverse, the transpose of the (C/g, g) grid, which is the shuffle with C/g groups.
  return channel_shuffle(grad_output, channels / groups, layout);
}

}  // namespace convkit::reference
