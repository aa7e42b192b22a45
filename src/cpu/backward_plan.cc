// BackwardDataPlan (an adjoint ConvPlan per input size, plus what the adjoint spec alone does not give:
// exact input size, padding modes) and BackwardWeightsPlan (the first entry of
// cpu::weight_gradient_algorithms() that computes the spec, plus the bias gradient), see convkit/backward_plan.h.
#include "convkit/backward_plan.h"
#include "driver_util.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <vector>

#include "convkit/error.h"
#include "convkit/shape.h"
#include "weight_gradient_algorithm.h"
#include "wgrad_kernel.h"

namespace convkit {

using cpu::kMaxRank;

namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

std::string op_name(const ConvSpec& spec, const char* direction) {
  return std::string(spec.transposed ? "conv_transpose" : "conv") + direction;
}

int threads_of(const PlanOptions& options) { return options.threads > 0 ? options.threads : num_threads(); }

void check_options(const PlanOptions& options) {
  if (options.threads < 0) fail("PlanOptions.threads=", options.threads, " must be >= 0 (0 = convkit::num_threads())");
}

// The weight of a stride-1 convolution re-laid out as the weight of the convolution that computes its
// input gradient: input and output channels swapped within each group. In (outer, inner, tap) terms,
// channels_first (outer, inner, k...) and channels_last (k..., inner, outer) alike:
//   swapped[g*Cin_g + c][o][tap] = weight[g*Cout_g + o][c][tap].
Tensor swap_channels(const ConvSpec& spec, const Tensor& weight) {
  const int64_t in_g = spec.in_channels / spec.groups, out_g = spec.out_channels / spec.groups;
  const int64_t taps = weight.numel() / (spec.out_channels * in_g);
  const bool last = spec.layout == Layout::channels_last;
  // (outer, inner, tap) strides of a weight whose outer axis has `outer` channels and inner `inner`.
  auto strides = [&](int64_t outer, int64_t inner) {
    return last ? std::array<int64_t, 3>{1, outer, inner * outer} : std::array<int64_t, 3>{inner * taps, taps, 1};
  };
  const auto from = strides(spec.out_channels, in_g), to = strides(spec.in_channels, out_g);
  ConvSpec swapped_spec = spec;
  std::swap(swapped_spec.in_channels, swapped_spec.out_channels);
  Tensor swapped(weight_shape(swapped_spec));
  for (int64_t g = 0; g < spec.groups; ++g)
    for (int64_t o = 0; o < out_g; ++o)
      for (int64_t c = 0; c < in_g; ++c)
        for (int64_t tap = 0; tap < taps; ++tap)
          swapped[(g * in_g + c) * to[0] + o * to[1] + tap * to[2]] =
              weight[(g * out_g + o) * from[0] + c * from[1] + tap * from[2]];
  return swapped;
}

// Adds an "extended" gradient (the adjoint's output) onto the input gradient: extended cell j of axis a
// belongs to input cell map[a][j], or to none (-1). Folds padding cells back onto the cells they copied
// and crops cells past the input. Fixed order, one thread.
void fold(const ConvSpec& spec, const Tensor& extended, const std::array<std::vector<int64_t>, kMaxRank>& map,
          Tensor& grad_input) {
  const bool last = spec.layout == Layout::channels_last;
  const int64_t batch = grad_input.dim(0), channels = spec.in_channels;
  std::array<int64_t, kMaxRank> e{1, 1, 1}, s{1, 1, 1};  // extended and input sizes per slot
  for (size_t a = 0; a < kMaxRank; ++a) e[a] = static_cast<int64_t>(map[a].size());
  for (int axis = 0; axis < spec.rank; ++axis)
    s[at(kMaxRank - spec.rank + axis)] = grad_input.dim(last ? 1 + axis : 2 + axis);
  const int64_t e_pixels = e[0] * e[1] * e[2], s_pixels = s[0] * s[1] * s[2];
  // Offset of (n, pixel, c) in a tensor of `pixels` pixels: (N, C, pixels) or (N, pixels, C).
  auto offset = [&](int64_t n, int64_t pixel, int64_t c, int64_t pixels) {
    return last ? (n * pixels + pixel) * channels + c : (n * channels + c) * pixels + pixel;
  };
  std::fill_n(grad_input.data(), grad_input.numel(), 0.0f);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t d = 0, pixel = 0; d < e[0]; ++d)
      for (int64_t h = 0; h < e[1]; ++h)
        for (int64_t w = 0; w < e[2]; ++w, ++pixel) {
          const int64_t td = map[0][at(d)], th = map[1][at(h)], tw = map[2][at(w)];
          if (td < 0 || th < 0 || tw < 0) continue;
          const int64_t target = (td * s[1] + th) * s[2] + tw;
          for (int64_t c = 0; c < channels; ++c)
            grad_input[offset(n, target, c, s_pixels)] += extended[offset(n, pixel, c, e_pixels)];
        }
}

}  // namespace

