// Tensors: a non-owning strided view (TensorView / ConstTensorView) and an owning, contiguous Tensor.
// Strides are in elements and may be any integers (a permuted or reversed view is just new strides),
// which is how the reference engine reads channels_last data and flipped kernels without copying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace convkit {

using Shape = std::vector<int64_t>;

// The product of the extents; an Error when it exceeds int64.
int64_t element_count(std::span<const int64_t> shape);
// The most floats one tensor may hold: its size in bytes must fit in ptrdiff_t (2^61 - 1 floats).
inline constexpr int64_t kMaxTensorElements = PTRDIFF_MAX / static_cast<int64_t>(sizeof(float));
// The element count of a float tensor of `shape` about to be created, checked before anything is
// allocated: an Error starting with `what` when an extent is negative or the count exceeds kMaxTensorElements.
int64_t tensor_element_count(std::span<const int64_t> shape, std::string_view what);
// Row-major (C order) strides for `shape`; an Error when one exceeds int64.
Shape contiguous_strides(std::span<const int64_t> shape);
std::string to_string(std::span<const int64_t> shape);
// Advances a multi-index over `shape` in row-major order (last axis fastest); false after the last one.
bool next_index(Shape& index, std::span<const int64_t> shape);

template <class T>
class BasicTensorView {
 public:
  BasicTensorView() = default;
  BasicTensorView(T* data, Shape shape) : data_(data), shape_(std::move(shape)), strides_(contiguous_strides(shape_)) {}
  BasicTensorView(T* data, Shape shape, Shape strides);
  // A view of mutable data converts to a view of const data.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  BasicTensorView(const BasicTensorView<U>& other)  // NOLINT(google-explicit-constructor)
      : data_(other.data()), shape_(other.shape()), strides_(other.strides()) {}

  T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_[static_cast<size_t>(axis)]; }
  int64_t numel() const { return element_count(shape_); }
  bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }

  // Element at a multi-index (unchecked beyond a debug assertion on the rank).
  T& operator[](std::span<const int64_t> index) const;
  T& at(std::initializer_list<int64_t> index) const { return (*this)[std::span(index.begin(), index.size())]; }

  // The view with axis i of the result being axis `axes[i]` of this view (numpy.transpose).
  BasicTensorView permuted(std::span<const int> axes) const;
  // The view with `axis` traversed backwards (numpy.flip).
  BasicTensorView flipped(int axis) const;

 private:
  T* data_ = nullptr;
  Shape shape_;
  Shape strides_;
};

using TensorView = BasicTensorView<float>;
using ConstTensorView = BasicTensorView<const float>;

// Copies every element of `from` into `to` (same shape, any strides): to[i] = from[i].
void copy_elements(ConstTensorView from, TensorView to);

// An owning, contiguous float tensor.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.0f);
  Tensor(Shape shape, std::vector<float> values);
  // A contiguous copy of any view.
  static Tensor copy_of(ConstTensorView view);

  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_[static_cast<size_t>(axis)]; }
  int64_t numel() const { return static_cast<int64_t>(values_.size()); }
  const std::vector<float>& values() const { return values_; }

  float& operator[](int64_t flat_index) { return values_[static_cast<size_t>(flat_index)]; }
  float operator[](int64_t flat_index) const { return values_[static_cast<size_t>(flat_index)]; }
  float& at(std::initializer_list<int64_t> index) { return view().at(index); }
  float at(std::initializer_list<int64_t> index) const { return view().at(index); }

  TensorView view() { return {values_.data(), shape_}; }
  ConstTensorView view() const { return {values_.data(), shape_}; }
  operator TensorView() { return view(); }             // NOLINT(google-explicit-constructor)
  operator ConstTensorView() const { return view(); }  // NOLINT(google-explicit-constructor)

  // Same values, new shape with the same element count.
  Tensor reshaped(Shape shape) const;

 private:
  Shape shape_;
  std::vector<float> values_;
};

}  // namespace convkit
