// Provisional ConvPlan: validates and runs the reference engine until the packed GEMM engine lands.
#include <algorithm>
#include <thread>

#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/reference.h"
#include "convkit/shape.h"

namespace convkit {
namespace {
int g_threads = 0;
}

void set_num_threads(int threads) {
  if (threads < 0) fail("set_num_threads: threads=", threads, " must be >= 0 (0 = every hardware thread)");
  g_threads = threads;
}

int num_threads() {
  if (g_threads > 0) return g_threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

struct ConvPlan::Impl {
  ConvSpec spec;
  Tensor weight;
  std::optional<Tensor> bias;
};

ConvPlan::ConvPlan(const ConvSpec& spec, ConstTensorView weight, std::optional<ConstTensorView> bias, PlanOptions)
    : impl_(std::make_unique<Impl>(Impl{spec, Tensor::copy_of(weight), std::nullopt})) {
  validate(spec);
  check_weight_shape(spec, weight.shape());
  if (bias) {
    check_bias_shape(spec, bias->shape());
    impl_->bias = Tensor::copy_of(*bias);
  }
}
ConvPlan::~ConvPlan() = default;
ConvPlan::ConvPlan(ConvPlan&&) noexcept = default;
ConvPlan& ConvPlan::operator=(ConvPlan&&) noexcept = default;

Tensor ConvPlan::run(ConstTensorView input) const {
  return reference::convolution(impl_->spec, input, impl_->weight.view(),
                                impl_->bias ? std::optional<ConstTensorView>(impl_->bias->view()) : std::nullopt);
}
void ConvPlan::run(ConstTensorView input, TensorView output) const {
  reference::convolution(impl_->spec, input, impl_->weight.view(),
                         impl_->bias ? std::optional<ConstTensorView>(impl_->bias->view()) : std::nullopt, output);
}
const ConvSpec& ConvPlan::spec() const { return impl_->spec; }
std::string ConvPlan::algorithm() const { return "reference"; }
std::string ConvPlan::explain() const { return "reference: chosen (provisional plan)\n"; }
std::size_t ConvPlan::packed_bytes() const { return impl_->weight.values().size() * sizeof(float); }
std::size_t ConvPlan::workspace_bytes(const Shape&) const { return 0; }

}  // namespace convkit
