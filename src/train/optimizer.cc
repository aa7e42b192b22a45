#include "convkit/optimizer.h"

#include <cmath>

#include "convkit/error.h"

namespace convkit {
namespace {

// One zero-filled double buffer per parameter (optimizer state), checking that every gradient is there.
std::vector<std::vector<double>> zero_state(const std::vector<Parameter*>& parameters) {
  std::vector<std::vector<double>> state;
  for (const Parameter* p : parameters) state.emplace_back(static_cast<size_t>(p->value.numel()), 0.0);
  return state;
}

void check_grad(const Parameter& p) {
  if (p.grad.shape() != p.value.shape())
    fail("optimizer: parameter '", p.name, "' of shape ", p.value.shape(), " has a gradient of shape ", p.grad.shape());
}

void check_learning_rate(double learning_rate) {
  if (!(learning_rate > 0.0) || !std::isfinite(learning_rate))
    fail("learning_rate=", learning_rate, " must be a positive finite number");
}

}  // namespace

Sgd::Sgd(std::vector<Parameter*> parameters, double learning_rate, double momentum)
    : parameters_(std::move(parameters)), learning_rate_(learning_rate), momentum_(momentum),
      velocity_(zero_state(parameters_)) {
  check_learning_rate(learning_rate);
  if (!(momentum >= 0.0 && momentum < 1.0)) fail("momentum=", momentum, " must be in [0, 1)");
}

void Sgd::step() {
  for (size_t k = 0; k < parameters_.size(); ++k) {
    Parameter& p = *parameters_[k];
    check_grad(p);
    for (int64_t i = 0; i < p.value.numel(); ++i) {
      double& velocity = velocity_[k][static_cast<size_t>(i)];
      velocity = momentum_ * velocity - learning_rate_ * p.grad[i];
      p.value[i] = static_cast<float>(p.value[i] + velocity);
    }
  }
}

Adam::Adam(std::vector<Parameter*> parameters, AdamOptions options)
    : parameters_(std::move(parameters)), options_(options), m_(zero_state(parameters_)), v_(zero_state(parameters_)) {
  check_learning_rate(options.learning_rate);
  if (!(options.beta_1 >= 0.0 && options.beta_1 < 1.0 && options.beta_2 >= 0.0 && options.beta_2 < 1.0))
    fail("adam: beta_1=", options.beta_1, " and beta_2=", options.beta_2, " must be in [0, 1)");
  if (!(options.epsilon > 0.0)) fail("adam: epsilon=", options.epsilon, " must be > 0");
}

void Adam::step() {
  ++t_;
  const auto t = static_cast<double>(t_);
  const double lr_t = options_.learning_rate * std::sqrt(1.0 - std::pow(options_.beta_2, t)) /
                      (1.0 - std::pow(options_.beta_1, t));
  for (size_t k = 0; k < parameters_.size(); ++k) {
    Parameter& p = *parameters_[k];
    check_grad(p);
    for (int64_t i = 0; i < p.value.numel(); ++i) {
      const double g = p.grad[i];
      double& m = m_[k][static_cast<size_t>(i)];
      double& v = v_[k][static_cast<size_t>(i)];
      m = options_.beta_1 * m + (1.0 - options_.beta_1) * g;
      v = options_.beta_2 * v + (1.0 - options_.beta_2) * g * g;
      p.value[i] = static_cast<float>(p.value[i] - lr_t * m / (std::sqrt(v) + options_.epsilon));
    }
  }
}

std::unique_ptr<Optimizer> make_optimizer(std::string_view name, std::vector<Parameter*> parameters,
                                          double learning_rate) {
  if (name == "sgd") return std::make_unique<Sgd>(std::move(parameters), learning_rate);
  if (name == "adam") {
    AdamOptions options;
    options.learning_rate = learning_rate;
    return std::make_unique<Adam>(std::move(parameters), options);
  }
  fail("optimizer=", name, " is not known; expected sgd or adam");
}

}  // namespace convkit
