// numpy arrays <-> convkit tensor views. A C-contiguous float32 array is viewed in place (no copy); any
// other array of numbers (float64, integers, non-contiguous views, byte-swapped) is converted into a new
// C-contiguous float32 array first, as numpy.ascontiguousarray(x, dtype=numpy.float32) does. Outputs are
// new float32 arrays, or a caller's `out=` array checked for dtype, shape, writeability and overlap.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <vector>

#include "convkit/tensor.h"

namespace convkit::python {

namespace py = pybind11;

// An input as float32 C order: `array` keeps the data alive (the caller's array itself when it already
// was float32 C-contiguous), `view` reads it.
struct InputArray {
  py::array array;
  ConstTensorView view;
  // The same data with a batch axis of 1 in front (PyTorch's unbatched inputs).
  void add_batch_axis();
};

// TypeError when `object` is not an array (or nested sequence) of real numbers; `argument` names it.
InputArray input_array(py::handle object, const char* argument);
std::optional<InputArray> optional_input_array(py::handle object, const char* argument);

// The output of a call: a new float32 array of `shape`, or the caller's `out` array after checking it is a
// writeable float32 ndarray of exactly `shape` that shares no memory with `inputs`. A shape whose element
// count overflows is a ValueError; one larger than this machine's physical memory a MemoryError (rather
// than an overcommitted allocation the kernel kills the process for later).
struct OutputArray {
  py::array array;
  TensorView view;
};
OutputArray output_array(py::handle out, const Shape& shape, const std::vector<const InputArray*>& inputs);

// The shape of an array as a convkit Shape.
Shape shape_of(const py::array& array);

}  // namespace convkit::python
