// The extension module convkit._convkit. Errors: convkit::Error (a bad argument or shape, with convkit's
// message naming it) becomes ValueError, std::bad_alloc MemoryError (pybind11's own translation), and a
// vector too long to allocate (std::length_error) MemoryError too; the bindings raise TypeError themselves.
#include <new>
#include <stdexcept>

#include "bindings.h"
#include "convkit/conv.h"
#include "convkit/error.h"
#include "spec_arguments.h"

namespace py = pybind11;
using namespace pybind11::literals;

PYBIND11_MODULE(_convkit, module) {
  module.doc() = "convkit's compiled extension; use the convkit package.";
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const convkit::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::length_error& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });

  module.def(
      "set_num_threads",
      [](py::object threads) {
        convkit::set_num_threads(convkit::python::plan_threads(convkit::python::int_value(threads, "threads")));
      },
      "threads"_a,
      "Threads convkit's computations use (plans made with threads=0); 0 (the default) = OMP_NUM_THREADS when "
      "it is a positive integer (read once, as PyTorch does), else every hardware thread. "
      "Results are bit-identical for every thread count.");
  module.def("get_num_threads", &convkit::num_threads, "Threads convkit's computations use.");

  convkit::python::register_functions(module);
  convkit::python::register_plan(module);
  convkit::python::register_backward(module);
  convkit::python::register_composites(module);
  convkit::python::register_cost(module);
}
