#include "convkit/layers.h"

#include <algorithm>
#include <sstream>

#include "convkit/backward_plan.h"
#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {
namespace {

void check_backward(const char* layer, const Shape& expected, const Tensor& grad_output) {
  if (expected.empty()) fail(layer, ": backward called before forward");
  if (grad_output.shape() != expected)
    fail(layer, ": grad_output of shape ", grad_output.shape(), " does not match the forward output shape ", expected);
}

Parameter zeros_parameter(std::string name, Shape shape) {
  Tensor value(shape);
  return {std::move(name), std::move(value), Tensor(std::move(shape))};
}

Parameter initialized_parameter(std::string name, Shape shape, Initializer init, Fans fans, Rng& rng) {
  Parameter p = zeros_parameter(std::move(name), std::move(shape));
  initialize(p.value, init, fans, rng);
  return p;
}

}  // namespace

// --- ConvLayer ---

ConvLayer::ConvLayer(const ConvSpec& spec, Rng& rng, Initializer init)
    : spec_(spec),
      weight_(initialized_parameter("weight", weight_shape(spec), init, conv_fans(spec), rng)),
      bias_(zeros_parameter("bias", spec.bias ? bias_shape(spec) : Shape{0})) {}

Tensor ConvLayer::forward(const Tensor& input) {
  input_ = input;
  // The plan holds the current weights; plans are cheap to make and the weights change every step.
  const ConvPlan plan(spec_, weight_.value,
                      spec_.bias ? std::optional<ConstTensorView>(bias_.value.view()) : std::nullopt);
  return plan.run(input);
}

Tensor ConvLayer::backward(const Tensor& grad_output) {
  check_backward("conv layer", input_.numel() ? output_shape(spec_, input_.shape()) : Shape{}, grad_output);
  // The fast backward plans (as the forward plan, made per step: the weights change every step).
  WeightGradients grads = BackwardWeightsPlan(spec_).run(input_, grad_output);
  weight_.grad = std::move(grads.weight);
  if (spec_.bias) bias_.grad = std::move(*grads.bias);
  return BackwardDataPlan(spec_, weight_.value).run(grad_output, input_.shape());
}

std::vector<Parameter*> ConvLayer::parameters() {
  if (spec_.bias) return {&weight_, &bias_};
  return {&weight_};
}

std::string ConvLayer::describe() const { return convkit::describe(spec_); }

// --- ReLU ---

Tensor ReLU::forward(const Tensor& input) {
  input_ = input;
  Tensor output = input;
  for (int64_t i = 0; i < output.numel(); ++i) output[i] = output[i] > 0.0f ? output[i] : 0.0f;
  return output;
}

Tensor ReLU::backward(const Tensor& grad_output) {
  check_backward("relu", input_.shape(), grad_output);
  Tensor grad = grad_output;
  for (int64_t i = 0; i < grad.numel(); ++i)
    if (!(input_[i] > 0.0f)) grad[i] = 0.0f;
  return grad;
}

// --- GlobalAveragePool ---

namespace {
// (N, C, cells) strides of an activation: the position of (n, c, cell) in either layout.
struct PoolGeometry {
  int64_t batch = 0, channels = 0, cells = 0;
  int64_t offset(int64_t n, int64_t c, int64_t cell, Layout layout) const {
    return layout == Layout::channels_first ? (n * channels + c) * cells + cell : (n * cells + cell) * channels + c;
  }
};

PoolGeometry pool_geometry(const Shape& shape, Layout layout) {
  if (shape.size() < 3)
    fail("global average pool: input of shape ", shape, " has no spatial axis; expected (N, C, spatial...) or ",
         "(N, spatial..., C)");
  const int64_t channels = layout == Layout::channels_first ? shape[1] : shape.back();
  return {shape[0], channels, element_count(shape) / std::max<int64_t>(1, shape[0] * channels)};
}
}  // namespace

Tensor GlobalAveragePool::forward(const Tensor& input) {
  const PoolGeometry g = pool_geometry(input.shape(), layout_);
  if (g.cells == 0) fail("global average pool: input of shape ", input.shape(), " has no cells to average");
  input_shape_ = input.shape();
  Tensor output({g.batch, g.channels});
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      double sum = 0.0;
      for (int64_t cell = 0; cell < g.cells; ++cell) sum += input[g.offset(n, c, cell, layout_)];
      output[n * g.channels + c] = static_cast<float>(sum / static_cast<double>(g.cells));
    }
  return output;
}

