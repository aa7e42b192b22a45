// Optimizers: update parameters from their gradients (Parameter::grad), one step at a time.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "convkit/layers.h"

namespace convkit {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
};

// Keras SGD (nesterov=False): velocity = momentum * velocity - learning_rate * g; w += velocity.
// With momentum 0 this is plain gradient descent, w -= learning_rate * g.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Parameter*> parameters, double learning_rate, double momentum = 0.0);
  void step() override;

 private:
  std::vector<Parameter*> parameters_;
  double learning_rate_, momentum_;
  std::vector<std::vector<double>> velocity_;
};

struct AdamOptions {
  double learning_rate = 0.001;  // Keras defaults
  double beta_1 = 0.9;
  double beta_2 = 0.999;
  double epsilon = 1e-7;
};

// Adam (Kingma & Ba 2015, Algorithm 1, in the form of their section 2 that Keras implements):
//   m = beta_1 m + (1 - beta_1) g;  v = beta_2 v + (1 - beta_2) g^2;
//   lr_t = learning_rate * sqrt(1 - beta_2^t) / (1 - beta_1^t);  w -= lr_t * m / (sqrt(v) + epsilon).
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Parameter*> parameters, AdamOptions options = {});
  void step() override;

 private:
  std::vector<Parameter*> parameters_;
  AdamOptions options_;
  int64_t t_ = 0;
  std::vector<std::vector<double>> m_, v_;
};

// "sgd" or "adam" with the given learning rate (other settings Keras' defaults).
std::unique_ptr<Optimizer> make_optimizer(std::string_view name, std::vector<Parameter*> parameters,
                                          double learning_rate);

}  // namespace convkit
