// CompositePlan: validation of the stage chain and weights, the choice between the fused depthwise
// separable execution and the staged one (a ConvPlan per convolution stage, shuffles as copies), and
// the per-run glue (shape checks, staging of strided views, plan-owned intermediates).
#include "convkit/composite_plan.h"

#include <algorithm>
#include <mutex>
#include <optional>

#include "channel_shuffle.h"
#include "finite_scan.h"
#include "fused_separable.h"
#include "gemm_convolution.h"
#include "isa.h"
#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {
namespace {

// Each stage reads what the previous one wrote: same rank and layout, matching channels.
void check_chain(const Composite& composite) {
  if (composite.stages.empty() || composite.stages.front().is_shuffle())
    fail("CompositePlan: composite '", composite.kind, "' has ", composite.stages.size(),
         " stages; expected a convolution stage first");
  const ConvSpec& first = composite.stages.front().conv;
  int64_t channels = first.in_channels;
  for (const Stage& stage : composite.stages) {
    if (stage.is_shuffle()) {
      if (channels % stage.shuffle_groups != 0)
        fail("CompositePlan: stage '", stage.name, "' shuffle_groups=", stage.shuffle_groups, " does not divide the ",
             channels, " channels it shuffles");
      continue;
    }
    validate(stage.conv);
    if (stage.conv.rank != first.rank || stage.conv.layout != first.layout)
      fail("CompositePlan: stage '", stage.name, "' has rank=", stage.conv.rank,
           " layout=", to_string(stage.conv.layout), "; expected rank=", first.rank,
           " layout=", to_string(first.layout), " as the first stage");
    if (stage.conv.in_channels != channels)
      fail("CompositePlan: stage '", stage.name, "' in_channels=", stage.conv.in_channels, " does not match the ",
           channels, " channels the previous stage outputs");
    channels = stage.conv.out_channels;
  }
}

void check_weights(const Composite& composite, std::span<const StageWeights> weights) {
  const std::vector<ConvSpec> convs = conv_stages(composite);
  if (weights.size() != convs.size())
    fail("CompositePlan: got weights for ", weights.size(), " stages; expected ", convs.size(),
         " (one per convolution stage of '", composite.kind, "')");
  for (size_t i = 0; i < convs.size(); ++i) {
    check_weight_shape(convs[i], weights[i].weight.shape());
    if (weights[i].bias)
      check_bias_shape(convs[i], weights[i].bias->shape());
    else if (convs[i].bias)
      fail("CompositePlan: convolution stage ", i, " has bias=true but no bias tensor was given");
  }
}

}  // namespace

struct CompositePlan::Impl {
  Composite composite;
  CompositePlanOptions options;
  std::unique_ptr<cpu::FusedSeparable> fused;  // the fused execution, or null (staged)
  std::string not_fused;                       // why the staged execution runs
  std::vector<std::optional<ConvPlan>> plans;  // staged: per stage, empty for shuffles
  // staged: per stage, a gemm reading its input through the preceding shuffle (which then does not run),
  // or null
  std::vector<std::unique_ptr<cpu::GemmConvolution>> shuffled_reads;
  std::mutex mutex;                            // guards the intermediates
  std::vector<Tensor> intermediates;           // staged: the output of every stage but the last

  int threads() const { return options.threads > 0 ? options.threads : num_threads(); }
  bool shuffle_fused(size_t stage) const { return stage + 1 < shuffled_reads.size() && shuffled_reads[stage + 1]; }

  // Stage i's convolution reading channel_shuffle(input, G) through the gemm's channel runs when stage i - 1
  // is that shuffle and the stage's own plan chose a GEMM (gemm, or grouped_gemm: the same indirect GEMM with
  // tiles fitted to the group) -- the copy is what it saves; else null.
  std::unique_ptr<cpu::GemmConvolution> shuffled_read(size_t i, const StageWeights& w) const {
    if (i == 0 || !composite.stages[i - 1].is_shuffle()) return nullptr;
    const int64_t groups = composite.stages[i - 1].shuffle_groups;
    const std::string algorithm = plans[i]->algorithm();
    if (algorithm.rfind("gemm.", 0) != 0 && algorithm.rfind("grouped_gemm.", 0) != 0) return nullptr;
    if (!cpu::GemmConvolution::cannot_shuffle(composite.stages[i].conv, groups).empty()) return nullptr;
    const std::optional<Tensor> bias = w.bias ? std::optional(Tensor::copy_of(*w.bias)) : std::nullopt;
    return std::make_unique<cpu::GemmConvolution>(composite.stages[i].conv, w.weight, bias ? bias->data() : nullptr,
                                                  cpu::supported_isas().front(), groups);
  }

