// The arrays of one convolution call: the input (given a batch axis of 1 when it came without one, as
// PyTorch accepts unbatched inputs) and the output (a new array, or `out=` checked), shaped by the spec.
#pragma once

#include <pybind11/pybind11.h>

#include <initializer_list>

#include "arrays.h"
#include "convkit/spec.h"

namespace convkit::python {

struct CallArrays {
  InputArray input;
  OutputArray output;
  TensorView output_view;  // the output with the batch axis the computation sees
};

// `input` is unbatched when it has `rank + 1` dimensions. `others` (weights, bias) must not overlap `out`.
// Call before releasing the GIL: shapes are checked and the output allocated here.
CallArrays prepare_call(InputArray input, const ConvSpec& spec, py::handle out,
                        std::initializer_list<const InputArray*> others);

}  // namespace convkit::python
