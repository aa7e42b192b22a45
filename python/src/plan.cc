// convkit.ConvSpec (the C++ ConvSpec: one description of any convolution) and convkit.Plan (a ConvPlan:
// validate and pack the weights once, run many times; the GIL is released while it runs, and one plan may
// run in several Python threads at once, as ConvPlan::run is const and thread-safe).
#include <memory>
#include <optional>
#include <string>

#include <pybind11/stl.h>

#include "bindings.h"
#include "call.h"
#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/shape.h"
#include "spec_arguments.h"

namespace convkit::python {
namespace {

using namespace pybind11::literals;

// A ConvPlan with the arrays it was made from (the plan packs copies; keeping them costs nothing and keeps
// Plan.weight/Plan.bias meaningful).
struct Plan {
  ConvPlan plan;
  InputArray weight;
  std::optional<InputArray> bias;
};

std::unique_ptr<Plan> make_plan(const ConvSpec& spec, py::handle weight, py::handle bias, const std::string& algorithm,
                                int64_t threads, Accuracy accuracy) {
  InputArray w = input_array(weight, "weight");
  std::optional<InputArray> b = optional_input_array(bias, "bias");
  const PlanOptions options{plan_threads(threads), algorithm, accuracy};
  std::optional<ConvPlan> plan;
  {
    py::gil_scoped_release release;
    plan.emplace(spec, w.view, b ? std::optional<ConstTensorView>(b->view) : std::nullopt, options);
  }
  return std::make_unique<Plan>(Plan{std::move(*plan), std::move(w), std::move(b)});
}

py::array run_plan(const Plan& plan, py::handle input, py::handle out) {
  CallArrays call = prepare_call(input_array(input, "input"), plan.plan.spec(), out,
                                 {&plan.weight, plan.bias ? &*plan.bias : nullptr});
  {
    py::gil_scoped_release release;
    plan.plan.run(call.input.view, call.output_view);
  }
  return call.output.array;
}

ConvSpec make_spec(py::object in_channels, py::object out_channels, py::object kernel, const ConvArguments& arguments,
                   py::object bias, py::object transposed, py::object rank) {
  ConvSpec spec;
  const std::vector<int64_t> kernel_sizes = int_list(kernel, "kernel");
  int64_t spatial_rank = 0;
  if (!rank.is_none())
    spatial_rank = int_value(rank, "rank");
  else if (py::isinstance<py::sequence>(kernel))
    spatial_rank = static_cast<int64_t>(kernel_sizes.size());
  else
    fail("kernel=", kernel_sizes, " is one size: give the rank (rank=1, 2 or 3) or a kernel size per spatial axis");
  if (spatial_rank < 1 || spatial_rank > 3) fail("rank=", spatial_rank, " must be 1, 2 or 3");
  spec.rank = static_cast<int>(spatial_rank);
  spec.in_channels = int_value(in_channels, "in_channels");
  spec.out_channels = int_value(out_channels, "out_channels");
  spec.kernel = kernel_sizes;
  spec.bias = bool_value(bias, "bias");
  spec.transposed = bool_value(transposed, "transposed");
  apply_arguments(spec, arguments);
  validate(spec);
  return spec;
}

py::list to_list(const std::vector<int64_t>& values) { return py::cast(values); }

std::vector<int64_t> shape_argument(py::handle shape, const char* argument) { return int_list(shape, argument); }

const char* kSpecDoc = R"(A convolution's description (rank 1-3, grouped, depthwise, strided, dilated, padded,
transposed, flipped, either layout): the C++ convkit::ConvSpec. Arguments as convkit.conv takes them, plus
in_channels, out_channels, kernel (an int per axis; one int needs rank=), bias (whether there is one) and
transposed. Checked when made (ValueError naming the argument). Per-axis values read back one per axis.)";