// --- BackwardDataPlan ---

// The adjoint of the spec for one input size: a forward plan whose output is the input gradient, or an
// "extended" gradient that fold() maps onto it.
struct Adjoint {
  ConvPlan plan;
  std::string route;
  bool staged = false;
  std::array<std::vector<int64_t>, kMaxRank> map{};  // extended index -> input index (staged only)
};

struct BackwardDataPlan::Impl {
  ConvSpec spec;
  PlanOptions options;
  Tensor weight;
  Tensor swapped;  // stride-1 convolutions: the weight of the adjoint convolution
  mutable std::mutex mutex;
  mutable std::map<Shape, std::shared_ptr<const Adjoint>> adjoints;  // by input spatial size

  bool stride_one() const {
    if (spec.transposed) return false;
    for (int64_t s : per_axis(spec.stride, spec.rank, 1, "stride"))
      if (s != 1) return false;
    return true;
  }

  std::shared_ptr<const Adjoint> adjoint(const Shape& spatial) const {
    const std::lock_guard lock(mutex);
    auto& slot = adjoints[spatial];
    if (!slot) slot = make_adjoint(spatial);
    return slot;
  }

  std::shared_ptr<const Adjoint> make_adjoint(const Shape& spatial) const {
    const ConvGeometry geometry = resolve_geometry(spec, spatial);
    ConvSpec a{.rank = spec.rank, .in_channels = spec.out_channels, .out_channels = spec.in_channels,
               .kernel = spec.kernel, .dilation = spec.dilation, .groups = spec.groups, .flip = spec.flip,
               .layout = spec.layout};
    a.stride = per_axis(spec.stride, spec.rank, 1, "stride");
    // A padding mode other than zeros: the adjoint of the unpadded ('valid') convolution of the padded
    // input gives the gradient of the padded input, which fold() adds onto the cells the padding copied.
    const bool fold_padding = !spec.transposed && spec.padding_mode != PaddingMode::zeros;
    // Stride 1 (convolution): dx = the convolution of dy with the kernel reversed and the channels swapped,
    // padded by dk-1-pad so that its output has the input's size (a "full" convolution when unpadded).
    bool flip_route = stride_one();
    std::array<std::vector<int64_t>, kMaxRank> map;
    bool staged = fold_padding;
    std::vector<int64_t> begin, end, output_padding;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[at(axis)];
      const int64_t pb = fold_padding ? 0 : g.pad_begin, pe = fold_padding ? 0 : g.pad_end;
      const int64_t extended = fold_padding ? g.input + g.pad_begin + g.pad_end : g.input;
      flip_route = flip_route && pb <= g.dilated_kernel() - 1 && pe <= g.dilated_kernel() - 1;
      std::vector<int64_t>& m = map[at(kMaxRank - spec.rank + axis)];
      if (spec.transposed) {
        // The convolution adjoint of a transposed convolution: dx[i] = sum_q w[q] dy[i*s + q*d - pb].
        // Its pads may be negative (transposed 'same' or output_shape): a pad_begin raised by `shift`
        // strides computes `shift` extra cells first, and a negative pad_end read as 0 some extra cells
        // last; out = floor((out_T + pb + pe - dk) / s) + 1 also exceeds the input when
        // output_padding >= stride (allowed below the dilation). The extra cells are cropped.
        const int64_t shift = pb < 0 ? (-pb + g.stride - 1) / g.stride : 0;
        begin.push_back(pb + shift * g.stride);
        end.push_back(std::max<int64_t>(pe, 0));
        const int64_t out = conv_output_size(g.output, g.kernel, g.stride, g.dilation, begin.back(), end.back());
        staged = staged || out != g.input || shift > 0;
        for (int64_t j = 0; j < out; ++j) m.push_back(j >= shift && j - shift < g.input ? j - shift : -1);
      } else {
        begin.push_back(pb);
        end.push_back(pe);
        // The transposed adjoint: out = (out_C - 1) * s - pb - pe + dk + output_padding = the (padded)
        // input size when output_padding = extended + pb + pe - dk - (out_C - 1) * s, in [0, s).
        output_padding.push_back(extended + pb + pe - g.dilated_kernel() - (g.output - 1) * g.stride);
        for (int64_t j = 0; j < extended; ++j)
          m.push_back(fold_padding ? padded_source_index(j - g.pad_begin, g.input, spec.padding_mode) : j);
      }
    }
    const Tensor* weight_used = &weight;
    std::string route;
    if (spec.transposed) {
      a.padding = Padding::explicit_pads(begin, end);
      route = "adjoint conv";
    } else if (flip_route) {
      const std::vector<int64_t> dilation = per_axis(spec.dilation, spec.rank, 1, "dilation");
      const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
      for (size_t i = 0; i < begin.size(); ++i) {
        const int64_t dk = (kernel[i] - 1) * dilation[i] + 1;
        begin[i] = dk - 1 - begin[i];
        end[i] = dk - 1 - end[i];
      }
      a.padding = Padding::explicit_pads(begin, end);
      a.flip = !spec.flip;
      weight_used = &swapped;
      route = "adjoint conv (stride 1: kernel reversed, channels swapped)";
    } else {
      a.transposed = true;
      a.padding = Padding::explicit_pads(begin, end);
      a.output_padding = output_padding;
      route = "adjoint conv_transpose";
    }
    if (fold_padding) route += " + padding fold";
    auto result = std::make_shared<Adjoint>(Adjoint{ConvPlan(a, weight_used->view(), std::nullopt, options), route,
                                                    staged, {}});
    if (staged) {
      result->map = std::move(map);
      for (auto& m : result->map)
        if (m.empty()) m = {0};
    }
    return result;
  }
};

