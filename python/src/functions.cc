// The functional API: torch.nn.functional's conv1d/2d/3d and conv_transpose1d/2d/3d (same names, argument
// order, defaults and shape rules) plus convkit's keywords, and the generic convkit.conv. Each call runs a
// ConvPlan with the GIL released: a new one (packing the weights), or for small weights seen in a recent
// call with the same spec, that call's plan (plan_cache.h).
#include <optional>
#include <string>

#include "bindings.h"
#include "call.h"
#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/shape.h"
#include "plan_cache.h"
#include "spec_arguments.h"

namespace convkit::python {
namespace {

using namespace pybind11::literals;

py::array convolve(py::handle input, py::handle weight, py::handle bias, bool transposed, int rank,
                   const ConvArguments& arguments, py::handle accuracy, py::handle out) {
  const PlanOptions options{.accuracy = parse_accuracy(string_value(accuracy, "accuracy"))};
  InputArray w = input_array(weight, "weight");
  if (rank != 0 && w.view.rank() != rank + 2)
    fail("weight of shape ", w.view.shape(), " has ", w.view.rank(), " dimensions; a ", rank, "D convolution expects ",
         rank + 2);
  InputArray x = input_array(input, "input");
  const std::optional<InputArray> b = optional_input_array(bias, "bias");
  Shape batched_input = x.view.shape();
  if (x.view.rank() == w.view.rank() - 1) batched_input.insert(batched_input.begin(), 1);
  const ConvSpec spec = spec_for_shapes(batched_input, w.view.shape(), b.has_value(), transposed, arguments);
  check_weight_shape(spec, w.view.shape());
  if (b) check_bias_shape(spec, b->view.shape());
  CallArrays call = prepare_call(std::move(x), spec, out, {&w, b ? &*b : nullptr});
  {
    py::gil_scoped_release release;
    static PlanCache cache;
    cache.plan(spec, w.view, b ? std::optional<ConstTensorView>(b->view) : std::nullopt, options)
        ->run(call.input.view, call.output_view);
  }
  return call.output.array;
}

std::string shapes_doc(int rank, bool transposed) {
  const std::string dims = rank == 1 ? "W" : rank == 2 ? "H, W" : "D, H, W";
  const std::string k = rank == 1 ? "kW" : rank == 2 ? "kH, kW" : "kD, kH, kW";
  return std::string("Shapes (PyTorch, layout='channels_first'): input (N, C_in, ") + dims + ") or unbatched (C_in, " +
         dims + "); weight " + (transposed ? "(C_in, C_out/groups, " : "(C_out, C_in/groups, ") + k +
         "); bias (C_out,).\nShapes (TensorFlow/Keras, layout='channels_last'): input (N, " + dims + ", C_in); weight (" +
         k + (transposed ? ", C_out/groups, C_in)" : ", C_in/groups, C_out)") + ".\n";
}

const char* kCommonDoc = R"(
Arguments (as torch.nn.functional; int or one int per spatial axis):
  stride, dilation, groups; padding: an int or tuple (both sides of each axis), ONNX pads
  (b1, ..., bn, e1, ..., en: all begins, then all ends), 'valid', 'same' (TF 'SAME' / ONNX SAME_UPPER:
  the odd extra cell at the end) or 'same_lower' (ONNX SAME_LOWER). Where PyTorch refuses 'same' with
  stride > 1, convkit pads as TensorFlow does (output = ceil(input / stride)).
Keyword-only (convkit):
  padding_mode: 'zeros', 'reflect', 'replicate' or 'circular' (as torch.nn.ConvNd; transposed: zeros only).
  flip: reverse the kernel on every spatial axis (true convolution, scipy.signal.convolve).
  layout: 'channels_first' (PyTorch, ONNX) or 'channels_last' (TensorFlow, Keras shapes above).
  accuracy: 'fast' (Winograd and FFT where they win; their error bounds are in Plan.explain()) or
    'strict' (direct sums only, within the ordering bound |error| <= K u / (1 - K u) * sum |w x|).
  out: a float32 array of the output's shape to write into (any strides; must not overlap the inputs).
Arrays: a C-contiguous float32 array is read in place; other arrays of real numbers (float64, ints,
non-contiguous views) are converted to float32 first. Returns a new float32 array (or `out`).
The GIL is released while computing. Errors: ValueError (bad value or shape, convkit's message),
TypeError (bad type), MemoryError (an output larger than this machine's memory).
)";

}  // namespace

void register_functions(py::module_& module) {
  for (int rank = 1; rank <= 3; ++rank) {
    const std::string r = std::to_string(rank);
    const std::string conv_doc = "Applies a " + r + "D convolution, as torch.nn.functional.conv" + r + "d.\n\n" +
                                 shapes_doc(rank, false) + kCommonDoc;
    module.def(
        ("conv" + r + "d").c_str(),
        [rank](py::object input, py::object weight, py::object bias, py::object stride, py::object padding,
               py::object dilation, py::object groups, py::object padding_mode, py::object flip, py::object layout,
               py::object accuracy, py::object out) {
          const ConvArguments arguments{.stride = stride, .padding = padding, .dilation = dilation, .groups = groups,
                                        .padding_mode = padding_mode, .flip = flip, .layout = layout};
          return convolve(input, weight, bias, false, rank, arguments, accuracy, out);
        },
        "input"_a, "weight"_a, "bias"_a = py::none(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1, "groups"_a = 1,
        py::kw_only(), "padding_mode"_a = "zeros", "flip"_a = false, "layout"_a = "channels_first", "accuracy"_a = "fast",
        "out"_a = py::none(), conv_doc.c_str());

    const std::string transposed_doc = "Applies a " + r +
                                       "D transposed convolution (the adjoint of conv" + r +
                                       "d, 'deconvolution'), as torch.nn.functional.conv_transpose" + r +
                                       "d: note the argument order (output_padding, groups, dilation).\n\n" +
                                       shapes_doc(rank, true) + kCommonDoc +
                                       "output_shape: the spatial output size (ONNX ConvTranspose rule: the "
                                       "pads are derived from it).\n";
    module.def(
        ("conv_transpose" + r + "d").c_str(),
        [rank](py::object input, py::object weight, py::object bias, py::object stride, py::object padding,
               py::object output_padding, py::object groups, py::object dilation, py::object output_shape,
               py::object padding_mode, py::object flip, py::object layout, py::object accuracy, py::object out) {
          const ConvArguments arguments{.stride = stride, .padding = padding, .dilation = dilation, .groups = groups,
                                        .output_padding = output_padding, .output_shape = output_shape,
                                        .padding_mode = padding_mode, .flip = flip, .layout = layout};
          return convolve(input, weight, bias, true, rank, arguments, accuracy, out);
        },
        "input"_a, "weight"_a, "bias"_a = py::none(), "stride"_a = 1, "padding"_a = 0, "output_padding"_a = 0,
        "groups"_a = 1, "dilation"_a = 1, py::kw_only(), "output_shape"_a = py::none(), "padding_mode"_a = "zeros",
        "flip"_a = false, "layout"_a = "channels_first", "accuracy"_a = "fast", "out"_a = py::none(),
        transposed_doc.c_str());
  }

  const std::string generic_doc = std::string(
                                      "Any convolution convkit computes: the rank (1-3) comes from the weight "
                                      "(rank + 2 dimensions), transposed=True for a transposed convolution.\n\n") +
                                  kCommonDoc +
                                  "output_padding, output_shape: transposed only (see conv_transpose2d).\n";
  module.def(
      "conv",
      [](py::object input, py::object weight, py::object bias, py::object stride, py::object padding,
         py::object dilation, py::object groups, py::object transposed, py::object output_padding,
         py::object output_shape, py::object padding_mode, py::object flip, py::object layout, py::object accuracy, py::object out) {
        const ConvArguments arguments{stride, padding, dilation, groups, output_padding, output_shape,
                                      padding_mode, flip, layout};
        return convolve(input, weight, bias, bool_value(transposed, "transposed"), 0, arguments, accuracy, out);
      },
      "input"_a, "weight"_a, "bias"_a = py::none(), py::kw_only(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "groups"_a = 1, "transposed"_a = false, "output_padding"_a = 0, "output_shape"_a = py::none(),
      "padding_mode"_a = "zeros", "flip"_a = false, "layout"_a = "channels_first", "accuracy"_a = "fast", "out"_a = py::none(),
      generic_doc.c_str());
}

}  // namespace convkit::python
