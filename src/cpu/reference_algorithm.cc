#include "reference_algorithm.h"

#include "convkit/reference.h"
#include "convkit/shape.h"

namespace convkit::cpu {

ReferenceAlgorithm::ReferenceAlgorithm(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa)
    : spec_(spec), weight_(Tensor::copy_of(weight)) {
  if (bias) bias_ = Tensor::copy_of(ConstTensorView(bias, Shape{spec.out_channels}));
}

void ReferenceAlgorithm::run(ConstTensorView input, float* output, int) const {
  const TensorView out(output, output_shape(spec_, input.shape()));
  reference::convolution(spec_, input, weight_.view(),
                         bias_ ? std::optional<ConstTensorView>(bias_->view()) : std::nullopt, out);
}

std::size_t ReferenceAlgorithm::packed_bytes() const {
  return static_cast<std::size_t>(weight_.numel() + (bias_ ? bias_->numel() : 0)) * sizeof(float);
}

std::size_t ReferenceAlgorithm::workspace_bytes(const Shape& input_shape, int) const {
  return static_cast<std::size_t>(element_count(input_shape)) * sizeof(double);  // the reference's staging, roughly
}

}  // namespace convkit::cpu