BackwardDataPlan::BackwardDataPlan(const ConvSpec& spec, ConstTensorView weight, PlanOptions options)
    : impl_(std::make_unique<Impl>()) {
  validate(spec);
  check_weight_shape(spec, weight.shape());
  check_options(options);
  impl_->spec = spec;
  impl_->options = options;
  impl_->weight = Tensor::copy_of(weight);
  if (impl_->stride_one()) impl_->swapped = swap_channels(spec, impl_->weight);
}

BackwardDataPlan::~BackwardDataPlan() = default;
BackwardDataPlan::BackwardDataPlan(BackwardDataPlan&&) noexcept = default;
BackwardDataPlan& BackwardDataPlan::operator=(BackwardDataPlan&&) noexcept = default;

Tensor BackwardDataPlan::run(ConstTensorView grad_output, std::span<const int64_t> input_shape) const {
  Tensor grad_input(Shape(input_shape.begin(), input_shape.end()));
  run(grad_output, grad_input.view());
  return grad_input;
}

void BackwardDataPlan::run(ConstTensorView grad_output, TensorView grad_input) const {
  const ConvSpec& spec = impl_->spec;
  const Shape spatial = input_spatial_of(spec, grad_input.shape());
  const Shape expected = output_shape(spec, grad_input.shape());
  if (grad_output.shape() != expected)
    fail(op_name(spec, "_backward_data"), ": grad_output of shape ", grad_output.shape(),
         " does not match the forward output shape ", expected, " of an input of shape ", grad_input.shape());
  const std::shared_ptr<const Adjoint> adjoint = impl_->adjoint(spatial);
  if (!adjoint->staged) {
    adjoint->plan.run(grad_output, grad_input);
    return;
  }
  Tensor folded(grad_input.shape());
  fold(spec, adjoint->plan.run(grad_output), adjoint->map, folded);
  copy_elements(folded.view(), grad_input);
}

