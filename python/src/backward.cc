// Gradients through the C++ backward plans (convkit/backward_plan.h): given dL/dy (`grad_output`, the
// forward output's shape) of the convolution `spec` describes, dL/dx (BackwardDataPlan: the adjoint
// convolution), dL/dw (BackwardWeightsPlan: a GEMM over batch and space) and dL/db (the sum of grad_output
// over batch and space, accumulated in double). Inputs are batched; arrays as in the forward functions.
#include <optional>

#include "arrays.h"
#include "bindings.h"
#include "convkit/backward.h"
#include "convkit/backward_plan.h"
#include "convkit/error.h"
#include "convkit/shape.h"
#include "spec_arguments.h"

namespace convkit::python {
namespace {

using namespace pybind11::literals;

void check_grad_output(const ConvSpec& spec, const Shape& input_shape, const InputArray& grad_output) {
  const Shape expected = output_shape(spec, input_shape);
  if (grad_output.view.shape() != expected)
    fail("grad_output of shape ", grad_output.view.shape(), " does not match the forward output ", expected,
         " of an input of shape ", input_shape);
}

py::array backward_data(py::handle grad_output, py::handle weight, py::handle input_shape, const ConvSpec& spec,
                        py::handle accuracy, py::handle out) {
  const PlanOptions options{.accuracy = parse_accuracy(string_value(accuracy, "accuracy"))};
  const InputArray dy = input_array(grad_output, "grad_output");
  const InputArray w = input_array(weight, "weight");
  const Shape shape = int_list(input_shape, "input_shape");
  check_weight_shape(spec, w.view.shape());
  check_grad_output(spec, shape, dy);
  OutputArray dx = output_array(out, shape, {&dy, &w});
  {
    py::gil_scoped_release release;
    const BackwardDataPlan plan(spec, w.view, options);
    plan.run(dy.view, dx.view);
  }
  return dx.array;
}

py::array backward_weights(py::handle input, py::handle grad_output, const ConvSpec& spec, py::handle out) {
  const InputArray x = input_array(input, "input");
  const InputArray dy = input_array(grad_output, "grad_output");
  check_grad_output(spec, x.view.shape(), dy);
  ConvSpec weights_only = spec;
  weights_only.bias = false;  // dL/db is conv_backward_bias's
  OutputArray dw = output_array(out, weight_shape(spec), {&x, &dy});
  {
    py::gil_scoped_release release;
    const BackwardWeightsPlan plan(weights_only);
    plan.run(x.view, dy.view, dw.view);
  }
  return dw.array;
}

py::array backward_bias(py::handle grad_output, const ConvSpec& spec, py::handle out) {
  const InputArray dy = input_array(grad_output, "grad_output");  // its shape: convkit::conv_backward_bias checks
  OutputArray db = output_array(out, bias_shape(spec), {&dy});
  {
    py::gil_scoped_release release;
    conv_backward_bias(spec, dy.view, db.view);
  }
  return db.array;
}

}  // namespace

void register_backward(py::module_& module) {
  module.def("conv_backward_data", &backward_data, "grad_output"_a, "weight"_a, "input_shape"_a, "spec"_a,
             py::kw_only(), "accuracy"_a = "fast", "out"_a = py::none(),
             "dL/dx of the convolution `spec` (a ConvSpec) for a (batched) input of `input_shape`, from dL/dy. "
             "It is the adjoint convolution of dL/dy with the same weight (a transposed convolution for a "
             "convolution and the reverse), run by a fast plan.");
  module.def("conv_backward_weights", &backward_weights, "input"_a, "grad_output"_a, "spec"_a, py::kw_only(),
             "out"_a = py::none(),
             "dL/dw of the convolution `spec` from the forward input and dL/dy, in the layout of spec.weight_shape.");
  module.def("conv_backward_bias", &backward_bias, "grad_output"_a, "spec"_a, py::kw_only(), "out"_a = py::none(),
             "dL/db: dL/dy summed over batch and space (shape (out_channels,)), accumulated in double.");
}

}  // namespace convkit::python
