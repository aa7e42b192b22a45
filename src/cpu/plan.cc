// ConvPlan: validation, the algorithm choice (the first entry of cpu::algorithms() that can compute the
// spec and does not step aside, each able to say why it declines), weight packing at creation, and the
// per-run glue (shape checks, staging of strided views).
#include <algorithm>
#include <vector>

#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/shape.h"
#include "algorithm.h"
#include "allocation.h"
#include "finite_scan.h"
#include "thread_pool.h"

namespace convkit {
namespace {

std::string algorithm_names() {
  std::string names;
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

const cpu::AlgorithmEntry* find_algorithm(std::string_view name) {
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms())
    if (entry.name == name) return &entry;
  return nullptr;
}

}  // namespace

std::string_view to_string(Accuracy accuracy) { return accuracy == Accuracy::strict ? "strict" : "fast"; }

Accuracy parse_accuracy(std::string_view text, std::string_view argument) {
  for (Accuracy accuracy : {Accuracy::fast, Accuracy::strict})
    if (to_string(accuracy) == text) return accuracy;
  fail(argument, "='", text, "' is not recognised; expected one of fast, strict");
}

void set_num_threads(int threads) {
  if (threads < 0) fail("set_num_threads: threads=", threads, " must be >= 0 (0 = every hardware thread)");
  cpu::set_default_threads(threads);
}

int num_threads() { return cpu::default_threads(); }

struct ConvPlan::Impl {
  // One candidate's outcome, formatted only when explain() asks (a plan is made in every functional call).
  struct Candidate {
    const cpu::AlgorithmEntry* entry;
    std::string declined;  // why it declined; empty for the chosen one
    bool computes;         // it could compute the spec: explain() states its error bound
  };
  ConvSpec spec;
  PlanOptions options;
  std::vector<Candidate> candidates;
  std::string non_finite_weights;  // the explanation when the weights hold NaN or Inf
  std::unique_ptr<cpu::Algorithm> algorithm;

  int threads() const { return options.threads > 0 ? options.threads : num_threads(); }
};

ConvPlan::ConvPlan(const ConvSpec& spec, ConstTensorView weight, std::optional<ConstTensorView> bias,
                   PlanOptions options)
    : impl_(std::make_unique<Impl>()) {
  validate(spec);
  check_weight_shape(spec, weight.shape());
  if (bias) check_bias_shape(spec, bias->shape());
  if (options.threads < 0) fail("PlanOptions.threads=", options.threads, " must be >= 0 (0 = convkit::num_threads())");
  const cpu::AlgorithmEntry* forced = nullptr;
  const std::string argument = "PlanOptions.algorithm=" + options.algorithm;
  const cpu::RequestedKernel requested = cpu::parse_requested_kernel(options.algorithm, argument);
  if (!options.algorithm.empty()) {
    forced = find_algorithm(requested.family);
    if (!forced)
      fail(argument, ": '", requested.family, "' is not one of: ", algorithm_names(),
           " (or empty to choose; family[.isa[.tile]], as plan.algorithm() names the kernel)");
    if (const std::string reason = forced->cannot(spec); !reason.empty())
      fail("PlanOptions.algorithm=", options.algorithm, " cannot compute ", describe(spec), ": ", reason);
    if (options.accuracy == Accuracy::strict && !forced->direct)
      fail("PlanOptions.algorithm=", options.algorithm,
           " transforms the data, but PlanOptions.accuracy=strict allows only direct algorithms");
  }
  impl_->spec = spec;
  impl_->options = options;

  // The algorithms read contiguous weights and bias (and keep only what they pack from them).
  const std::optional<Tensor> weight_buffer =
      weight.is_contiguous() ? std::nullopt : std::optional(Tensor::copy_of(weight));
  const ConstTensorView contiguous_weight = weight_buffer ? weight_buffer->view() : weight;
  const std::optional<Tensor> bias_copy = bias ? std::optional(Tensor::copy_of(*bias)) : std::nullopt;
  const cpu::Isa isa = requested.isa.value_or(cpu::supported_isas().front());
  if (!cpu::all_finite(contiguous_weight.data(), contiguous_weight.numel())) {  // see cpu::create_direct
    impl_->algorithm = cpu::create_direct(spec, contiguous_weight, bias_copy ? bias_copy->data() : nullptr, isa);
    impl_->non_finite_weights = "weights hold NaN or Inf: " + impl_->algorithm->name() +
                         ", which has no term for a zero-padding cell (the other algorithms would add 0 * Inf = NaN " +
                         "there)" + (forced ? ", instead of the requested " + options.algorithm : "") + "\n";
    return;
  }
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
    if (std::string reason = entry.cannot(spec); !reason.empty()) {
      impl_->candidates.push_back({&entry, std::move(reason), false});
      continue;
    }
    std::string reason;
    if (forced && &entry != forced) reason = "not requested (algorithm=" + options.algorithm + ")";
    else if (!forced && options.accuracy == Accuracy::strict && !entry.direct)
      reason = "accuracy=strict: a transform, not a direct sum";
    else if (!forced) reason = entry.prefers_not(spec);
    const bool chosen = reason.empty();
    impl_->candidates.push_back({&entry, std::move(reason), true});
    if (!chosen) continue;
    impl_->algorithm = entry.create(spec, contiguous_weight, bias_copy ? bias_copy->data() : nullptr, isa);
    if (requested.whole_name && impl_->algorithm->name() != options.algorithm)
      fail(argument, ": for ", describe(spec), " ", entry.name, " on ", cpu::to_string(isa), " runs ",
           impl_->algorithm->name());
    return;
  }
  fail("internal error: no algorithm accepts ", describe(spec));  // unreachable: the reference accepts every spec
}

