#include "kernel_recovery.h"

#include <cmath>

#include "convkit/error.h"
#include "convkit/layers.h"
#include "convkit/loss.h"
#include "convkit/optimizer.h"
#include "convkit/random.h"
#include "convkit/reference.h"

namespace convkit {

KernelRecoveryResult recover_kernel(const KernelRecoveryOptions& options) {
  const auto k = static_cast<int64_t>(options.true_kernel.size());
  if (k < 1) fail("kernel recovery: the true kernel is empty");
  for (size_t i = 0; i < options.true_kernel.size(); ++i)
    if (!std::isfinite(options.true_kernel[i]))
      fail("kernel recovery: true kernel value ", i, " is ", options.true_kernel[i], "; expected a finite number");
  if (options.steps < 0) fail("kernel recovery: steps=", options.steps, " must be >= 0");
  if (options.signals < 1 || options.length < k)
    fail("kernel recovery: signals=", options.signals, " and length=", options.length,
         " must be >= 1 and >= the kernel size ", k);
  Rng rng(options.seed);
  Tensor x({options.signals, 1, options.length});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(rng.uniform(-1.0, 1.0));

  // The hidden system: y = x * g, the signal-processing convolution (kernel reversed as it slides).
  ConvSpec truth{.rank = 1, .kernel = {k}, .flip = true};
  const Tensor y = reference::convolution(truth, x, Tensor({1, 1, k}, options.true_kernel));

  // The learner: a deep-learning convolution layer (cross-correlation) of the same size.
  ConvSpec learner_spec = truth;
  learner_spec.flip = false;
  ConvLayer layer(learner_spec, rng);
  Sgd sgd(layer.parameters(), options.learning_rate);
  KernelRecoveryResult result{options.true_kernel, {}, {}};
  for (int step = 0; step <= options.steps; ++step) {
    const Loss loss = mean_squared_error(layer.forward(x), y);
    result.loss.push_back(loss.value);
    if (!std::isfinite(loss.value))  // a diverging descent: NaN from then on, nothing learned
      fail("kernel recovery: the loss became ", loss.value, " at step ", step, " (learning rate ",
           options.learning_rate, " too large for this kernel, or a kernel too large for float)");
    if (step == options.steps) break;
    layer.backward(loss.grad);
    sgd.step();
  }
  result.learned_kernel = layer.weight().value.values();
  return result;
}

}  // namespace convkit
