// Weight initialisation as Keras does it (keras/src/initializers/random_initializers.py), seeded.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "convkit/random.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

// Keras compute_fans(shape) on a kernel in Keras order (..., input, output):
//   rank 1: fan_in = fan_out = shape[0];  rank 2: fan_in = shape[0], fan_out = shape[1];
//   rank >= 3 (convolution kernels): receptive_field_size = prod(shape[:-2]),
//   fan_in = shape[-2] * receptive_field_size, fan_out = shape[-1] * receptive_field_size.
struct Fans {
  int64_t in = 0;
  int64_t out = 0;
};
Fans keras_fans(std::span<const int64_t> kernel_shape);
// The Keras fans of a convolution's kernel in either layout: fan_in = (Cin/g) * prod(k),
// fan_out = Cout * prod(k) (for a transposed kernel (k..., Cout/g, Cin): Cout/g and Cin, as Keras).
Fans conv_fans(const ConvSpec& spec);

enum class Initializer {
  glorot_uniform,  // Keras default for kernels: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out))
  he_normal,       // truncated normal (redrawn beyond 2 stddev) with the std of the result sqrt(2 / fan_in)
  zeros,           // Keras default for biases
};
std::string_view to_string(Initializer initializer);
Initializer parse_initializer(std::string_view text, std::string_view argument = "initializer");

// Fills `tensor` (any shape) with draws from `initializer` for a kernel with these fans.
void initialize(Tensor& tensor, Initializer initializer, Fans fans, Rng& rng);

}  // namespace convkit
