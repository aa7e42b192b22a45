// Shared test helpers: seeded random tensors and specs, and comparisons of tensors.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "convkit/convkit.h"

namespace convkit::testing {

// The seed every randomized test starts from; printed by failing tests so a case can be replayed.
inline constexpr uint32_t kSeed = 20261121;

// Runs `action`, expects a convkit::Error, and checks the message contains every fragment.
inline void expect_error(const std::function<void()>& action, std::initializer_list<std::string> fragments) {
  try {
    action();
    ADD_FAILURE() << "no convkit::Error thrown";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nmissing: " << fragment;
  }
}

// Uniform values in [-1, 1), or small integers in [-3, 3] when `integers` (exact float sums).
inline Tensor random_tensor(Shape shape, std::mt19937& rng, bool integers = false) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> integer(-3, 3);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = integers ? static_cast<float>(integer(rng)) : real(rng);
  return t;
}

inline double max_abs_difference(ConstTensorView a, ConstTensorView b) {
  EXPECT_EQ(a.shape(), b.shape());
  const Tensor ca = Tensor::copy_of(a), cb = Tensor::copy_of(b);
  double worst = 0.0;
  for (int64_t i = 0; i < std::min(ca.numel(), cb.numel()); ++i) {
    // NaN on one side only (e.g. a cell an algorithm left unwritten in a NaN-filled output) is the worst
    // difference; NaN on both sides, none.
    if (std::isnan(ca[i]) != std::isnan(cb[i])) return std::numeric_limits<double>::infinity();
    if (!std::isnan(ca[i])) worst = std::max(worst, std::fabs(static_cast<double>(ca[i]) - static_cast<double>(cb[i])));
  }
  return worst;
}

inline double max_abs(ConstTensorView a) {
  const Tensor c = Tensor::copy_of(a);
  double worst = 0.0;
  for (int64_t i = 0; i < c.numel(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(c[i])));
  return worst;
}

inline double dot(ConstTensorView a, ConstTensorView b) {
  const Tensor ca = Tensor::copy_of(a), cb = Tensor::copy_of(b);
  double sum = 0.0;
  for (int64_t i = 0; i < ca.numel(); ++i) sum += static_cast<double>(ca[i]) * static_cast<double>(cb[i]);
  return sum;
}

// A convolution problem: a spec plus the input shape it is applied to.
struct Problem {
  ConvSpec spec;
  Shape input_shape;
  std::string describe() const { return convkit::describe(spec) + " input " + to_string(input_shape); }
};

// Options for random_problem; the defaults cover every option with edge sizes kept small.
struct ProblemOptions {
  int rank = 0;               // 0: random 1..3
  bool allow_transposed = true;
  bool allow_padding_modes = true;
  bool allow_flip = true;
  int64_t max_channels = 6;
  int64_t max_spatial = 7;
};

// A random valid problem: edge sizes (1-wide inputs, kernel == input, odd/even kernels, large
// strides/dilations, asymmetric pads, same/same_lower/valid, grouped/depthwise, both layouts).
// Draws until resolve_geometry accepts the spec.
inline Problem random_problem(std::mt19937& rng, const ProblemOptions& options = {}) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (;;) {
    Problem p;
    ConvSpec& s = p.spec;
    s.rank = options.rank ? options.rank : static_cast<int>(pick(1, 3));
    s.transposed = options.allow_transposed && pick(0, 3) == 0;
    s.groups = pick(1, 3);
    s.in_channels = s.groups * pick(1, std::max<int64_t>(1, options.max_channels / s.groups));
    s.out_channels = s.groups * pick(1, std::max<int64_t>(1, options.max_channels / s.groups));
    if (pick(0, 5) == 0) {  // depthwise with a multiplier
      s.groups = s.in_channels;
      s.out_channels = s.in_channels * pick(1, 2);
    }
    s.bias = pick(0, 1) == 1;
    s.flip = options.allow_flip && pick(0, 3) == 0;
    s.layout = pick(0, 1) ? Layout::channels_last : Layout::channels_first;
    Shape spatial;
    const int64_t max_spatial = s.rank == 3 ? std::min<int64_t>(options.max_spatial, 5) : options.max_spatial;
    for (int a = 0; a < s.rank; ++a) {
      spatial.push_back(pick(1, max_spatial));
      s.kernel.push_back(pick(1, 4));
      s.stride.push_back(pick(0, 2) == 0 ? pick(2, 4) : 1);
      s.dilation.push_back(pick(0, 3) == 0 ? pick(2, 3) : 1);
    }
    switch (pick(0, 4)) {
      case 0: s.padding = Padding::valid(); break;
      case 1: s.padding = Padding::same(); break;
      case 2: s.padding = Padding::same_lower(); break;
      default:
        for (int a = 0; a < s.rank; ++a) {
          s.padding.begin.push_back(pick(0, 3));
          s.padding.end.push_back(pick(0, 3));
        }
    }
    if (s.transposed) {
      for (int a = 0; a < s.rank; ++a) {
        const auto i = static_cast<size_t>(a);
        s.output_padding.push_back(pick(0, std::max(s.stride[i], s.dilation[i]) - 1));
      }
    } else if (options.allow_padding_modes) {
      s.padding_mode = static_cast<PaddingMode>(pick(0, 3));
    }
    const int64_t batch = pick(1, 2);
    const int64_t channels = s.in_channels;
    p.input_shape = make_activation_shape(s, batch, channels, spatial);
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {  // e.g. kernel larger than the padded input: draw again
    }
  }
}

// Random weights, input and (if the spec has one) bias for a problem.
struct ProblemData {
  Tensor input, weight, bias;
  std::optional<ConstTensorView> bias_view() const {
    return bias.numel() ? std::optional<ConstTensorView>(bias.view()) : std::nullopt;
  }
};

inline ProblemData random_data(const Problem& p, std::mt19937& rng, bool integers = false) {
  ProblemData d{random_tensor(p.input_shape, rng, integers), random_tensor(weight_shape(p.spec), rng, integers), {}};
  if (p.spec.bias) d.bias = random_tensor(bias_shape(p.spec), rng, integers);
  return d;
}

}  // namespace convkit::testing
