// Losses for training: the value (in double) and the gradient with respect to the prediction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "convkit/tensor.h"

namespace convkit {

struct Loss {
  double value = 0.0;
  Tensor grad;  // dL/d(prediction), the prediction's shape
};

// Mean squared error over every element (Keras MeanSquaredError on equal shapes):
//   L = (1/M) sum (p - t)^2,  dL/dp = 2 (p - t) / M.
Loss mean_squared_error(const Tensor& prediction, const Tensor& target);

// Softmax cross-entropy on logits (N, K) with integer labels in [0, K), averaged over the batch
// (Keras SparseCategoricalCrossentropy(from_logits=True)):
//   L = (1/N) sum_n -log softmax(z_n)[label_n],  dL/dz = (softmax(z) - onehot(label)) / N.
// The softmax subtracts the row maximum first, so large logits do not overflow.
Loss softmax_cross_entropy(const Tensor& logits, std::span<const int64_t> labels);

// The index of the largest logit of each row of (N, K).
std::vector<int64_t> argmax_rows(const Tensor& logits);

}  // namespace convkit
