// ConvPlan: validation, the algorithm choice (an ordered list of candidates, each able to say why it
// declines), weight packing at creation, and the per-run glue (shape checks, layouts of the views).
#include <algorithm>
#include <thread>
#include <variant>

#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "gemm_convolution.h"
#include "isa.h"

namespace convkit {
namespace {

int g_threads = 0;

// The exact reference engine, for the specs no fast algorithm computes yet.
struct ReferenceAlgorithm {
  Tensor weight;
  std::optional<Tensor> bias;
};

using Algorithm = std::variant<cpu::GemmConvolution, ReferenceAlgorithm>;

// Candidates in order of preference.
constexpr std::string_view kGemm = "gemm";
constexpr std::string_view kReference = "reference";

void copy_into(ConstTensorView from, TensorView to) {
  Shape index(from.shape().size(), 0);
  if (from.numel() == 0) return;
  do to[index] = from[index];
  while (next_index(index, from.shape()));
}

}  // namespace

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
  PlanOptions options;
  std::string explanation;
  std::optional<Algorithm> algorithm;

  int threads() const { return options.threads > 0 ? options.threads : num_threads(); }
};

ConvPlan::ConvPlan(const ConvSpec& spec, ConstTensorView weight, std::optional<ConstTensorView> bias,
                   PlanOptions options)
    : impl_(std::make_unique<Impl>()) {
  validate(spec);
  check_weight_shape(spec, weight.shape());
  if (bias) check_bias_shape(spec, bias->shape());
  if (options.threads < 0) fail("PlanOptions.threads=", options.threads, " must be >= 0 (0 = convkit::num_threads())");
  if (!options.algorithm.empty() && options.algorithm != kGemm && options.algorithm != kReference)
    fail("PlanOptions.algorithm=", options.algorithm, " is not one of: gemm, reference (or empty to choose)");
  impl_->spec = spec;
  impl_->options = options;

  const Tensor packed_weight = Tensor::copy_of(weight);
  const std::optional<Tensor> packed_bias = bias ? std::optional(Tensor::copy_of(*bias)) : std::nullopt;
  const std::string gemm_declines = cpu::GemmConvolution::declines(spec);
  const bool want_gemm = options.algorithm.empty() || options.algorithm == kGemm;
  if (want_gemm && gemm_declines.empty()) {
    const cpu::Isa isa = cpu::supported_isas().front();
    impl_->algorithm.emplace(std::in_place_type<cpu::GemmConvolution>, spec, packed_weight.view(),
                             packed_bias ? packed_bias->data() : nullptr, isa);
    const auto& gemm = std::get<cpu::GemmConvolution>(*impl_->algorithm);
    impl_->explanation = "gemm: chosen, micro-kernel " + gemm.kernel().name() + " (" +
                         (gemm.kernel().indirect ? "input read through row pointers" : "input tiles packed") + ")\n";
    return;
  }
  if (options.algorithm == kGemm) fail("PlanOptions.algorithm=gemm cannot compute ", describe(spec), ": ", gemm_declines);
  impl_->explanation = "gemm: declined: " +
                       (gemm_declines.empty() ? std::string("not requested (algorithm=reference)") : gemm_declines) +
                       "\nreference: chosen (exact, double accumulation; slow)\n";
  impl_->algorithm.emplace(ReferenceAlgorithm{packed_weight, packed_bias});
}

ConvPlan::~ConvPlan() = default;
ConvPlan::ConvPlan(ConvPlan&&) noexcept = default;
ConvPlan& ConvPlan::operator=(ConvPlan&&) noexcept = default;

Tensor ConvPlan::run(ConstTensorView input) const {
  Tensor output(output_shape(impl_->spec, input.shape()));
  run(input, output.view());
  return output;
}

void ConvPlan::run(ConstTensorView input, TensorView output) const {
  const ConvSpec& spec = impl_->spec;
  const Shape expected = output_shape(spec, input.shape());
  if (output.shape() != expected)
    fail(spec.transposed ? "conv_transpose" : "conv", ": output of shape ", output.shape(),
         " does not match the expected ", expected);
  if (const auto* ref = std::get_if<ReferenceAlgorithm>(&*impl_->algorithm)) {
    reference::convolution(spec, input, ref->weight.view(),
                           ref->bias ? std::optional<ConstTensorView>(ref->bias->view()) : std::nullopt, output);
    return;
  }
  const auto& gemm = std::get<cpu::GemmConvolution>(*impl_->algorithm);
  Tensor staged_input;
  if (!input.is_contiguous()) staged_input = Tensor::copy_of(input);
  const ConstTensorView x = input.is_contiguous() ? input : staged_input.view();
  if (output.is_contiguous()) {
    gemm.run(x, output.data(), impl_->threads());
    return;
  }
  Tensor staged_output(expected);
  gemm.run(x, staged_output.data(), impl_->threads());
  copy_into(staged_output.view(), output);
}

const ConvSpec& ConvPlan::spec() const { return impl_->spec; }

std::string ConvPlan::algorithm() const {
  if (const auto* gemm = std::get_if<cpu::GemmConvolution>(&*impl_->algorithm)) return gemm->kernel().name();
  return std::string(kReference);
}

std::string ConvPlan::explain() const { return impl_->explanation; }

std::size_t ConvPlan::packed_bytes() const {
  if (const auto* gemm = std::get_if<cpu::GemmConvolution>(&*impl_->algorithm)) return gemm->packed_bytes();
  const auto& ref = std::get<ReferenceAlgorithm>(*impl_->algorithm);
  return static_cast<std::size_t>(ref.weight.numel() + (ref.bias ? ref.bias->numel() : 0)) * sizeof(float);
}

std::size_t ConvPlan::workspace_bytes(const Shape& input_shape) const {
  const Shape out = output_shape(impl_->spec, input_shape);  // checks the shape fits the spec
  if (const auto* gemm = std::get_if<cpu::GemmConvolution>(&*impl_->algorithm)) return gemm->workspace_bytes(impl_->threads());
  return static_cast<std::size_t>(element_count(input_shape)) * sizeof(double);  // the reference's staging, roughly
}

}  // namespace convkit
