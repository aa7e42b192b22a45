#include <cmath>

#include "convkit/composite.h"
#include "convkit/error.h"

namespace convkit {

// A rank-1 tensor K = v0 (x) v1 (x) ... is recovered from its largest entry m: the line through m
// along axis 0 gives v0 up to scale, and the line along axis a > 0 divided by K[m] gives va / va[m_a],
// so the product of the lines reproduces K exactly. Any mismatch measures how far K is from rank 1.
SeparableFactors factor_separable(ConstTensorView kernel, double tolerance) {
  if (kernel.rank() < 1 || kernel.numel() == 0)
    fail("factor_separable: kernel of shape ", kernel.shape(), " is empty; expected a non-empty kernel");
  const Tensor k = Tensor::copy_of(kernel);
  const Shape& shape = k.shape();
  const Shape strides = contiguous_strides(shape);

  int64_t peak = 0;
  for (int64_t i = 0; i < k.numel(); ++i)
    if (std::fabs(k[i]) > std::fabs(k[peak])) peak = i;
  const double peak_value = k[peak];

  SeparableFactors result;
  if (peak_value == 0.0) {  // the zero kernel is the product of zero vectors
    for (int64_t extent : shape) result.factors.emplace_back(static_cast<size_t>(extent), 0.0f);
    result.separable = true;
    return result;
  }
  for (size_t axis = 0; axis < shape.size(); ++axis) {
    const int64_t peak_coord = (peak / strides[axis]) % shape[axis];
    const int64_t line_start = peak - peak_coord * strides[axis];
    std::vector<float> factor(static_cast<size_t>(shape[axis]));
    for (int64_t i = 0; i < shape[axis]; ++i) {
      const double value = k[line_start + i * strides[axis]];
      factor[static_cast<size_t>(i)] = static_cast<float>(axis == 0 ? value : value / peak_value);
    }
    result.factors.push_back(std::move(factor));
  }
  // Readable factors: every factor but the last is scaled so that its smallest nonzero magnitude is 1
  // and its first nonzero entry is positive (integer kernels get integer factors); the last factor
  // absorbs the scale, so the product is unchanged.
  for (size_t axis = 0; axis + 1 < result.factors.size(); ++axis) {
    auto& factor = result.factors[axis];
    float smallest = 0.0f, first = 0.0f;
    for (float v : factor) {
      if (v == 0.0f) continue;
      if (first == 0.0f) first = v;
      if (smallest == 0.0f || std::fabs(v) < smallest) smallest = std::fabs(v);
    }
    const float scale = first < 0.0f ? -smallest : smallest;
    for (float& v : factor) v /= scale;
    for (float& v : result.factors.back()) v *= scale;
  }
  Shape index(shape.size(), 0);
  for (int64_t i = 0; i < k.numel(); ++i, next_index(index, shape)) {
    double product = 1.0;
    for (size_t axis = 0; axis < shape.size(); ++axis)
      product *= result.factors[axis][static_cast<size_t>(index[axis])];
    result.residual = std::max(result.residual, std::fabs(product - k[i]));
  }
  result.separable = result.residual <= tolerance * std::fabs(peak_value);
  return result;
}

}  // namespace convkit
