#include "call.h"

#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit::python {

CallArrays prepare_call(InputArray input, const ConvSpec& spec, py::handle out,
                        std::initializer_list<const InputArray*> others) {
  const bool unbatched = input.view.rank() == spec.rank + 1;
  if (unbatched) input.add_batch_axis();
  const Shape batched_output = output_shape(spec, input.view.shape());
  const Shape returned = unbatched ? Shape(batched_output.begin() + 1, batched_output.end()) : batched_output;
  std::vector<const InputArray*> inputs{&input};
  inputs.insert(inputs.end(), others.begin(), others.end());
  OutputArray output = output_array(out, returned, inputs);
  TensorView output_view = output.view;
  if (unbatched) {
    Shape strides = output_view.strides();
    strides.insert(strides.begin(), 0);  // the one image's stride is never stepped
    output_view = TensorView(output_view.data(), batched_output, strides);
  }
  return {std::move(input), std::move(output), output_view};
}

}  // namespace convkit::python
