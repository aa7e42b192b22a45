// ConvSpec from Python arguments, with PyTorch's argument forms: an int or a tuple of ints per axis
// (stride=2, stride=(2, 1)), padding as an int, a tuple per axis, ONNX-style pads (all begins, then all
// ends), or "valid" / "same" / "same_lower"; and the channel counts and kernel sizes read from the arrays'
// shapes in the layout's order. A wrong Python type is a TypeError; a wrong value a ValueError
// (convkit::Error) naming the argument.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::python {

namespace py = pybind11;

// The keyword arguments every convolution function takes, as given (not yet checked).
struct ConvArguments {
  py::object stride = py::int_(1);
  py::object padding = py::int_(0);
  py::object dilation = py::int_(1);
  py::object groups = py::int_(1);
  py::object output_padding = py::int_(0);
  py::object output_shape = py::none();
  py::object padding_mode = py::str("zeros");
  py::object flip = py::bool_(false);
  py::object layout = py::str("channels_first");
};

// One int (every axis) or a sequence of ints; TypeError otherwise. Accepts numpy integers (__index__).
std::vector<int64_t> int_list(py::handle value, const char* argument);
int64_t int_value(py::handle value, const char* argument);
std::string string_value(py::handle value, const char* argument);
bool bool_value(py::handle value, const char* argument);
// A thread count for set_num_threads or a plan's `threads=`: 0 (convkit.get_num_threads()) to 4096.
int plan_threads(int64_t threads);

// Sets every option of `arguments` on `spec` (whose rank is set).
void apply_arguments(ConvSpec& spec, const ConvArguments& arguments);

// The spec of a convolution (or transposed convolution) of an input of `input_shape` (batched) with a weight
// of `weight_shape`: rank from the weight, in_channels from the input, out_channels and kernel from the
// weight as the layout orders it. Shapes are checked when the plan is made.
ConvSpec spec_for_shapes(const Shape& input_shape, const Shape& weight_shape, bool bias, bool transposed,
                         const ConvArguments& arguments);

}  // namespace convkit::python
