// The cost model (convkit/cost.h, model.h): shapes, parameters and MACs of a convolution or composite, the
// receptive field of a stack, and a Keras-like model summary with the rows `convkit summary --json` prints.
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.h"
#include "convkit/cost.h"
#include "convkit/error.h"
#include "convkit/model.h"
#include "convkit/model_json.h"
#include "spec_arguments.h"

namespace convkit::python {
namespace {

using namespace pybind11::literals;

py::dict cost_dict(const LayerCost& cost) {
  return py::dict("input_shape"_a = cost.input_shape, "output_shape"_a = cost.output_shape, "weights"_a = cost.weights,
                  "biases"_a = cost.biases, "params"_a = cost.params(), "macs"_a = cost.macs);
}

py::dict cost(py::handle operation, py::handle input_shape) {
  const Shape shape = int_list(input_shape, "input_shape");
  if (py::isinstance<ConvSpec>(operation)) return cost_dict(conv_cost(py::cast<const ConvSpec&>(operation), shape));
  if (!py::isinstance<Composite>(operation))
    throw py::type_error("cost() takes a ConvSpec or a Composite, got " +
                         std::string(py::str(py::type::handle_of(operation).attr("__name__"))));
  const CompositeCost composite = composite_cost(py::cast<const Composite&>(operation), shape);
  py::list stages;
  for (const LayerCost& stage : composite.stages) stages.append(cost_dict(stage));
  py::dict result = cost_dict(composite.total);
  result["stages"] = stages;
  return result;
}

// The JSON text `convkit summary MODEL.json --json` prints (convkit::summary_json); _summary.py parses it.
std::string summary(const std::string& json_text) { return summary_json(parse_model(json_text, "model")); }

}  // namespace

void register_cost(py::module_& module) {
  module.def("cost", &cost, "operation"_a, "input_shape"_a,
             "Shapes, weights, biases, params and MACs (one multiply-accumulate each) of a ConvSpec or Composite on a "
             "(batched) input of `input_shape`; a composite adds 'stages', one dict per stage.");
  module.def(
      "receptive_field",
      [](const std::vector<ConvSpec>& stack) {
        const ReceptiveField field = receptive_field(stack);
        return py::dict("size"_a = field.size, "jump"_a = field.jump);
      },
      "stack"_a, "The receptive field (per spatial axis, in input cells) of a stack of ConvSpecs applied in order.");
  module.def("_summary_json", &summary, "json_text"_a);
}

}  // namespace convkit::python
