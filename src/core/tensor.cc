#include "convkit/tensor.h"

#include <algorithm>
#include <cassert>
#include <sstream>

#include "convkit/checked.h"
#include "convkit/error.h"

namespace convkit {

int64_t element_count(std::span<const int64_t> shape) {
  int64_t count = 1;
  for (int64_t extent : shape)
    count = checked_mul(count, extent, "shape ", shape, " has more elements than int64 can count (2^63 - 1)");
  return count;
}

int64_t tensor_element_count(std::span<const int64_t> shape, std::string_view what) {
  int64_t count = 1;
  for (int64_t extent : shape)
    if (extent < 0) fail(what, ": shape ", shape, " has a negative extent");
  for (int64_t extent : shape)
    count = checked_mul(count, extent, what, ": shape ", shape, " has more elements than int64 can count (2^63 - 1)");
  if (count > kMaxTensorElements)
    fail(what, ": shape ", shape, " holds ", count, " floats, more than the ", kMaxTensorElements,
         " whose size in bytes fits in a memory address");
  return count;
}

Shape contiguous_strides(std::span<const int64_t> shape) {
  Shape strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;)
    strides[i - 1] = checked_mul(strides[i], shape[i], "shape ", shape, " has strides beyond int64 (2^63 - 1)");
  return strides;
}

std::string to_string(std::span<const int64_t> shape) {
  std::ostringstream out;
  detail::append(out, shape);
  return out.str();
}

bool next_index(Shape& index, std::span<const int64_t> shape) {
  for (size_t axis = index.size(); axis-- > 0;) {
    if (++index[axis] < shape[axis]) return true;
    index[axis] = 0;
  }
  return false;
}

void copy_elements(ConstTensorView from, TensorView to) {
  if (from.shape() != to.shape()) fail("copy_elements: shapes ", from.shape(), " and ", to.shape(), " differ");
  if (from.numel() == 0) return;
  if (from.rank() == 0) {
    *to.data() = *from.data();
    return;
  }
  // One strided loop per innermost row (the plans copy staged outputs into strided views this way).
  const Shape& shape = from.shape();
  const Shape outer(shape.begin(), shape.end() - 1);
  const int64_t n = shape.back(), from_step = from.strides().back(), to_step = to.strides().back();
  Shape index(outer.size(), 0);
  do {
    const float* src = from.data();
    float* dst = to.data();
    for (size_t axis = 0; axis < outer.size(); ++axis) {
      src += index[axis] * from.strides()[axis];
      dst += index[axis] * to.strides()[axis];
    }
    for (int64_t i = 0; i < n; ++i) dst[i * to_step] = src[i * from_step];
  } while (next_index(index, outer));
}

template <class T>
BasicTensorView<T>::BasicTensorView(T* data, Shape shape, Shape strides)
    : data_(data), shape_(std::move(shape)), strides_(std::move(strides)) {
  if (shape_.size() != strides_.size())
    fail("tensor view: strides ", strides_, " do not match shape ", shape_, " (ranks differ)");
}

template <class T>
T& BasicTensorView<T>::operator[](std::span<const int64_t> index) const {
  assert(index.size() == shape_.size());
  int64_t offset = 0;
  for (size_t i = 0; i < index.size(); ++i) offset += index[i] * strides_[i];
  return data_[offset];
}

template <class T>
BasicTensorView<T> BasicTensorView<T>::permuted(std::span<const int> axes) const {
  if (axes.size() != shape_.size())
    fail("permute: got ", axes.size(), " axes for a tensor of rank ", shape_.size());
  Shape shape(axes.size()), strides(axes.size());
  std::vector<bool> used(axes.size(), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int axis = axes[i];
    if (axis < 0 || axis >= rank() || used[static_cast<size_t>(axis)])
      fail("permute: axes must be a permutation of 0..", rank() - 1, ", got axis ", axis, " at position ", i);
    used[static_cast<size_t>(axis)] = true;
    shape[i] = shape_[static_cast<size_t>(axis)];
    strides[i] = strides_[static_cast<size_t>(axis)];
  }
  return {data_, std::move(shape), std::move(strides)};
}

template <class T>
BasicTensorView<T> BasicTensorView<T>::flipped(int axis) const {
  if (axis < 0 || axis >= rank()) fail("flip: axis=", axis, " is outside 0..", rank() - 1);
  const auto a = static_cast<size_t>(axis);
  Shape strides = strides_;
  T* first = shape_[a] > 0 ? data_ + (shape_[a] - 1) * strides_[a] : data_;
  strides[a] = -strides_[a];
  return {first, shape_, std::move(strides)};
}

template class BasicTensorView<float>;
template class BasicTensorView<const float>;

Tensor::Tensor(Shape shape, float fill) : shape_(std::move(shape)) {
  values_.assign(static_cast<size_t>(tensor_element_count(shape_, "tensor")), fill);
}

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)), values_(std::move(values)) {
  const int64_t count = tensor_element_count(shape_, "tensor");
  if (static_cast<int64_t>(values_.size()) != count)
    fail("tensor: ", values_.size(), " values given for shape ", shape_, " which holds ", count);
}

Tensor Tensor::copy_of(ConstTensorView view) {
  Tensor copy(view.shape());
  if (view.is_contiguous())
    std::copy_n(view.data(), copy.numel(), copy.data());
  else
    copy_elements(view, copy.view());
  return copy;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (element_count(shape) != numel())
    fail("reshape: cannot reshape ", shape_, " (", numel(), " elements) to ", shape);
  return Tensor(std::move(shape), values_);
}

}  // namespace convkit
