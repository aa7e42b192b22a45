#include "activity.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <numbers>

#include "convkit/error.h"
#include "convkit/loss.h"
#include "convkit/optimizer.h"

namespace convkit {
namespace {

constexpr double kSampleRate = 50.0;  // Hz
constexpr int64_t kAxes = 3;

// Periodic body motion of one activity: (forward, lateral, vertical) acceleration in g at time t.
struct Motion {
  double frequency = 0.0, amplitude = 0.0;  // steps (or jumps) per second, vertical peak in g
  std::array<double, kAxes> phase{};
  bool jumping = false;

  std::array<double, kAxes> at(double t) const {
    const double w = 2.0 * std::numbers::pi * frequency;
    if (!jumping) {  // walking and running: vertical bounce per step, sway at half the step rate
      return {0.5 * amplitude * std::sin(0.5 * w * t + phase[0]), 0.3 * amplitude * std::sin(0.5 * w * t + phase[1]),
              amplitude * std::sin(w * t + phase[2])};
    }
    // Jumping: free fall (-1 g of body acceleration: the sensor reads about 0 g) for 40% of each cycle,
    // then a landing spike of `amplitude` g lasting about 0.05 s.
    const double cycle = std::fmod(t * frequency + phase[2] / (2.0 * std::numbers::pi), 1.0);
    const double since_landing = cycle / frequency, to_landing = (1.0 - cycle) / frequency;
    const double spike = amplitude * std::exp(-0.5 * std::pow(std::min(since_landing, to_landing) / 0.03, 2.0));
    return {0.1 * std::sin(w * t + phase[0]), 0.1 * std::sin(w * t + phase[1]), (cycle > 0.6 ? -0.9 : 0.0) + spike};
  }
};

Motion draw_motion(int64_t activity, Rng& rng) {
  Motion m;
  for (double& p : m.phase) p = rng.uniform(0.0, 2.0 * std::numbers::pi);
  switch (activity) {
    case 0: m.frequency = rng.uniform(0.2, 0.4), m.amplitude = rng.uniform(0.01, 0.03); break;  // standing: sway
    case 1: m.frequency = rng.uniform(1.6, 2.2), m.amplitude = rng.uniform(0.25, 0.5); break;   // walking
    case 2: m.frequency = rng.uniform(2.6, 3.4), m.amplitude = rng.uniform(0.9, 1.6); break;    // running
    default: m.frequency = rng.uniform(1.0, 1.5), m.amplitude = rng.uniform(2.0, 3.5), m.jumping = true;
  }
  return m;
}

// A batch of windows and labels picked by `indices` from `data`.
ActivityData gather(const ActivityData& data, std::span<const int64_t> indices) {
  const int64_t window = data.windows.numel() / data.windows.dim(0);
  ActivityData batch{Tensor({static_cast<int64_t>(indices.size()), data.windows.dim(1), kAxes}), {}};
  for (size_t b = 0; b < indices.size(); ++b) {
    std::copy_n(data.windows.data() + indices[b] * window, window,
                batch.windows.data() + static_cast<int64_t>(b) * window);
    batch.labels.push_back(data.labels[static_cast<size_t>(indices[b])]);
  }
  return batch;
}

int64_t count_correct(const Tensor& logits, std::span<const int64_t> labels) {
  const std::vector<int64_t> predicted = argmax_rows(logits);
  int64_t correct = 0;
  for (size_t n = 0; n < predicted.size(); ++n) correct += predicted[n] == labels[n];
  return correct;
}

}  // namespace

ActivityData make_activity_data(int64_t count, int64_t length, uint64_t seed) {
  if (count < 1 || length < 9)
    fail("activity data: count=", count, " and length=", length, " must be >= 1 and >= 9 (two k=5 convolutions)");
  Rng rng(seed);
  ActivityData data{Tensor({count, length, kAxes}), {}};
  for (int64_t n = 0; n < count; ++n) {
    const int64_t activity = n % static_cast<int64_t>(kActivityNames.size());
    data.labels.push_back(activity);
    const Motion motion = draw_motion(activity, rng);
    const double noise = rng.uniform(0.03, 0.12);
    for (int64_t i = 0; i < length; ++i) {
      const std::array<double, kAxes> a = motion.at(static_cast<double>(i) / kSampleRate);
      for (int64_t axis = 0; axis < kAxes; ++axis) {
        const auto ax = static_cast<size_t>(axis);
        data.windows[(n * length + i) * kAxes + axis] = static_cast<float>(a[ax] + noise * rng.normal());
      }
    }
  }
  return data;
}

Sequential make_activity_cnn(Rng& rng) {
  const ConvSpec conv1{.rank = 1, .in_channels = kAxes, .out_channels = 16, .kernel = {5}, .padding = Padding::valid(),
                       .bias = true, .layout = Layout::channels_last};
  ConvSpec conv2 = conv1;
  conv2.in_channels = 16;
  Sequential model;
  model.add(std::make_unique<ConvLayer>(conv1, rng));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<ConvLayer>(conv2, rng));
  model.add(std::make_unique<ReLU>());
  model.add(std::make_unique<GlobalAveragePool>(Layout::channels_last));
  model.add(std::make_unique<Dense>(16, static_cast<int64_t>(kActivityNames.size()), rng));
  return model;
}

