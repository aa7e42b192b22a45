#include "convkit/init.h"

#include <cmath>

#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {

Fans keras_fans(std::span<const int64_t> shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {shape[0], shape[0]};
  const int64_t receptive_field = element_count(shape.first(shape.size() - 2));
  return {shape[shape.size() - 2] * receptive_field, shape[shape.size() - 1] * receptive_field};
}

Fans conv_fans(const ConvSpec& spec) {
  // channels_last weights are Keras' own order; channels_first (A, B, k...) holds the same A and B.
  const Shape shape = weight_shape(spec);
  if (spec.layout == Layout::channels_last) return keras_fans(shape);
  const int64_t receptive_field = element_count(std::span(shape).subspan(2));
  return {shape[1] * receptive_field, shape[0] * receptive_field};
}

std::string_view to_string(Initializer initializer) {
  switch (initializer) {
    case Initializer::glorot_uniform: return "glorot_uniform";
    case Initializer::he_normal: return "he_normal";
    case Initializer::zeros: return "zeros";
  }
  return "?";
}

Initializer parse_initializer(std::string_view text, std::string_view argument) {
  for (Initializer i : {Initializer::glorot_uniform, Initializer::he_normal, Initializer::zeros})
    if (text == to_string(i)) return i;
  fail(argument, "=", text, " is not an initializer; expected glorot_uniform, he_normal or zeros");
}

void initialize(Tensor& tensor, Initializer initializer, Fans fans, Rng& rng) {
  if (initializer != Initializer::zeros && (fans.in < 1 || fans.out < 1))
    fail("initialize: fans in=", fans.in, " out=", fans.out, " must be >= 1 for ", to_string(initializer));
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    double value = 0.0;
    if (initializer == Initializer::glorot_uniform) {
      // GlorotUniform = VarianceScaling(scale=1, mode="fan_avg", distribution="uniform"):
      // limit = sqrt(3 * scale / ((fan_in + fan_out) / 2)) = sqrt(6 / (fan_in + fan_out)).
      const double limit = std::sqrt(6.0 / static_cast<double>(fans.in + fans.out));
      value = rng.uniform(-limit, limit);
    } else if (initializer == Initializer::he_normal) {
      // HeNormal = VarianceScaling(scale=2, mode="fan_in", distribution="truncated_normal"):
      // stddev = sqrt(scale / fan_in) / .87962566103423978 (the std of a unit normal truncated to
      // [-2, 2]), draws beyond two stddev are redrawn.
      const double stddev = std::sqrt(2.0 / static_cast<double>(fans.in)) / .87962566103423978;
      double z = rng.normal();
      while (std::fabs(z) > 2.0) z = rng.normal();
      value = stddev * z;
    }
    tensor[i] = static_cast<float>(value);
  }
}

}  // namespace convkit
