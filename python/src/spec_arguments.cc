#include "spec_arguments.h"

#include <string>

#include "convkit/error.h"

namespace convkit::python {
namespace {

std::string type_name(py::handle object) { return py::str(py::type::handle_of(object).attr("__name__")); }

bool is_integer(py::handle value) { return !py::isinstance<py::bool_>(value) && PyIndex_Check(value.ptr()); }

}  // namespace

int64_t int_value(py::handle value, const char* argument) {
  if (!is_integer(value)) throw py::type_error(std::string(argument) + " must be an int, got " + type_name(value));
  const long long result = PyLong_AsLongLong(py::reinterpret_steal<py::object>(PyNumber_Index(value.ptr())).ptr());
  if (result == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    fail(argument, "=", std::string(py::str(value)), " does not fit in 64 bits");
  }
  return result;
}

std::vector<int64_t> int_list(py::handle value, const char* argument) {
  if (is_integer(value)) return {int_value(value, argument)};
  if (!py::isinstance<py::sequence>(value) || py::isinstance<py::str>(value))
    throw py::type_error(std::string(argument) + " must be an int or a tuple of ints, got " + type_name(value));
  std::vector<int64_t> values;
  for (py::handle item : py::reinterpret_borrow<py::sequence>(value)) {
    if (!is_integer(item))
      throw py::type_error(std::string(argument) + " must be an int or a tuple of ints, got an element of type " +
                           type_name(item));
    values.push_back(int_value(item, argument));
  }
  return values;
}

std::string string_value(py::handle value, const char* argument) {
  if (!py::isinstance<py::str>(value))
    throw py::type_error(std::string(argument) + " must be a str, got " + type_name(value));
  return py::cast<std::string>(value);
}

bool bool_value(py::handle value, const char* argument) {
  if (!py::isinstance<py::bool_>(value))
    throw py::type_error(std::string(argument) + " must be a bool, got " + type_name(value));
  return py::cast<bool>(value);
}

int plan_threads(int64_t threads) {
  if (threads < 0 || threads > 4096) fail("threads=", threads, " must be between 0 (the default) and 4096");
  return static_cast<int>(threads);
}

namespace {

// padding=: "valid" | "same" | "same_lower" | P | (P1, ..., Pn) both sides | (b1, ..., bn, e1, ..., en) ONNX pads.
Padding padding_value(py::handle value, int rank) {
  if (py::isinstance<py::str>(value)) {
    const std::string name = py::cast<std::string>(value);
    if (name == "valid") return Padding::valid();
    if (name == "same") return Padding::same();
    if (name == "same_lower") return Padding::same_lower();
    fail("padding='", name, "' is not recognised; expected 'valid', 'same', 'same_lower', an int or a tuple of ints");
  }
  const std::vector<int64_t> pads = int_list(value, "padding");
  if (pads.size() == 1 || pads.size() == static_cast<size_t>(rank)) return Padding::symmetric(pads);
  if (pads.size() == 2 * static_cast<size_t>(rank)) return Padding::onnx(pads);
  fail("padding=", pads, " has ", pads.size(), " values; a ", rank, "D convolution takes 1, ", rank,
       " (per axis, both sides) or ", 2 * rank, " (ONNX pads: all begins, then all ends)");
}

}  // namespace

void apply_arguments(ConvSpec& spec, const ConvArguments& arguments) {
  spec.stride = int_list(arguments.stride, "stride");
  spec.dilation = int_list(arguments.dilation, "dilation");
  spec.padding = padding_value(arguments.padding, spec.rank);
  spec.groups = int_value(arguments.groups, "groups");
  spec.padding_mode = parse_padding_mode(string_value(arguments.padding_mode, "padding_mode"), "padding_mode");
  spec.layout = parse_layout(string_value(arguments.layout, "layout"), "layout");
  spec.flip = bool_value(arguments.flip, "flip");
  // output_padding and output_shape only mean something for a transposed convolution; validate() rejects
  // nonzero values otherwise, so the defaults (0, None) are left out of a forward spec.
  const std::vector<int64_t> output_padding = int_list(arguments.output_padding, "output_padding");
  if (spec.transposed || output_padding != std::vector<int64_t>{0}) spec.output_padding = output_padding;
  if (!arguments.output_shape.is_none()) {
    spec.output_shape = int_list(arguments.output_shape, "output_shape");
    if (spec.output_shape.size() == 1) spec.output_shape.assign(static_cast<size_t>(spec.rank), spec.output_shape[0]);
  }
}

ConvSpec spec_for_shapes(const Shape& input_shape, const Shape& weight_shape, bool bias, bool transposed,
                         const ConvArguments& arguments) {
  const auto rank = static_cast<int>(weight_shape.size()) - 2;
  if (rank < 1 || rank > 3)
    fail("weight of shape ", weight_shape, " has ", weight_shape.size(),
         " dimensions; expected 3, 4 or 5 (a 1D, 2D or 3D convolution)");
  if (input_shape.size() != weight_shape.size())
    fail("input of shape ", input_shape, " has ", input_shape.size(), " dimensions; a ", rank,
         "D convolution expects ", rank + 2, " (batched) or ", rank + 1, " (unbatched)");
  ConvSpec spec;
  spec.rank = rank;
  spec.transposed = transposed;
  spec.bias = bias;
  apply_arguments(spec, arguments);
  const bool first = spec.layout == Layout::channels_first;
  const size_t n = weight_shape.size();
  spec.in_channels = first ? input_shape[1] : input_shape.back();
  // conv weight (Cout, Cin/g, k...) / (k..., Cin/g, Cout); transposed (Cin, Cout/g, k...) / (k..., Cout/g, Cin).
  if (transposed) {
    const int64_t per_group = first ? weight_shape[1] : weight_shape[n - 2];
    if (spec.groups >= 1 && __builtin_mul_overflow(per_group, spec.groups, &spec.out_channels))
      fail("groups=", spec.groups, " times the weight's ", per_group, " output channels per group overflows");
  } else {
    spec.out_channels = first ? weight_shape[0] : weight_shape[n - 1];
  }
  spec.kernel = first ? Shape(weight_shape.begin() + 2, weight_shape.end())
                      : Shape(weight_shape.begin(), weight_shape.end() - 2);
  return spec;
}

}  // namespace convkit::python
