// Composites (convkit/composite.h, composite_plan.h): depthwise separable, spatially separable, flattened and
// shuffled grouped convolutions as pipelines of ConvSpec stages, run by a CompositePlan (staged, or fused when
// the plan can), and the rank-1 factoring of a separable kernel.
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "arrays.h"
#include "bindings.h"
#include "call.h"
#include "convkit/composite.h"
#include "convkit/composite_plan.h"
#include "convkit/error.h"
#include "convkit/shape.h"
#include "spec_arguments.h"

namespace convkit::python {
namespace {

using namespace pybind11::literals;

// A CompositePlan and the weight arrays it was made from (their views must outlive the plan's creation).
struct PyCompositePlan {
  std::vector<InputArray> weights;
  std::vector<std::optional<InputArray>> biases;
  std::optional<CompositePlan> plan;
};

// weights: one entry per convolution stage, each a weight array or a (weight, bias) pair (bias may be None).
std::unique_ptr<PyCompositePlan> make_composite_plan(const Composite& composite, const py::sequence& weights,
                                                      bool fuse, int64_t threads, Accuracy accuracy) {
  auto result = std::make_unique<PyCompositePlan>();
  const size_t stages = conv_stages(composite).size();
  if (weights.size() != stages)
    fail("weights has ", weights.size(), " entries; the ", composite.kind, " composite has ", stages,
         " convolution stages (one weight or (weight, bias) per stage)");
  for (py::handle entry : weights) {
    if (py::isinstance<py::tuple>(entry) || py::isinstance<py::list>(entry)) {
      const auto pair = py::reinterpret_borrow<py::sequence>(entry);
      if (pair.size() != 2) fail("a weights entry has ", pair.size(), " items; expected a weight or (weight, bias)");
      result->weights.push_back(input_array(pair[0], "weight"));
      result->biases.push_back(optional_input_array(pair[1], "bias"));
    } else {
      result->weights.push_back(input_array(entry, "weight"));
      result->biases.emplace_back();
    }
  }
  std::vector<StageWeights> views;
  for (size_t s = 0; s < stages; ++s)
    views.push_back({result->weights[s].view, result->biases[s] ? std::optional<ConstTensorView>(result->biases[s]->view)
                                                                : std::nullopt});
  const CompositePlanOptions options{plan_threads(threads), fuse, accuracy};
  py::gil_scoped_release release;
  result->plan.emplace(composite, views, options);
  return result;
}

py::array run_composite(const PyCompositePlan& plan, py::handle input, py::handle out) {
  InputArray x = input_array(input, "input");
  std::vector<const InputArray*> inputs{&x};
  for (const InputArray& w : plan.weights) inputs.push_back(&w);
  OutputArray y = output_array(out, plan.plan->output_shape(x.view.shape()), inputs);
  {
    py::gil_scoped_release release;
    plan.plan->run(x.view, y.view);
  }
  return y.array;
}

py::list stage_list(const Composite& composite) {
  py::list stages;
  for (const Stage& stage : composite.stages) {
    if (stage.is_shuffle())
      stages.append(py::make_tuple(stage.name, py::dict("shuffle_groups"_a = stage.shuffle_groups)));
    else
      stages.append(py::make_tuple(stage.name, stage.conv));
  }
  return stages;
}

}  // namespace

void register_composites(py::module_& module) {
  py::class_<Composite>(module, "Composite",
                        "A composite convolution: a pipeline of convolution stages (ConvSpec) and channel shuffles.")
      .def_property_readonly("kind", [](const Composite& c) { return c.kind; })
      .def_property_readonly("stages", &stage_list,
                             "(name, ConvSpec) per convolution stage, (name, {'shuffle_groups': g}) per shuffle.")
      .def_property_readonly(
          "weight_shapes",
          [](const Composite& c) {
            std::vector<Shape> shapes;
            for (const ConvSpec& spec : conv_stages(c)) shapes.push_back(weight_shape(spec));
            return shapes;
          },
          "The weight shape of each convolution stage, in order (what CompositePlan's weights take).")
      .def("__repr__", [](const Composite& c) {
        std::string text = "<convkit.Composite " + c.kind + ":";
        for (const Stage& stage : c.stages)
          text += " " + stage.name + (stage.is_shuffle() ? "" : " (" + describe(stage.conv) + ")");
        return text + ">";
      });

  module.def("depthwise_separable", &depthwise_separable, "layer"_a, "depth_multiplier"_a = 1,
             "Keras SeparableConvND: a depthwise stage (groups = C_in, C_in * depth_multiplier outputs, the layer's "
             "kernel/stride/dilation/padding) then a pointwise 1x1 stage to C_out (with the layer's bias).");
  module.def("spatial_separable", &spatial_separable, "layer"_a,
             "A k0 x 1 stage (C_in -> C_out) then a depthwise 1 x k stage per later axis (the Sobel [1,2,1]^T [-1,0,1] "
             "factoring).");
  module.def("flattened", &flattened, "layer"_a,
             "Flattened convolution (Jin et al. 2014): a lateral 1x1 stage, then one depthwise 1D stage per axis.");
  module.def("shuffled_grouped", &shuffled_grouped, "first"_a, "second"_a,
             "ShuffleNet: grouped convolution `first`, a channel shuffle with first.groups groups, then `second`.");

  py::class_<PyCompositePlan>(module, "CompositePlan",
                              "A composite's fast plan: each convolution stage by its own plan, or fused (a depthwise "
                              "stage and its pointwise stage band by band; a shuffle read by the next GEMM) where the "
                              "plan can. weights: one weight or (weight, bias) per convolution stage.")
      .def(py::init([](const Composite& composite, const py::sequence& weights, py::object fuse, py::object threads,
                       py::object accuracy) {
             return make_composite_plan(composite, weights, bool_value(fuse, "fuse"), int_value(threads, "threads"),
                                        parse_accuracy(string_value(accuracy, "accuracy")));
           }),
           "composite"_a, "weights"_a, py::kw_only(), "fuse"_a = true, "threads"_a = 0, "accuracy"_a = "fast")
      .def("__call__", &run_composite, "input"_a, py::kw_only(), "out"_a = py::none())
      .def_property_readonly("composite", [](const PyCompositePlan& p) { return p.plan->composite(); })
      .def_property_readonly("fused", [](const PyCompositePlan& p) { return p.plan->fused(); })
      .def_property_readonly("algorithm", [](const PyCompositePlan& p) { return p.plan->algorithm(); })
      .def("explain", [](const PyCompositePlan& p) { return p.plan->explain(); })
      .def(
          "output_shape_for",
          [](const PyCompositePlan& p, py::object input_shape) {
            return p.plan->output_shape(int_list(input_shape, "input_shape"));
          },
          "input_shape"_a);

  module.def(
      "factor_separable",
      [](py::handle kernel, double tolerance) {
        const InputArray k = input_array(kernel, "kernel");
        const SeparableFactors factors = factor_separable(k.view, tolerance);
        py::list arrays;
        for (const std::vector<float>& factor : factors.factors)
          arrays.append(py::array_t<float>(static_cast<py::ssize_t>(factor.size()), factor.data()));
        return py::make_tuple(factors.separable, factors.residual, arrays);
      },
      "kernel"_a, "tolerance"_a = 1e-6,
      "(separable, residual, factors): kernel[i0, i1, ...] == factors[0][i0] * factors[1][i1] * ... when the kernel "
      "is rank-1 within `tolerance` (relative to its largest entry); Sobel-x factors as [1, 2, 1] and [-1, 0, 1].");
}

}  // namespace convkit::python