  // The fused execution when the composite is a depthwise stage then a pointwise stage, or why not.
  std::string try_fuse(std::span<const StageWeights> weights) {
    if (!options.fuse) return "fuse=false";
    if (composite.stages.size() != 2 || composite.stages[1].is_shuffle()) return "not a depthwise then pointwise pair";
    const ConvSpec& dw = composite.stages[0].conv;
    const ConvSpec& pw = composite.stages[1].conv;
    if (std::string reason = cpu::FusedSeparable::cannot(dw, pw); !reason.empty()) return reason;
    if (std::string reason = cpu::FusedSeparable::prefers_not(dw); !reason.empty()) return reason;
    const Tensor dw_weight = Tensor::copy_of(weights[0].weight), pw_weight = Tensor::copy_of(weights[1].weight);
    // As ConvPlan does (cpu::create_direct): the depthwise kernels would add 0 * Inf = NaN at zero padding.
    if (!cpu::all_finite(dw_weight.data(), dw_weight.numel()) || !cpu::all_finite(pw_weight.data(), pw_weight.numel()))
      return "the weights hold NaN or Inf";
    const std::optional<Tensor> dw_bias =
        weights[0].bias ? std::optional(Tensor::copy_of(*weights[0].bias)) : std::nullopt;
    const std::optional<Tensor> pw_bias =
        weights[1].bias ? std::optional(Tensor::copy_of(*weights[1].bias)) : std::nullopt;
    fused = std::make_unique<cpu::FusedSeparable>(dw, dw_weight.view(), dw_bias ? dw_bias->data() : nullptr, pw,
                                                  pw_weight.view(), pw_bias ? pw_bias->data() : nullptr,
                                                  cpu::supported_isas().front());
    return {};
  }

  // The staged execution into the contiguous `output`.
  void run_staged(ConstTensorView input, float* output) {
    const std::lock_guard<std::mutex> lock(mutex);
    intermediates.resize(composite.stages.size());
    ConstTensorView current = input;
    for (size_t i = 0; i < composite.stages.size(); ++i) {
      const Stage& stage = composite.stages[i];
      if (stage.is_shuffle() && shuffle_fused(i)) continue;  // the next stage reads through it
      const Shape shape = stage.is_shuffle() ? current.shape() : convkit::output_shape(stage.conv, current.shape());
      float* destination = output;
      if (i + 1 < composite.stages.size()) {
        if (intermediates[i].shape() != shape) intermediates[i] = Tensor(shape);
        destination = intermediates[i].data();
      }
      if (stage.is_shuffle())
        cpu::channel_shuffle(current, stage.shuffle_groups, composite.stages[0].conv.layout, destination, threads());
      else if (shuffled_reads[i])
        shuffled_reads[i]->run(current, destination, threads());
      else
        plans[i]->run(current, TensorView(destination, shape));
      current = ConstTensorView(destination, shape);
    }
  }
};

CompositePlan::CompositePlan(const Composite& composite, std::span<const StageWeights> weights,
                             CompositePlanOptions options)
    : impl_(std::make_unique<Impl>()) {
  check_chain(composite);
  check_weights(composite, weights);
  if (options.threads < 0)
    fail("CompositePlanOptions.threads=", options.threads, " must be >= 0 (0 = convkit::num_threads())");
  impl_->composite = composite;
  impl_->options = options;
  impl_->not_fused = impl_->try_fuse(weights);
  if (impl_->fused) return;
  size_t next_weight = 0;
  for (size_t i = 0; i < composite.stages.size(); ++i) {
    const Stage& stage = composite.stages[i];
    auto& plan = impl_->plans.emplace_back();
    auto& shuffled_read = impl_->shuffled_reads.emplace_back();
    if (stage.is_shuffle()) continue;
    const StageWeights& w = weights[next_weight++];
    plan.emplace(stage.conv, w.weight, w.bias, PlanOptions{.threads = options.threads, .accuracy = options.accuracy});
    if (options.fuse) shuffled_read = impl_->shuffled_read(i, w);
  }
}

