// The benchmark's data: one set of random tensors per layer, held channels-first, and the same numbers
// permuted into channels_last, so every layout (and every peer) computes exactly the same convolution.
#pragma once

#include <cstdint>
#include <optional>

#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "suite.h"

namespace convkit::cli {

// Input (N, C, spatial...), weight (Cout, Cin/g, k...) or transposed (Cin, Cout/g, k...), bias (Cout)
// or empty: uniform in [-1, 1) from a fixed seed.
// grad_output: dL/dy of the forward output's shape, for the backward directions.
struct LayerData {
  Tensor input, weight, bias, grad_output;
  std::optional<ConstTensorView> bias_view() const {
    return bias.numel() ? std::optional<ConstTensorView>(bias.view()) : std::nullopt;
  }
};
LayerData random_layer_data(const BenchLayer& layer, uint32_t seed);

// An activation (N, C, spatial...) as `layout` holds it: unchanged, or (N, spatial..., C).
Tensor activation_in_layout(ConstTensorView channels_first, Layout layout);
// The inverse: an activation in `layout` back to (N, C, spatial...).
Tensor activation_channels_first(ConstTensorView activation, Layout layout);
// A channels-first weight as `layout` holds it (convkit/spec.h): (k..., Cin/g, Cout), transposed
// (k..., Cout/g, Cin) for channels_last; both are the permutation (2, ..., rank+1, 1, 0).
Tensor weight_in_layout(ConstTensorView channels_first, Layout layout);

// The inverse: a weight in `layout` back to channels-first order.
Tensor weight_channels_first(ConstTensorView weight, Layout layout);

// max |got - expected| / max |expected|: the error relative to the output's scale (0 when both are 0).
// Shapes must match.
double relative_error(ConstTensorView got, ConstTensorView expected);

}  // namespace convkit::cli