const char* kPlanDoc = R"(A convolution plan: checks the spec and the weight (and bias) shapes, chooses an algorithm
and packs the weights once; plan(x) then runs it many times (the GIL released; several threads may call
one plan at once). weight/bias are in the spec's layout (see convkit.conv2d). algorithm='' lets the plan
choose; else it forces one by the kernel-name grammar family[.isa[.tile]] that plan.algorithm reads back:
'gemm', 'reference', 'gemm.avx2' (that ISA's kernels), or a whole name such as 'gemm.avx512.14x32-indirect'.
threads=0 uses convkit.get_num_threads() at run time.)";

}  // namespace

void register_plan(py::module_& module) {
  py::class_<ConvSpec>(module, "ConvSpec", kSpecDoc)
      .def(py::init([](py::object in_channels, py::object out_channels, py::object kernel, py::object stride,
                       py::object padding, py::object dilation, py::object groups, py::object bias,
                       py::object transposed, py::object output_padding, py::object output_shape,
                       py::object padding_mode, py::object flip, py::object layout, py::object rank) {
             const ConvArguments arguments{stride,         padding,      dilation, groups, output_padding,
                                           output_shape, padding_mode, flip,     layout};
             return make_spec(in_channels, out_channels, kernel, arguments, bias, transposed, rank);
           }),
           "in_channels"_a, "out_channels"_a, "kernel"_a, py::kw_only(), "stride"_a = 1, "padding"_a = 0,
           "dilation"_a = 1, "groups"_a = 1, "bias"_a = false, "transposed"_a = false, "output_padding"_a = 0,
           "output_shape"_a = py::none(), "padding_mode"_a = "zeros", "flip"_a = false, "layout"_a = "channels_first",
           "rank"_a = py::none())
      .def_static(
          "for_arrays",
          [](py::object input, py::object weight, py::object bias, py::object stride, py::object padding,
             py::object dilation, py::object groups, py::object transposed, py::object output_padding,
             py::object output_shape, py::object padding_mode, py::object flip, py::object layout) {
            const ConvArguments arguments{stride, padding, dilation, groups, output_padding, output_shape,
                                          padding_mode, flip, layout};
            const InputArray w = input_array(weight, "weight");
            const InputArray x = input_array(input, "input");
            Shape input_shape = x.view.shape();
            if (x.view.rank() == w.view.rank() - 1) input_shape.insert(input_shape.begin(), 1);
            ConvSpec spec = spec_for_shapes(input_shape, w.view.shape(), !bias.is_none(),
                                            bool_value(transposed, "transposed"), arguments);
            validate(spec);
            check_weight_shape(spec, w.view.shape());
            return spec;
          },
          "input"_a, "weight"_a, "bias"_a = py::none(), py::kw_only(), "stride"_a = 1, "padding"_a = 0,
          "dilation"_a = 1, "groups"_a = 1, "transposed"_a = false, "output_padding"_a = 0,
          "output_shape"_a = py::none(), "padding_mode"_a = "zeros", "flip"_a = false, "layout"_a = "channels_first",
          "The spec convkit.conv(input, weight, bias, **keywords) computes (channels and kernel read from the arrays).")
      .def_property_readonly("rank", [](const ConvSpec& s) { return s.rank; })
      .def_property_readonly("in_channels", [](const ConvSpec& s) { return s.in_channels; })
      .def_property_readonly("out_channels", [](const ConvSpec& s) { return s.out_channels; })
      .def_property_readonly("kernel", [](const ConvSpec& s) { return to_list(per_axis(s.kernel, s.rank, 1, "kernel")); })
      .def_property_readonly("stride", [](const ConvSpec& s) { return to_list(per_axis(s.stride, s.rank, 1, "stride")); })
      .def_property_readonly("dilation",
                             [](const ConvSpec& s) { return to_list(per_axis(s.dilation, s.rank, 1, "dilation")); })
      .def_property_readonly("padding",
                             [](const ConvSpec& s) -> py::object {
                               if (s.padding.kind != PaddingKind::explicit_pads)
                                 return py::str(std::string(to_string(s.padding.kind)));
                               std::vector<int64_t> pads = per_axis(s.padding.begin, s.rank, 0, "padding");
                               const std::vector<int64_t> end = per_axis(s.padding.end, s.rank, 0, "padding");
                               pads.insert(pads.end(), end.begin(), end.end());
                               return to_list(pads);  // ONNX order: all begins, then all ends
                             })
      .def_property_readonly("padding_mode",
                             [](const ConvSpec& s) { return std::string(to_string(s.padding_mode)); })
      .def_property_readonly("groups", [](const ConvSpec& s) { return s.groups; })
      .def_property_readonly("bias", [](const ConvSpec& s) { return s.bias; })
      .def_property_readonly("transposed", [](const ConvSpec& s) { return s.transposed; })
      .def_property_readonly(
          "output_padding", [](const ConvSpec& s) { return to_list(per_axis(s.output_padding, s.rank, 0, "output_padding")); })
      .def_property_readonly("output_shape",
                             [](const ConvSpec& s) -> py::object {
                               return s.output_shape.empty() ? py::object(py::none()) : to_list(s.output_shape);
                             })
      .def_property_readonly("flip", [](const ConvSpec& s) { return s.flip; })
      .def_property_readonly("layout", [](const ConvSpec& s) { return std::string(to_string(s.layout)); })
      .def_property_readonly("weight_shape", [](const ConvSpec& s) { return to_list(weight_shape(s)); },
                             "The weight's shape in the spec's layout.")
      .def_property_readonly("bias_shape", [](const ConvSpec& s) { return to_list(bias_shape(s)); })
      .def(
          "output_shape_for",
          [](const ConvSpec& s, py::object input_shape) {
            return to_list(output_shape(s, shape_argument(input_shape, "input_shape")));
          },
          "input_shape"_a, "The output's shape for a (batched) input of `input_shape`.")
      .def("__repr__", [](const ConvSpec& s) { return "<convkit.ConvSpec " + describe(s) + ">"; })
      .def("__str__", [](const ConvSpec& s) { return describe(s); });

  py::class_<Plan>(module, "Plan", kPlanDoc)
      .def(py::init([](const ConvSpec& spec, py::object weight, py::object bias, py::object algorithm,
                       py::object threads, py::object accuracy) {
             return make_plan(spec, weight, bias, string_value(algorithm, "algorithm"), int_value(threads, "threads"),
                              parse_accuracy(string_value(accuracy, "accuracy")));
           }),
           "spec"_a, "weight"_a, "bias"_a = py::none(), py::kw_only(), "algorithm"_a = "", "threads"_a = 0,
           "accuracy"_a = "fast")
      .def("__call__", &run_plan, "input"_a, py::kw_only(), "out"_a = py::none(),
           "The convolution of `input` (batched, or unbatched with rank + 1 dimensions) as a new float32 array or "
           "into `out`.")
      .def_property_readonly("spec", [](const Plan& p) { return p.plan.spec(); })
      .def_property_readonly("algorithm", [](const Plan& p) { return p.plan.algorithm(); },
                             "The algorithm the plan chose, e.g. 'gemm.avx512.14x32' (operation.isa.tile).")
      .def("explain", [](const Plan& p) { return p.plan.explain(); },
           "Why: one line per candidate algorithm, the chosen one and the reasons the others declined.")
      .def_property_readonly("packed_bytes", [](const Plan& p) { return p.plan.packed_bytes(); },
                             "Memory the plan holds (packed weights and bias).")
      .def(
          "workspace_bytes",
          [](const Plan& p, py::object input_shape) {
            return p.plan.workspace_bytes(shape_argument(input_shape, "input_shape"));
          },
          "input_shape"_a, "The extra memory one run on a (batched) input of `input_shape` needs.")
      .def("__repr__", [](const Plan& p) { return "<convkit.Plan " + describe(p.plan.spec()) + ": " + p.plan.algorithm() + ">"; });
}

}  // namespace convkit::python