const ConvSpec& BackwardDataPlan::spec() const { return impl_->spec; }

std::string BackwardDataPlan::algorithm(std::span<const int64_t> input_shape) const {
  const std::shared_ptr<const Adjoint> adjoint = impl_->adjoint(input_spatial_of(impl_->spec, input_shape));
  return adjoint->route + ": " + adjoint->plan.algorithm();
}

// --- BackwardWeightsPlan ---

namespace {

std::string weight_algorithm_names() {
  std::string names;
  for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms())
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

// dL/db[o] = sum of dL/dy over batch and space, in double (the order is fixed by the shapes). dy
// contiguous. Element e of dy (channels_last) or of a channel's plane (channels_first) goes to partial
// sum e mod `block`, then the partials are added in order: one latency-bound chain of double adds per
// channel had cost 0.4 ms of a 0.6 ms MobileNetV2 depthwise gradient and 3 ms of a 1024^2 Sobel image.
void bias_gradient(const ConvSpec& spec, ConstTensorView grad_output, float* grad_bias) {
  const cpu::WgradKernels& kernels = cpu::wgrad_kernels(cpu::supported_isas().front());
  const int64_t batch = grad_output.dim(0), channels = spec.out_channels;
  const int64_t pixels = grad_output.numel() / (batch * channels);
  const float* dy = grad_output.data();
  constexpr int64_t kChains = 64;
  if (spec.layout == Layout::channels_last) {
    const int64_t block = channels * cpu::ceil_div(kChains, channels);  // whole pixels
    std::vector<double> part(at(block), 0.0);
    kernels.add_blocks(dy, batch * pixels * channels, block, part.data());
    for (int64_t o = 0; o < channels; ++o) {
      double sum = 0.0;
      for (int64_t k = o; k < block; k += channels) sum += part[at(k)];
      grad_bias[o] = static_cast<float>(sum);
    }
    return;
  }
  std::array<double, kChains> part;
  for (int64_t o = 0; o < channels; ++o) {
    double sum = 0.0;
    for (int64_t n = 0; n < batch; ++n) {
      part.fill(0.0);
      kernels.add_blocks(dy + (n * channels + o) * pixels, pixels, kChains, part.data());
      for (double p : part) sum += p;
    }
    grad_bias[o] = static_cast<float>(sum);
  }
}

}  // namespace

struct BackwardWeightsPlan::Impl {
  ConvSpec spec;
  PlanOptions options;
  std::string explanation;
  std::unique_ptr<cpu::WeightGradientAlgorithm> algorithm;
};

BackwardWeightsPlan::BackwardWeightsPlan(const ConvSpec& spec, PlanOptions options) : impl_(std::make_unique<Impl>()) {
  validate(spec);
  check_options(options);
  const cpu::WeightGradientEntry* forced = nullptr;
  if (!options.algorithm.empty()) {
    for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms())
      if (entry.name == options.algorithm) forced = &entry;
    if (!forced)
      fail("PlanOptions.algorithm=", options.algorithm, " is not an algorithm of backward-weights plans (",
           weight_algorithm_names(), ", or empty to choose)");
    if (const std::string reason = forced->cannot(spec); !reason.empty())
      fail("PlanOptions.algorithm=", options.algorithm, " cannot compute the weight gradient of ", describe(spec), ": ",
           reason);
  }
  impl_->spec = spec;
  impl_->options = options;
  for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms()) {
    std::string reason = forced ? (&entry == forced ? "" : "not requested (algorithm=" + options.algorithm + ")")
                                : entry.cannot(spec);
    if (reason.empty() && !forced) reason = entry.prefers_not(spec);
    if (!reason.empty()) {
      impl_->explanation += std::string(entry.name) + ": declined: " + reason + "\n";
      continue;
    }
    impl_->algorithm = entry.create(spec, cpu::supported_isas().front());
    impl_->explanation += std::string(entry.name) + ": chosen, " + impl_->algorithm->details() + "\n";
    return;
  }
  fail("internal error: no weight-gradient algorithm accepts ", describe(spec));  // gemm accepts every spec
}

