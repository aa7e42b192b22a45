// One registration function per concept of the extension module (module.cc calls them in order).
#pragma once

#include <pybind11/pybind11.h>

namespace convkit::python {

namespace py = pybind11;

void register_functions(py::module_& module);   // functions.cc: conv, conv1d..3d, conv_transpose1d..3d
void register_plan(py::module_& module);        // plan.cc: ConvSpec, Plan
void register_backward(py::module_& module);    // backward.cc: conv_backward_data/weights/bias
void register_composites(py::module_& module);  // composites.cc: Composite, CompositePlan, builders
void register_cost(py::module_& module);        // cost.cc: cost, summary

}  // namespace convkit::python
