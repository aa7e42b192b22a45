#include "data.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit::cli {
namespace {

Tensor random_tensor(Shape shape, std::mt19937& rng) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = uniform(rng);
  return t;
}

Tensor permuted_copy(ConstTensorView view, const std::vector<int>& axes) {
  return Tensor::copy_of(view.permuted(axes));
}

}  // namespace

LayerData random_layer_data(const BenchLayer& layer, uint32_t seed) {
  std::mt19937 rng(seed);
  const ConvSpec spec = layer.spec(Layout::channels_first);
  LayerData data{random_tensor(layer.input, rng), random_tensor(weight_shape(spec), rng), {}, {}};
  if (layer.bias) data.bias = random_tensor(bias_shape(spec), rng);
  data.grad_output = random_tensor(output_shape(spec, layer.input), rng);  // drawn last: the others stay as they were
  return data;
}

Tensor activation_in_layout(ConstTensorView channels_first, Layout layout) {
  if (layout == Layout::channels_first) return Tensor::copy_of(channels_first);
  std::vector<int> axes{0};  // (N, C, s...) -> (N, s..., C)
  for (int a = 2; a < channels_first.rank(); ++a) axes.push_back(a);
  axes.push_back(1);
  return permuted_copy(channels_first, axes);
}

Tensor activation_channels_first(ConstTensorView activation, Layout layout) {
  if (layout == Layout::channels_first) return Tensor::copy_of(activation);
  std::vector<int> axes{0, activation.rank() - 1};  // (N, s..., C) -> (N, C, s...)
  for (int a = 1; a < activation.rank() - 1; ++a) axes.push_back(a);
  return permuted_copy(activation, axes);
}

Tensor weight_in_layout(ConstTensorView channels_first, Layout layout) {
  if (layout == Layout::channels_first) return Tensor::copy_of(channels_first);
  std::vector<int> axes;
  for (int a = 2; a < channels_first.rank(); ++a) axes.push_back(a);
  axes.push_back(1);
  axes.push_back(0);
  return permuted_copy(channels_first, axes);
}

Tensor weight_channels_first(ConstTensorView weight, Layout layout) {
  if (layout == Layout::channels_first) return Tensor::copy_of(weight);
  const int rank = weight.rank() - 2;  // (k..., B, A) -> (A, B, k...)
  std::vector<int> axes{rank + 1, rank};
  for (int a = 0; a < rank; ++a) axes.push_back(a);
  return permuted_copy(weight, axes);
}

double relative_error(ConstTensorView got, ConstTensorView expected) {
  if (got.shape() != expected.shape())
    fail("relative_error: shapes differ: got ", got.shape(), ", expected ", expected.shape());
  const Tensor a = Tensor::copy_of(got), b = Tensor::copy_of(expected);
  double worst = 0.0, scale = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    worst = std::isnan(diff) ? HUGE_VAL : std::max(worst, diff);  // a NaN anywhere is an infinite error
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  if (worst == 0.0) return 0.0;
  return scale > 0.0 ? worst / scale : HUGE_VAL;
}

}  // namespace convkit::cli
