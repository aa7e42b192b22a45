// A tiny layer stack for training small networks with convkit's convolutions: each layer computes its
// forward pass, keeps what its backward pass needs, and turns dL/d(output) into dL/d(input) while
// storing the gradients of its parameters. Convolutions run forward through a ConvPlan and backward
// through the backward plans (convkit/backward_plan.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "convkit/init.h"
#include "convkit/random.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

// A trainable tensor and the gradient of the loss with respect to it (same shape).
struct Parameter {
  std::string name;
  Tensor value;
  Tensor grad;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual Tensor forward(const Tensor& input) = 0;
  // dL/d(input) from dL/d(output) of the last forward call; sets the gradients of the parameters.
  virtual Tensor backward(const Tensor& grad_output) = 0;
  virtual std::vector<Parameter*> parameters() { return {}; }
  virtual std::string describe() const = 0;
};

// A convolution layer (any ConvSpec); the kernel drawn from `init` with the Keras fans of the spec,
// the bias (if spec.bias) zeros, as Keras' Conv layers.
class ConvLayer : public Layer {
 public:
  ConvLayer(const ConvSpec& spec, Rng& rng, Initializer init = Initializer::glorot_uniform);
  Tensor forward(const Tensor& input) override;
  Tensor backward(const Tensor& grad_output) override;
  std::vector<Parameter*> parameters() override;
  std::string describe() const override;
  const ConvSpec& spec() const { return spec_; }
  Parameter& weight() { return weight_; }

 private:
  ConvSpec spec_;
  Parameter weight_, bias_;
  Tensor input_;
};

// max(x, 0); its derivative is taken as 0 at 0 (TensorFlow's ReluGrad, PyTorch's threshold_backward).
class ReLU : public Layer {
 public:
  Tensor forward(const Tensor& input) override;
  Tensor backward(const Tensor& grad_output) override;
  std::string describe() const override { return "relu"; }

 private:
  Tensor input_;
};

// The mean over every spatial position per channel: (N, C, spatial...) or (N, spatial..., C) -> (N, C)
// (Keras GlobalAveragePooling1D/2D/3D).
class GlobalAveragePool : public Layer {
 public:
  explicit GlobalAveragePool(Layout layout) : layout_(layout) {}
  Tensor forward(const Tensor& input) override;
  Tensor backward(const Tensor& grad_output) override;
  std::string describe() const override;

 private:
  Layout layout_;
  Shape input_shape_;
};

// y = x W + b with x (N, in), W (in, out), b (out) (Keras Dense: kernel (input_dim, units), glorot_uniform,
// bias zeros).
class Dense : public Layer {
 public:
  Dense(int64_t inputs, int64_t outputs, Rng& rng, Initializer init = Initializer::glorot_uniform);
  Tensor forward(const Tensor& input) override;
  Tensor backward(const Tensor& grad_output) override;
  std::vector<Parameter*> parameters() override;
  std::string describe() const override;

 private:
  Parameter weight_, bias_;
  Tensor input_;
};

// Layers applied in order.
class Sequential {
 public:
  Layer& add(std::unique_ptr<Layer> layer);
  Tensor forward(const Tensor& input);
  Tensor backward(const Tensor& grad_output);
  std::vector<Parameter*> parameters();
  // One line per layer, e.g. "conv1d 3->16 k=[5] ... | relu | ...".
  std::string describe() const;
  size_t size() const { return layers_.size(); }
  Layer& operator[](size_t i) { return *layers_[i]; }

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace convkit