ActivityResult train_activity_cnn(const ActivityOptions& options,
                                  const std::function<void(int, const EpochReport&)>& on_epoch) {
  if (options.epochs < 0 || options.batch < 1)
    fail("activity: epochs=", options.epochs, " and batch=", options.batch, " must be >= 0 and >= 1");
  const ActivityData train = make_activity_data(options.train_windows, options.length, options.seed);
  const ActivityData test = make_activity_data(options.test_windows, options.length, options.seed + 1000003);
  Rng rng(options.seed);
  Sequential model = make_activity_cnn(rng);
  const std::unique_ptr<Optimizer> optimizer =
      make_optimizer(options.optimizer, model.parameters(), options.learning_rate);

  ActivityResult result;
  result.model = model.describe();
  std::vector<int64_t> order(static_cast<size_t>(options.train_windows));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    for (size_t i = order.size(); i-- > 1;)  // Fisher-Yates shuffle
      std::swap(order[i], order[static_cast<size_t>(rng.index(static_cast<int64_t>(i) + 1))]);
    EpochReport report;
    int64_t correct = 0, batches = 0;
    for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(options.batch)) {
      const size_t end = std::min(order.size(), begin + static_cast<size_t>(options.batch));
      const ActivityData batch = gather(train, std::span(order).subspan(begin, end - begin));
      const Tensor logits = model.forward(batch.windows);
      const Loss loss = softmax_cross_entropy(logits, batch.labels);
      model.backward(loss.grad);
      optimizer->step();
      report.loss += loss.value;
      correct += count_correct(logits, batch.labels);
      ++batches;
    }
    report.loss /= static_cast<double>(std::max<int64_t>(1, batches));
    report.train_accuracy = static_cast<double>(correct) / static_cast<double>(options.train_windows);
    if (!std::isfinite(report.loss))  // a diverging descent: NaN from then on, nothing learned
      fail("activity: the training loss became ", report.loss, " in epoch ", epoch + 1, " (learning rate ",
           options.learning_rate, " too large?)");
    result.epochs.push_back(report);
    if (on_epoch) on_epoch(epoch, report);
  }

  const Tensor logits = model.forward(test.windows);
  const std::vector<int64_t> predicted = argmax_rows(logits);
  result.confusion.assign(kActivityNames.size(), std::vector<int64_t>(kActivityNames.size(), 0));
  for (size_t n = 0; n < predicted.size(); ++n)
    ++result.confusion[static_cast<size_t>(test.labels[n])][static_cast<size_t>(predicted[n])];
  result.test_accuracy =
      static_cast<double>(count_correct(logits, test.labels)) / static_cast<double>(test.labels.size());
  return result;
}

}  // namespace convkit
