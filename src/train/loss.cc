#include "convkit/loss.h"

#include <algorithm>
#include <cmath>

#include "convkit/error.h"

namespace convkit {

Loss mean_squared_error(const Tensor& prediction, const Tensor& target) {
  if (prediction.shape() != target.shape())
    fail("mean_squared_error: prediction of shape ", prediction.shape(), " and target of shape ", target.shape(),
         " differ");
  if (prediction.numel() == 0) fail("mean_squared_error: prediction of shape ", prediction.shape(), " is empty");
  const auto count = static_cast<double>(prediction.numel());
  Loss loss{0.0, Tensor(prediction.shape())};
  for (int64_t i = 0; i < prediction.numel(); ++i) {
    const double error = static_cast<double>(prediction[i]) - target[i];
    loss.value += error * error / count;
    loss.grad[i] = static_cast<float>(2.0 * error / count);
  }
  return loss;
}

namespace {
void check_logits(const char* op, const Tensor& logits) {
  if (logits.rank() != 2 || logits.dim(0) < 1 || logits.dim(1) < 1)
    fail(op, ": logits of shape ", logits.shape(), " must be (N, K) with N, K >= 1");
}
}  // namespace

Loss softmax_cross_entropy(const Tensor& logits, std::span<const int64_t> labels) {
  check_logits("softmax_cross_entropy", logits);
  const int64_t batch = logits.dim(0), classes = logits.dim(1);
  if (static_cast<int64_t>(labels.size()) != batch)
    fail("softmax_cross_entropy: got ", labels.size(), " labels for logits of shape ", logits.shape());
  Loss loss{0.0, Tensor(logits.shape())};
  for (int64_t n = 0; n < batch; ++n) {
    const int64_t label = labels[static_cast<size_t>(n)];
    if (label < 0 || label >= classes)
      fail("softmax_cross_entropy: label ", label, " at index ", n, " is outside [0, ", classes, ")");
    const float* z = logits.data() + n * classes;
    double max = z[0], sum = 0.0;
    for (int64_t k = 1; k < classes; ++k) max = std::max(max, static_cast<double>(z[k]));
    for (int64_t k = 0; k < classes; ++k) sum += std::exp(z[k] - max);
    loss.value += (std::log(sum) - (z[label] - max)) / static_cast<double>(batch);
    for (int64_t k = 0; k < classes; ++k) {
      const double p = std::exp(z[k] - max) / sum;
      loss.grad[n * classes + k] = static_cast<float>((p - (k == label ? 1.0 : 0.0)) / static_cast<double>(batch));
    }
  }
  return loss;
}

std::vector<int64_t> argmax_rows(const Tensor& logits) {
  check_logits("argmax_rows", logits);
  std::vector<int64_t> best(static_cast<size_t>(logits.dim(0)), 0);
  for (int64_t n = 0; n < logits.dim(0); ++n)
    for (int64_t k = 1; k < logits.dim(1); ++k)
      if (logits[n * logits.dim(1) + k] > logits[n * logits.dim(1) + best[static_cast<size_t>(n)]])
        best[static_cast<size_t>(n)] = k;
  return best;
}

}  // namespace convkit
