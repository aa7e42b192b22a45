// Seed 003's 1D CNN on accelerometer data: synthetic 3-axis accelerometer windows of four activities
// and the small Keras-style network that classifies them, trained with convkit's own backward passes:
//   Conv1D(3 -> 16, k=5) -> ReLU -> Conv1D(16 -> 16, k=5) -> ReLU -> GlobalAveragePooling1D
//   -> Dense(16 -> 4) -> softmax cross-entropy.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/layers.h"
#include "convkit/random.h"
#include "convkit/tensor.h"

namespace convkit {

inline constexpr std::array<std::string_view, 4> kActivityNames{"standing", "walking", "running", "jumping"};

// Windows (N, length, 3) in channels_last order (Keras Conv1D input (steps, channels)): body acceleration
// in g along (forward, lateral, vertical), gravity removed as in the UCI HAR dataset's body_acc signals,
// sampled at 50 Hz; labels index kActivityNames. Classes take turns; everything else (step frequency and
// amplitude, phases, sensor noise) is drawn from Rng(seed), so the data is reproducible.
struct ActivityData {
  Tensor windows;
  std::vector<int64_t> labels;
};
ActivityData make_activity_data(int64_t count, int64_t length, uint64_t seed);

// The network above, channels_last, weights from Keras' glorot_uniform drawn from `rng`.
Sequential make_activity_cnn(Rng& rng);

struct ActivityOptions {
  int epochs = 8;
  uint64_t seed = 3;
  std::string optimizer = "adam";
  double learning_rate = 0.01;
  int64_t batch = 16;
  int64_t train_windows = 320;
  int64_t test_windows = 200;  // held out: generated from another seed
  int64_t length = 120;        // the seed's Keras example: input_shape = (120, 3)
};

struct EpochReport {
  double loss = 0.0;  // mean training loss over the epoch's batches
  double train_accuracy = 0.0;
};

struct ActivityResult {
  std::string model;
  std::vector<EpochReport> epochs;
  double test_accuracy = 0.0;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class] on the test set
};

ActivityResult train_activity_cnn(const ActivityOptions& options,
                                  const std::function<void(int, const EpochReport&)>& on_epoch = {});

}  // namespace convkit