CompositePlan::~CompositePlan() = default;
CompositePlan::CompositePlan(CompositePlan&&) noexcept = default;
CompositePlan& CompositePlan::operator=(CompositePlan&&) noexcept = default;

Shape CompositePlan::output_shape(const Shape& input_shape) const {
  Shape shape = input_shape;
  for (const Stage& stage : impl_->composite.stages)
    if (!stage.is_shuffle()) shape = convkit::output_shape(stage.conv, shape);
  return shape;
}

Tensor CompositePlan::run(ConstTensorView input) const {
  Tensor output(output_shape(input.shape()));
  run(input, output.view());
  return output;
}

void CompositePlan::run(ConstTensorView input, TensorView output) const {
  const Shape expected = output_shape(input.shape());
  if (output.shape() != expected)
    fail("CompositePlan: output of shape ", output.shape(), " does not match the expected ", expected);
  Tensor staged_input;
  if (!input.is_contiguous()) staged_input = Tensor::copy_of(input);
  const ConstTensorView x = input.is_contiguous() ? input : staged_input.view();
  Tensor staged_output;
  if (!output.is_contiguous()) staged_output = Tensor(expected);
  float* y = output.is_contiguous() ? output.data() : staged_output.data();
  if (impl_->fused)
    impl_->fused->run(x, y, impl_->threads());
  else
    impl_->run_staged(x, y);
  if (!output.is_contiguous()) copy_elements(staged_output.view(), output);
}

const Composite& CompositePlan::composite() const { return impl_->composite; }

bool CompositePlan::fused() const {
  return impl_->fused != nullptr ||
         std::any_of(impl_->shuffled_reads.begin(), impl_->shuffled_reads.end(), [](const auto& r) { return r != nullptr; });
}

std::string CompositePlan::algorithm() const {
  if (impl_->fused) return impl_->fused->name();
  std::string names;
  for (size_t i = 0; i < impl_->plans.size(); ++i) {
    const std::optional<ConvPlan>& plan = impl_->plans[i];
    if (impl_->shuffle_fused(i)) continue;
    names += (names.empty() ? "" : " > ") + (impl_->shuffled_reads[i] ? "shuffled." + impl_->shuffled_reads[i]->name()
                                             : plan ? plan->algorithm() : std::string("shuffle"));
  }
  return names;
}

std::string CompositePlan::explain() const {
  const Impl& impl = *impl_;
  std::string text;
  for (size_t i = 0; i < impl.composite.stages.size(); ++i) {
    const Stage& stage = impl.composite.stages[i];
    text += stage.name + ": ";
    if (impl.fused) {
      text += i == 0 ? "fused with " + impl.composite.stages[1].name + ": " + impl.fused->details()
                     : "fused with " + impl.composite.stages[0].name + " (see above)";
    } else if (stage.is_shuffle() && impl.shuffle_fused(i)) {
      text += "channel shuffle of " + std::to_string(stage.shuffle_groups) + " groups, fused into " +
              impl.composite.stages[i + 1].name + "'s input read (no copy)";
    } else if (impl.shuffled_reads[i]) {
      text += impl.shuffled_reads[i]->name() + " reading its input through the shuffle (channel runs)";
    } else if (stage.is_shuffle()) {
      text += "channel shuffle of " + std::to_string(stage.shuffle_groups) +
              " groups, a copy (not fused: " + impl.not_fused + ")";
    } else {
      text += impl.plans[i]->algorithm() + ", its own ConvPlan (not fused: " + impl.not_fused + ")";
    }
    text += "\n";
  }
  return text;
}

}  // namespace convkit
