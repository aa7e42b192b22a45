#include "arrays.h"

#include <unistd.h>

#include <limits>
#include <string>

#include "convkit/error.h"

namespace convkit::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::string type_name(py::handle object) { return py::str(py::type::handle_of(object).attr("__name__")); }

// Bytes spanned by an array's elements: [first, last) over every element (empty arrays span nothing).
struct ByteRange {
  const char* first = nullptr;
  const char* last = nullptr;
};
ByteRange byte_range(const py::array& array) {
  if (array.size() == 0) return {};
  const char* first = static_cast<const char*>(array.data());
  const char* last = first;
  for (py::ssize_t axis = 0; axis < array.ndim(); ++axis) {
    const py::ssize_t step = array.strides(axis) * (array.shape(axis) - 1);
    (step < 0 ? first : last) += step;
  }
  return {first, last + array.itemsize()};
}

// Read once: sysconf(_SC_PHYS_PAGES) is a sysinfo() system call, a large part of a small convolution's call.
int64_t physical_memory_bytes() {
  static const int64_t bytes = [] {
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long page_size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(pages) * static_cast<int64_t>(page_size);
  }();
  return bytes;
}

}  // namespace

Shape shape_of(const py::array& array) { return Shape(array.shape(), array.shape() + array.ndim()); }

void InputArray::add_batch_axis() {
  Shape shape = view.shape();
  shape.insert(shape.begin(), 1);
  view = ConstTensorView(view.data(), std::move(shape));
}

InputArray input_array(py::handle object, const char* argument) {
  py::array array;
  if (py::isinstance<py::array>(object)) {
    array = py::reinterpret_borrow<py::array>(object);
  } else {
    // Nested sequences of numbers are accepted as numpy.asarray accepts them.
    if (!py::isinstance<py::sequence>(object) || py::isinstance<py::str>(object) || py::isinstance<py::bytes>(object))
      throw py::type_error(std::string(argument) + " must be a numpy array of real numbers, got " + type_name(object));
    array = py::module_::import("numpy").attr("asarray")(object);
  }
  const char kind = array.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw py::type_error(std::string(argument) + " must be an array of real numbers, got dtype " +
                         std::string(py::str(array.dtype())));
  FloatArray converted = FloatArray::ensure(array);  // the same array when it already is float32, C order
  if (!converted) throw py::error_already_set();
  InputArray result{converted, ConstTensorView(converted.data(), shape_of(converted))};
  return result;
}

std::optional<InputArray> optional_input_array(py::handle object, const char* argument) {
  if (object.is_none()) return std::nullopt;
  return input_array(object, argument);
}

OutputArray output_array(py::handle out, const Shape& shape, const std::vector<const InputArray*>& inputs) {
  int64_t elements = 1;
  for (int64_t size : shape) {
    if (size < 0) fail("output shape ", shape, " has a negative size");
    if (size != 0 && elements > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(float)) / size)
      fail("output shape ", shape, " has more elements than fit in memory addresses");
    elements *= size;
  }
  if (out.is_none()) {
    const int64_t bytes = elements * static_cast<int64_t>(sizeof(float));
    if (bytes > physical_memory_bytes()) {
      const std::string message = "output of shape " + to_string(shape) + " needs " + std::to_string(bytes) +
                                  " bytes, more than this machine's " + std::to_string(physical_memory_bytes()) +
                                  " bytes of memory";
      PyErr_SetString(PyExc_MemoryError, message.c_str());
      throw py::error_already_set();
    }
    py::array_t<float> array(std::vector<py::ssize_t>(shape.begin(), shape.end()));
    return {array, TensorView(array.mutable_data(), shape)};
  }
  if (!py::isinstance<py::array>(out)) throw py::type_error("out must be a numpy array, got " + type_name(out));
  auto array = py::reinterpret_borrow<py::array>(out);
  if (!array.dtype().is(py::dtype::of<float>()))
    throw py::type_error("out must have dtype float32, got " + std::string(py::str(array.dtype())));
  if (!array.writeable()) fail("out is read-only");
  if (shape_of(array) != shape) fail("out has shape ", shape_of(array), "; expected ", shape);
  Shape strides;
  for (py::ssize_t axis = 0; axis < array.ndim(); ++axis) {
    if (array.strides(axis) % static_cast<py::ssize_t>(sizeof(float)) != 0)
      fail("out has strides that are not a multiple of 4 bytes (misaligned float32 view)");
    if (array.strides(axis) == 0 && array.shape(axis) > 1) fail("out has a zero stride (overlapping elements)");
    strides.push_back(array.strides(axis) / static_cast<py::ssize_t>(sizeof(float)));
  }
  const ByteRange written = byte_range(array);
  for (const InputArray* input : inputs) {
    if (input == nullptr) continue;
    const ByteRange read = byte_range(input->array);
    if (written.first < read.last && read.first < written.last) fail("out shares memory with an input");
  }
  return {array, TensorView(static_cast<float*>(array.mutable_data()), shape, strides)};
}

}  // namespace convkit::python