ConvPlan::~ConvPlan() = default;
ConvPlan::ConvPlan(ConvPlan&&) noexcept = default;
ConvPlan& ConvPlan::operator=(ConvPlan&&) noexcept = default;

Tensor ConvPlan::run(ConstTensorView input) const {
  const Shape shape = output_shape(impl_->spec, input.shape());
  Tensor output = cpu::allocating("the output tensor of shape " + to_string(shape), element_count(shape), sizeof(float),
                                  [&] { return Tensor(shape); });
  run(input, output.view());
  return output;
}

void ConvPlan::run(ConstTensorView input, TensorView output) const {
  const ConvSpec& spec = impl_->spec;
  const Shape expected = output_shape(spec, input.shape());
  if (output.shape() != expected)
    fail(spec.transposed ? "conv_transpose" : "conv", ": output of shape ", output.shape(),
         " does not match the expected ", expected);
  Tensor staged_input;
  if (!input.is_contiguous())
    staged_input = cpu::allocating("a contiguous copy of the input", input.numel(), sizeof(float),
                                   [&] { return Tensor::copy_of(input); });
  const ConstTensorView x = input.is_contiguous() ? input : staged_input.view();
  // The algorithms name their large buffers; any other allocation failing in them is their workspace.
  const auto compute = [&](auto&& run) {
    try {
      return run();
    } catch (const std::bad_alloc&) {
      cpu::fail_out_of_memory("the workspace of " + impl_->algorithm->name() + " on an input of shape " +
                                  to_string(x.shape()),
                              static_cast<double>(impl_->algorithm->workspace_bytes(x.shape(), impl_->threads())));
    }
  };
  if (output.is_contiguous()) {
    compute([&] { impl_->algorithm->run(x, output.data(), impl_->threads()); });
    return;
  }
  if (compute([&] { return impl_->algorithm->run_strided(x, output, impl_->threads()); })) return;
  Tensor staged_output = cpu::allocating("a contiguous output of shape " + to_string(expected), element_count(expected),
                                         sizeof(float), [&] { return Tensor(expected); });
  compute([&] { impl_->algorithm->run(x, staged_output.data(), impl_->threads()); });
  copy_elements(staged_output.view(), output);
}

const ConvSpec& ConvPlan::spec() const { return impl_->spec; }

std::string ConvPlan::algorithm() const { return impl_->algorithm->name(); }

std::string ConvPlan::explain() const {
  if (!impl_->non_finite_weights.empty()) return impl_->non_finite_weights;
  // One line per candidate: chosen or why it declined, and its error bound where it could compute the spec.
  std::string text;
  for (const Impl::Candidate& c : impl_->candidates) {
    text += std::string(c.entry->name) + ": " +
            (c.declined.empty() ? "chosen, " + impl_->algorithm->details() : "declined: " + c.declined);
    if (c.computes) text += "; error: " + c.entry->error_bound(impl_->spec);
    text += "\n";
  }
  return text;
}

std::size_t ConvPlan::packed_bytes() const { return impl_->algorithm->packed_bytes(); }

std::size_t ConvPlan::workspace_bytes(const Shape& input_shape) const {
  (void)output_shape(impl_->spec, input_shape);  // checks the shape fits the spec
  return impl_->algorithm->workspace_bytes(input_shape, impl_->threads());
}

}  // namespace convkit