BackwardWeightsPlan::~BackwardWeightsPlan() = default;
BackwardWeightsPlan::BackwardWeightsPlan(BackwardWeightsPlan&&) noexcept = default;
BackwardWeightsPlan& BackwardWeightsPlan::operator=(BackwardWeightsPlan&&) noexcept = default;

WeightGradients BackwardWeightsPlan::run(ConstTensorView input, ConstTensorView grad_output) const {
  WeightGradients result{Tensor(weight_shape(impl_->spec)), std::nullopt};
  if (impl_->spec.bias) result.bias = Tensor(bias_shape(impl_->spec));
  run(input, grad_output, result.weight.view(),
      result.bias ? std::optional<TensorView>(result.bias->view()) : std::nullopt);
  return result;
}

void BackwardWeightsPlan::run(ConstTensorView input, ConstTensorView grad_output, TensorView grad_weight,
                              std::optional<TensorView> grad_bias) const {
  const ConvSpec& spec = impl_->spec;
  const std::string op = op_name(spec, "_backward_weights");
  const Shape expected = output_shape(spec, input.shape());
  if (grad_output.shape() != expected)
    fail(op, ": grad_output of shape ", grad_output.shape(), " does not match the forward output shape ", expected,
         " of an input of shape ", input.shape());
  if (grad_weight.shape() != weight_shape(spec))
    fail(op, ": grad_weight of shape ", grad_weight.shape(), " does not match the weight shape ", weight_shape(spec));
  if (grad_bias.has_value() != spec.bias)
    fail(op, ": grad_bias ", grad_bias ? "given but the spec has bias=false" : "missing but the spec has bias=true");
  if (grad_bias && grad_bias->shape() != bias_shape(spec))
    fail(op, ": grad_bias of shape ", grad_bias->shape(), " does not match ", bias_shape(spec));
  // The algorithms read contiguous tensors and write contiguous gradients.
  const Tensor x = input.is_contiguous() ? Tensor() : Tensor::copy_of(input);
  const Tensor dy = grad_output.is_contiguous() ? Tensor() : Tensor::copy_of(grad_output);
  Tensor weight_out = grad_weight.is_contiguous() ? Tensor() : Tensor(grad_weight.shape());
  Tensor bias_out = grad_bias && !grad_bias->is_contiguous() ? Tensor(grad_bias->shape()) : Tensor();
  float* w = grad_weight.is_contiguous() ? grad_weight.data() : weight_out.data();
  float* b = !grad_bias ? nullptr : grad_bias->is_contiguous() ? grad_bias->data() : bias_out.data();
  const ConstTensorView dy_view = grad_output.is_contiguous() ? grad_output : dy.view();
  impl_->algorithm->run(input.is_contiguous() ? input : x.view(), dy_view, w, threads_of(impl_->options));
  if (b) bias_gradient(spec, dy_view, b);
  if (!grad_weight.is_contiguous()) copy_elements(weight_out.view(), grad_weight);
  if (grad_bias && !grad_bias->is_contiguous()) copy_elements(bias_out.view(), *grad_bias);
}

const ConvSpec& BackwardWeightsPlan::spec() const { return impl_->spec; }

std::string BackwardWeightsPlan::algorithm() const { return impl_->algorithm->name(); }

std::string BackwardWeightsPlan::explain() const { return impl_->explanation; }

std::size_t BackwardWeightsPlan::workspace_bytes(std::span<const int64_t> input_shape) const {
  return impl_->algorithm->workspace_bytes(Shape(input_shape.begin(), input_shape.end()), threads_of(impl_->options));
}

}  // namespace convkit