Tensor GlobalAveragePool::backward(const Tensor& grad_output) {
  if (input_shape_.empty()) fail("global average pool: backward called before forward");
  const PoolGeometry g = pool_geometry(input_shape_, layout_);
  check_backward("global average pool", {g.batch, g.channels}, grad_output);
  Tensor grad(input_shape_);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      const float share = static_cast<float>(grad_output[n * g.channels + c] / static_cast<double>(g.cells));
      for (int64_t cell = 0; cell < g.cells; ++cell) grad[g.offset(n, c, cell, layout_)] = share;
    }
  return grad;
}

std::string GlobalAveragePool::describe() const {
  return std::string("global_average_pool ") + std::string(to_string(layout_));
}

// --- Dense ---

Dense::Dense(int64_t inputs, int64_t outputs, Rng& rng, Initializer init)
    : weight_(initialized_parameter("weight", {inputs, outputs}, init, keras_fans(Shape{inputs, outputs}), rng)),
      bias_(zeros_parameter("bias", {outputs})) {
  if (inputs < 1 || outputs < 1) fail("dense: inputs=", inputs, " and outputs=", outputs, " must be >= 1");
}

Tensor Dense::forward(const Tensor& input) {
  const int64_t in = weight_.value.dim(0), out = weight_.value.dim(1);
  if (input.rank() != 2 || input.dim(1) != in)
    fail("dense: input of shape ", input.shape(), " does not fit a kernel of shape ", weight_.value.shape(),
         "; expected (N, ", in, ")");
  input_ = input;
  Tensor output({input.dim(0), out});
  for (int64_t n = 0; n < input.dim(0); ++n)
    for (int64_t o = 0; o < out; ++o) {
      double sum = bias_.value[o];
      for (int64_t i = 0; i < in; ++i) sum += static_cast<double>(input[n * in + i]) * weight_.value[i * out + o];
      output[n * out + o] = static_cast<float>(sum);
    }
  return output;
}

Tensor Dense::backward(const Tensor& grad_output) {
  const int64_t in = weight_.value.dim(0), out = weight_.value.dim(1);
  check_backward("dense", input_.numel() ? Shape{input_.dim(0), out} : Shape{}, grad_output);
  const int64_t batch = input_.dim(0);
  Tensor grad_input(input_.shape());
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o) {  // dL/dW = x^T g
      double sum = 0.0;
      for (int64_t n = 0; n < batch; ++n) sum += static_cast<double>(input_[n * in + i]) * grad_output[n * out + o];
      weight_.grad[i * out + o] = static_cast<float>(sum);
    }
  for (int64_t o = 0; o < out; ++o) {  // dL/db = sum over the batch of g
    double sum = 0.0;
    for (int64_t n = 0; n < batch; ++n) sum += grad_output[n * out + o];
    bias_.grad[o] = static_cast<float>(sum);
  }
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < in; ++i) {  // dL/dx = g W^T
      double sum = 0.0;
      for (int64_t o = 0; o < out; ++o)
        sum += static_cast<double>(grad_output[n * out + o]) * weight_.value[i * out + o];
      grad_input[n * in + i] = static_cast<float>(sum);
    }
  return grad_input;
}

std::vector<Parameter*> Dense::parameters() { return {&weight_, &bias_}; }

std::string Dense::describe() const {
  std::ostringstream out;
  out << "dense " << weight_.value.dim(0) << "->" << weight_.value.dim(1);
  return out.str();
}

// --- Sequential ---

Layer& Sequential::add(std::unique_ptr<Layer> layer) {
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (auto& layer : layers_) x = layer->forward(x);
  return x;
}

Tensor Sequential::backward(const Tensor& grad_output) {
  Tensor grad = grad_output;
  for (size_t i = layers_.size(); i-- > 0;) grad = layers_[i]->backward(grad);
  return grad;
}

std::vector<Parameter*> Sequential::parameters() {
  std::vector<Parameter*> all;
  for (auto& layer : layers_)
    for (Parameter* p : layer->parameters()) all.push_back(p);
  return all;
}

std::string Sequential::describe() const {
  std::ostringstream text;
  for (size_t i = 0; i < layers_.size(); ++i) text << (i ? "\n" : "") << layers_[i]->describe();
  return text.str();
}

}  // namespace convkit
