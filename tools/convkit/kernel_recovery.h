// Seed 002's claim, demonstrated: deep learning's "convolution" is cross-correlation, so a layer trained
// to reproduce a true (signal-processing) convolution with kernel g learns g reversed. Random signals go
// through the hidden true convolution (ConvSpec::flip); a cross-correlation layer starting from Keras'
// glorot_uniform is fitted to the outputs by plain gradient descent on the mean squared error.
#pragma once

#include <cstdint>
#include <vector>

namespace convkit {

struct KernelRecoveryOptions {
  std::vector<float> true_kernel{1.0f, -2.0f, 3.0f, 0.5f};  // asymmetric, so the reversal shows
  int steps = 50;
  double learning_rate = 0.5;  // the loss is quadratic with Hessian about (2/3) I for these signals
  uint64_t seed = 2;
  int64_t signals = 8;
  int64_t length = 64;
};

struct KernelRecoveryResult {
  std::vector<float> true_kernel;
  std::vector<float> learned_kernel;
  std::vector<double> loss;  // before each step, then after the last: steps + 1 values
};

KernelRecoveryResult recover_kernel(const KernelRecoveryOptions& options);

}  // namespace convkit
