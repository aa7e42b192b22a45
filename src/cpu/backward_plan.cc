// BackwardDataPlan (adjoint ConvPlans per input size: one, or one per phase of a strided convolution;
// plus what the adjoint spec alone does not give: exact input size, padding modes) and BackwardWeightsPlan
// (the first entry of cpu::weight_gradient_algorithms() that computes the spec, plus the bias gradient), see
// convkit/backward_plan.h.
#include "convkit/backward_plan.h"
#include "isa_kernels.h"
#include "algorithm.h"
#include "depthwise_backward.h"
#include "driver_util.h"
#include "finite_scan.h"
#include "spatial_kernel.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <utility>
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

namespace {

// One output phase along one axis of a strided convolution's input gradient. Target cell i (of the input,
// or of the padded input when the padding is folded) is reached by tap q from dy[o] when
// i + pad = o*s + q*d, so the cells i = m*s + r - pad of phase r receive
//   dx[m*s + r - pad] = sum over taps q with q*d = r (mod s) of w[q] * dy[m - (q*d - r)/s]:
// a stride-1 correlation of dy with those taps reversed (q = first_tap + j*tap_step, consecutive ones
// d/gcd(s, d) cells apart in dy), written to every s-th target cell.
struct AxisPhase {
  int64_t first = 0, count = 1;                      // target cells first, first + s, ... (count of them)
  int64_t first_tap = 0, taps = 1, tap_step = 1, dilation = 1;  // taps = 0: no tap reaches the phase
  int64_t pad_begin = 0, pad_end = 0;                // of the stride-1 convolution over dy
  int64_t crop_begin = 0, crop_end = 0;              // dy cells it does not read (where its pads would be < 0)
};

// floor(a / b) for b > 0 and any sign of a.
int64_t floor_div(int64_t a, int64_t b) { return -cpu::ceil_div(-a, b); }

AxisPhase axis_phase(const AxisGeometry& g, int64_t target, int64_t pad, int64_t r) {
  AxisPhase p;
  const int64_t s = g.stride, m_lo = cpu::ceil_div(pad - r, s), m_hi = floor_div(target - 1 + pad - r, s);
  p.count = std::max<int64_t>(0, m_hi - m_lo + 1);
  p.first = m_lo * s + r - pad;
  const int64_t common = std::gcd(s, g.dilation);
  p.tap_step = s / common;
  p.dilation = g.dilation / common;
  p.taps = 0;
  for (int64_t q = 0; q < std::min(g.kernel, p.tap_step); ++q)
    if (q * g.dilation % s == r) {
      p.first_tap = q;
      p.taps = cpu::ceil_div(g.kernel - q, p.tap_step);
      break;
    }
  if (p.taps == 0) return p;
  // Reversed, the last tap comes first: out[m - m_lo] = sum_j v[j] dy[m - m_lo + j*dilation - pad_begin].
  const int64_t last_tap = p.first_tap + (p.taps - 1) * p.tap_step;
  const int64_t begin = (last_tap * g.dilation - r) / s - m_lo;
  const int64_t end = p.count + (p.taps - 1) * p.dilation - g.output - begin;
  p.pad_begin = std::max<int64_t>(begin, 0);
  p.pad_end = std::max<int64_t>(end, 0);
  p.crop_begin = std::max<int64_t>(-begin, 0);
  p.crop_end = std::max<int64_t>(-end, 0);
  if (p.crop_begin + p.crop_end >= g.output) p.taps = 0;  // its taps read only beyond dy
  return p;
}

// The algorithm a ConvPlan chooses for spec: the table's first entry that can and does not step aside.
std::string_view preferred_algorithm(const ConvSpec& spec) {
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms())
    if (entry.cannot(spec).empty() && entry.prefers_not(spec).empty()) return entry.name;
  return "reference";
}

// The view of `view` (N, C, spatial... or N, spatial..., C) at cells first + k*step of each spatial axis
// (slots of kMaxRank, as AxisPhase), `count` of them.
template <class T>
BasicTensorView<T> cells(const BasicTensorView<T>& view, const ConvSpec& spec,
                         const std::array<int64_t, kMaxRank>& first,
                         const std::array<int64_t, kMaxRank>& count, const std::array<int64_t, kMaxRank>& step) {
  Shape shape = view.shape(), strides = view.strides();
  T* data = view.data();
  for (int axis = 0; axis < spec.rank; ++axis) {
    const size_t dim = at((spec.layout == Layout::channels_last ? 1 : 2) + axis), s = cpu::slot(spec.rank, axis);
    data += first[s] * strides[dim];
    shape[dim] = count[s];
    strides[dim] *= step[s];
  }
  return {data, shape, strides};
}

}  // namespace

// One phase of a strided convolution's input gradient: a stride-1 forward plan over (part of) dy
// written to every s-th target cell, or zeros.
struct Phase {
  std::array<AxisPhase, kMaxRank> axes{};  // by slot; unused slots hold one cell
  std::optional<ConvPlan> plan;            // none: no tap reaches the phase
};

// The adjoint of the spec for one input size: a forward plan whose output is the input gradient, or
// (strided convolutions) phases that write it, or an "extended" gradient that fold() maps onto it.
struct Adjoint {
  std::optional<ConvPlan> plan;
  std::vector<Phase> phases;
  // Phases of one geometry as one convolution, phase p's gradient channels at p * Cin (their plans
  // unused): spatial then shares each loaded dy vector between the phases.
  std::optional<ConvPlan> fused;
  // Strided depthwise: the direct kernel (owned by the plan) over this geometry, instead of phases.
  const cpu::DepthwiseBackwardData* direct = nullptr;
  cpu::DepthwiseBackwardGeometry direct_geometry{};
  int threads = 0;  // PlanOptions::threads (0: num_threads() at run time)
  std::string route;
  bool staged = false;
  std::array<std::vector<int64_t>, kMaxRank> map{};  // extended index -> input index (staged only)
  std::array<int64_t, kMaxRank> stride{1, 1, 1};      // phases: per slot

  std::string algorithm() const {
    if (plan) return plan->algorithm();
    if (direct) return direct->name();
    if (fused) return fused->algorithm();
    std::vector<std::string> names;
    for (const Phase& phase : phases)
      if (phase.plan && std::find(names.begin(), names.end(), phase.plan->algorithm()) == names.end())
        names.push_back(phase.plan->algorithm());
    std::string joined;
    for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
    return joined;
  }

  // The dy cells a phase reads per slot.
  static std::array<int64_t, kMaxRank> read_of(const Phase& phase, ConstTensorView dy, const ConvSpec& spec) {
    std::array<int64_t, kMaxRank> read{1, 1, 1};
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisPhase& a = phase.axes[cpu::slot(spec.rank, axis)];
      read[cpu::slot(spec.rank, axis)] =
          dy.dim((spec.layout == Layout::channels_last ? 1 : 2) + axis) - a.crop_begin - a.crop_end;
    }
    return read;
  }

  // The direct kernel into `target` (the input gradient or the extended one); it reads and writes
  // contiguous tensors.
  void run_direct(ConstTensorView grad_output, TensorView target) const {
    const Tensor staged_dy = grad_output.is_contiguous() ? Tensor() : Tensor::copy_of(grad_output);
    const float* dy = grad_output.is_contiguous() ? grad_output.data() : staged_dy.data();
    const int count = threads > 0 ? threads : num_threads();
    if (target.is_contiguous()) return direct->run(dy, target.data(), target.dim(0), direct_geometry, count);
    Tensor computed(target.shape());
    direct->run(dy, computed.data(), target.dim(0), direct_geometry, count);
    copy_elements(computed.view(), target);
  }

  // Computes every phase into `target` (the input gradient or the extended one): each target cell
  // belongs to exactly one phase, so every cell is written once.
  void run_phases(ConstTensorView grad_output, TensorView target, const ConvSpec& spec) const {
    if (direct) return run_direct(grad_output, target);
    const Tensor staged_dy = grad_output.is_contiguous() ? Tensor() : Tensor::copy_of(grad_output);
    const ConstTensorView dy = grad_output.is_contiguous() ? grad_output : staged_dy.view();
    std::vector<float> staging;
    Tensor fused_out;
    for (size_t index = 0; index < phases.size(); ++index) {
      const Phase& phase = phases[index];
      std::array<int64_t, kMaxRank> first{}, count{}, crop{}, one{1, 1, 1};
      for (size_t s = 0; s < kMaxRank; ++s) {
        first[s] = phase.axes[s].first;
        count[s] = phase.axes[s].count;
        crop[s] = phase.axes[s].crop_begin;
      }
      const TensorView out = cells(target, spec, first, count, stride);
      if (fused) {
        const bool last = spec.layout == Layout::channels_last;
        const size_t channel_axis = last ? at(spec.rank + 1) : 1;
        if (index == 0) {
          Shape shape = out.shape();
          shape[channel_axis] *= static_cast<int64_t>(phases.size());
          fused_out = Tensor(shape);
          fused->run(cells(dy, spec, crop, read_of(phase, dy, spec), one), fused_out.view());
        }
        // Phase `index`'s channels of the fused output.
        const Shape strides = contiguous_strides(fused_out.shape());
        const int64_t offset = static_cast<int64_t>(index) * spec.in_channels * strides[channel_axis];
        copy_elements(ConstTensorView(fused_out.data() + offset, out.shape(), strides), out);
        continue;
      }
      if (!phase.plan) {
        copy_elements(Tensor(out.shape()).view(), out);
        continue;
      }
      // channels_last: written in place where the algorithm can (depthwise), else staged by the plan.
      // channels_first: no algorithm writes every s-th column in place; one buffer for all phases
      // (the plan would allocate and zero one per phase: 10-20% of mobilenetv2.dw3x3s2).
      const ConstTensorView phase_dy = cells(dy, spec, crop, read_of(phase, dy, spec), one);
      if (spec.layout == Layout::channels_last) {
        phase.plan->run(phase_dy, out);
      } else {
        staging.resize(at(out.numel()));
        const TensorView computed(staging.data(), out.shape());
        phase.plan->run(phase_dy, computed);
        copy_elements(computed, out);
      }
    }
  }
};

struct BackwardDataPlan::Impl {
  ConvSpec spec;
  PlanOptions options;
  cpu::RequestedKernel requested;  // `options.algorithm` read as family[.isa[.tile]] (views it)
  Tensor weight;
  Tensor swapped;  // convolutions: the weight of the adjoint convolution (channels swapped)
  std::optional<cpu::DepthwiseBackwardData> direct;  // strided depthwise (see direct_route)
  mutable std::mutex mutex;
  mutable std::map<Shape, std::shared_ptr<const Adjoint>> adjoints;  // by input spatial size

  bool stride_one() const {
    if (spec.transposed) return false;
    for (int64_t s : per_axis(spec.stride, spec.rank, 1, "stride"))
      if (s != 1) return false;
    return true;
  }

  // The options of the adjoint convolutions. A gradient with few channels (groups 1, Cin <= 8) runs on
  // `spatial`, which vectorizes along the pixels: the table would send it to gemm (its input channels,
  // the forward Cout, are many), whose channel tile it leaves mostly empty. Measured 1 thread,
  // channels_first / channels_last: accelerometer.k5 (64 -> 3, stride 1) 1.8x / 1.7x gemm; the stem's
  // phases (64 -> 3) 1.9x / 1.5x the transposed plan, audio.m5.k80s4's (128 -> 1) 11x / 5x.
  PlanOptions adjoint_options(std::string& route) const {
    PlanOptions adjoint = options;
    if (options.algorithm.empty() && spec.groups == 1 && spec.in_channels <= cpu::kMaxSpatialChannels) {
      adjoint.algorithm = "spatial";
      route += "; " + std::to_string(spec.in_channels) + " gradient channels: spatial";
    }
    return adjoint;
  }

  std::shared_ptr<const Adjoint> adjoint(const Shape& spatial) const {
    const std::lock_guard lock(mutex);
    auto& slot = adjoints[spatial];
    if (!slot) slot = make_adjoint(spatial);
    return slot;
  }

  // The stride-1 convolution of phase `phase` (per slot) and its weight: the phase's taps of the swapped
  // weight in kernel order (through `flip`), correlated reversed (flip = true).
  std::pair<ConvSpec, Tensor> phase_conv(const std::array<AxisPhase, kMaxRank>& phase) const {
    ConvSpec p{.rank = spec.rank, .in_channels = spec.out_channels, .out_channels = spec.in_channels,
               .groups = spec.groups, .flip = true, .layout = spec.layout};
    std::vector<int64_t> begin, end;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisPhase& a = phase[cpu::slot(spec.rank, axis)];
      p.kernel.push_back(a.taps);
      p.dilation.push_back(a.dilation);
      begin.push_back(a.pad_begin);
      end.push_back(a.pad_end);
    }
    p.padding = Padding::explicit_pads(begin, end);
    std::array<int64_t, kMaxRank> kernel{1, 1, 1};
    const std::vector<int64_t> k = per_axis(spec.kernel, spec.rank, 1, "kernel");
    for (int axis = 0; axis < spec.rank; ++axis) kernel[cpu::slot(spec.rank, axis)] = k[at(axis)];
    const int64_t taps = kernel[0] * kernel[1] * kernel[2];
    const int64_t sub_taps = phase[0].taps * phase[1].taps * phase[2].taps;
    const int64_t pairs = spec.in_channels * (spec.out_channels / spec.groups);
    // (pair, tap) strides: channels_first (c, o, taps...), channels_last (taps..., o, c).
    const bool last = spec.layout == Layout::channels_last;
    const int64_t pair_from = last ? 1 : taps, tap_from = last ? pairs : 1;
    const int64_t pair_to = last ? 1 : sub_taps, tap_to = last ? pairs : 1;
    Tensor w(weight_shape(p));
    std::array<int64_t, kMaxRank> j{};
    for (j[0] = 0; j[0] < phase[0].taps; ++j[0])
      for (j[1] = 0; j[1] < phase[1].taps; ++j[1])
        for (j[2] = 0; j[2] < phase[2].taps; ++j[2]) {
          int64_t from = 0, to = 0;
          for (size_t s = 0; s < kMaxRank; ++s) {
            const int64_t q = phase[s].first_tap + j[s] * phase[s].tap_step;
            from = from * kernel[s] + (spec.flip ? kernel[s] - 1 - q : q);
            to = to * phase[s].taps + j[s];
          }
          for (int64_t pair = 0; pair < pairs; ++pair)
            w[pair * pair_to + to * tap_to] = swapped[pair * pair_from + from * tap_from];
        }
    return {p, std::move(w)};
  }

  // Strided depthwise convolutions: the direct kernel over the (extended, when folding) input; false
  // (the phases then) when its staged bands would outgrow the workspace bound.
  bool direct_route(const ConvGeometry& geometry, bool fold_padding, std::string& route, Adjoint& adjoint) const {
    cpu::DepthwiseBackwardGeometry g{};
    std::string strides;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& a = geometry.axes[at(axis)];
      g[cpu::slot(spec.rank, axis)] = {.target = fold_padding ? a.input + a.pad_begin + a.pad_end : a.input,
                                       .pad = fold_padding ? 0 : a.pad_begin, .output = a.output, .kernel = a.kernel,
                                       .stride = a.stride, .dilation = a.dilation};
      if (axis) strides += 'x';
      strides += std::to_string(a.stride);
    }
    if (!direct->cannot(g).empty()) return false;
    adjoint.direct = &*direct;
    adjoint.direct_geometry = g;
    adjoint.threads = options.threads;
    route = "direct depthwise backward (stride " + strides + ": each dx row once, from the dy rows its taps reach)";
    return true;
  }

  // Strided convolutions: the phases of the gradient of the (extended, when folding) input into
  // `adjoint`, or nothing when the transposed plan computes them better; `route` says which and why.
  void make_phases(const ConvGeometry& geometry, bool fold_padding, std::string& route, Adjoint& adjoint) const {
    std::array<std::vector<AxisPhase>, kMaxRank> per_slot{};
    for (auto& list : per_slot) list.resize(1);
    std::string strides;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[at(axis)];
      std::vector<AxisPhase>& list = per_slot[cpu::slot(spec.rank, axis)];
      list.clear();
      // Only the phases some target cell lies in: min(stride, target) of them (a stride beyond the input
      // has few).
      const int64_t target = fold_padding ? g.input + g.pad_begin + g.pad_end : g.input;
      const int64_t pad = fold_padding ? 0 : g.pad_begin;
      for (int64_t i = 0; i < std::min(g.stride, target); ++i)
        list.push_back(axis_phase(g, target, pad, (i + pad) % g.stride));
      if (axis) strides += 'x';
      strides += std::to_string(g.stride);
    }
    const size_t total = per_slot[0].size() * per_slot[1].size() * per_slot[2].size();
    std::string few;
    const PlanOptions phase_options = adjoint_options(few);
    // Phases of one geometry (every axis: kernel a multiple of the stride, as audio.m5.k80s4's 80 taps
    // at stride 4) whose gradient channels together fit one spatial register block run as one
    // convolution with the phases as output channels: each loaded dy vector then feeds every phase.
    const auto alike = [](const std::vector<AxisPhase>& list) {
      const AxisPhase& b = list.front();
      return std::all_of(list.begin(), list.end(), [&](const AxisPhase& a) {
        return a.taps > 0 && a.taps == b.taps && a.dilation == b.dilation && a.pad_begin == b.pad_begin &&
               a.pad_end == b.pad_end && a.crop_begin == b.crop_begin && a.crop_end == b.crop_end && a.count == b.count;
      });
    };
    const bool fuse = phase_options.algorithm == "spatial" && options.algorithm.empty() && total > 1 &&
                      static_cast<int64_t>(total) * spec.in_channels <= cpu::kMaxSpatialChannels &&
                      std::all_of(per_slot.begin(), per_slot.end(), alike);
    std::vector<Tensor> fused_weights;
    std::vector<Phase>& phases = adjoint.phases;
    int64_t empty = 0;
    bool decided = !phase_options.algorithm.empty();
    for (const AxisPhase& d : per_slot[0])
      for (const AxisPhase& h : per_slot[1])
        for (const AxisPhase& w : per_slot[2]) {
          Phase phase;
          phase.axes = {d, h, w};
          if (d.taps > 0 && h.taps > 0 && w.taps > 0) {
            auto [phase_spec, phase_weight] = phase_conv(phase.axes);
            // The first phase with taps decides the route (the phases differ only in kernel size and pads).
            if (!decided && preferred_algorithm(phase_spec) == "gemm") {
              route = "adjoint conv_transpose (its " + std::to_string(total) +
                      " phases would run on gemm: the transposed GEMM computes them in one pass)";
              phases.clear();  // phases of zeros seen before this one: the transposed plan computes every cell
              return;
            }
            decided = true;
            if (fuse)
              fused_weights.push_back(std::move(phase_weight));
            else
              phase.plan.emplace(phase_spec, phase_weight.view(), std::nullopt, phase_options);
          } else {
            empty += 1;
          }
          phases.push_back(std::move(phase));
        }
    route = "adjoint phases (stride " + strides + ": " + std::to_string(phases.size() - at(empty)) +
            " stride-1 convs" + (empty ? ", " + std::to_string(empty) + " phases of zeros" : "") +
            (fuse ? " as one with the phases as channels" : "") + few + ")";
    if (!fuse) return;
    // The phases' weights side by side along the gradient channels: channels_first (out, in, taps...),
    // channels_last (taps..., in, out).
    ConvSpec fused_spec = phase_conv(phases.front().axes).first;
    fused_spec.out_channels = static_cast<int64_t>(total) * spec.in_channels;
    Tensor weights(weight_shape(fused_spec));
    const int64_t block = fused_weights.front().numel(), width = spec.in_channels;
    for (size_t p = 0; p < total; ++p)
      for (int64_t i = 0; i < block; ++i) {
        const int64_t to = spec.layout == Layout::channels_last
                               ? i / width * fused_spec.out_channels + static_cast<int64_t>(p) * width + i % width
                               : static_cast<int64_t>(p) * block + i;
        weights[to] = fused_weights[p][i];
      }
    adjoint.fused.emplace(fused_spec, weights.view(), std::nullopt, phase_options);
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
    auto result = std::make_shared<Adjoint>();
    const Tensor* weight_used = &weight;
    PlanOptions adjoint_plan_options = options;
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
      route = "adjoint conv (stride 1: kernel reversed, channels swapped";
      adjoint_plan_options = adjoint_options(route);
      route += ")";
    } else {
      a.transposed = true;
      a.padding = Padding::explicit_pads(begin, end);
      a.output_padding = output_padding;
      route = "adjoint conv_transpose";
      if (!stride_one() && requested.family != "transposed" &&
          !(direct && direct_route(geometry, fold_padding, route, *result)))
        make_phases(geometry, fold_padding, route, *result);
    }
    if (!result->direct && result->phases.empty()) {
      result->plan.emplace(a, weight_used->view(), std::nullopt, adjoint_plan_options);
    } else if (!result->direct) {
      for (int axis = 0; axis < spec.rank; ++axis)
        result->stride[cpu::slot(spec.rank, axis)] = geometry.axes[at(axis)].stride;
    }
    if (fold_padding) route += " + padding fold";
    result->route = route;
    result->staged = staged;
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
  impl_->requested =  // views impl_->options.algorithm, which lives as long as impl_
      cpu::parse_requested_kernel(impl_->options.algorithm, "PlanOptions.algorithm=" + options.algorithm);
  impl_->weight = Tensor::copy_of(weight);
  if (!spec.transposed) impl_->swapped = swap_channels(spec, impl_->weight);
  // Strided depthwise: the direct kernel (depthwise_backward.h) when no other algorithm is requested
  // ("depthwise[.isa]" picks its ISA) and the weights are finite (its staged zeros would make 0 * Inf = NaN
  // where the reference has no term; the phases' plans then take the reference algorithm).
  if (cpu::DepthwiseBackwardData::cannot(spec).empty() && cpu::all_finite(impl_->weight.data(), impl_->weight.numel())) {
    const cpu::RequestedKernel& requested = impl_->requested;
    if (options.algorithm.empty() || requested.family == "depthwise") {
      cpu::DepthwiseBackwardData kernel(spec, impl_->weight.view(), requested.isa.value_or(cpu::supported_isas().front()));
      if (!requested.whole_name || kernel.name() == options.algorithm) impl_->direct.emplace(std::move(kernel));
    }
  }
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
    if (adjoint->plan)
      adjoint->plan->run(grad_output, grad_input);
    else
      adjoint->run_phases(grad_output, grad_input, spec);
    return;
  }
  Tensor extended;
  if (adjoint->plan) {
    extended = adjoint->plan->run(grad_output);
  } else {
    Shape sizes;
    for (int axis = 0; axis < spec.rank; ++axis)
      sizes.push_back(static_cast<int64_t>(adjoint->map[cpu::slot(spec.rank, axis)].size()));
    extended = Tensor(make_activation_shape(spec, grad_input.dim(0), spec.in_channels, sizes));
    adjoint->run_phases(grad_output, extended.view(), spec);
  }
  Tensor folded(grad_input.shape());
  fold(spec, extended, adjoint->map, folded);
  copy_elements(folded.view(), grad_input);
}

const ConvSpec& BackwardDataPlan::spec() const { return impl_->spec; }

std::string BackwardDataPlan::algorithm(std::span<const int64_t> input_shape) const {
  const std::shared_ptr<const Adjoint> adjoint = impl_->adjoint(input_spatial_of(impl_->spec, input_shape));
  return adjoint->route + ": " + adjoint->algorithm();
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
  const cpu::WgradKernels& kernels = *cpu::isa_kernels(cpu::supported_isas().front()).wgrad;
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
  // The partials run on over the batch's planes of a channel: small planes (a 1D layer's 116 cells) would
  // otherwise spend more on clearing and adding up the partials than on the plane.
  std::array<double, kChains> part;
  for (int64_t o = 0; o < channels; ++o) {
    part.fill(0.0);
    for (int64_t n = 0; n < batch; ++n) kernels.add_blocks(dy + (n * channels + o) * pixels, pixels, kChains, part.data());
    double sum = 0.0;
    for (double p : part) sum += p;
    grad_bias[o] = static_cast<float>(sum);
  }
}

}  // namespace

void conv_backward_bias(const ConvSpec& spec, ConstTensorView grad_output, TensorView grad_bias) {
  validate(spec);
  const std::string op = op_name(spec, "_backward_bias");
  if (grad_output.rank() != spec.rank + 2)
    fail(op, ": grad_output of shape ", grad_output.shape(), " has ", grad_output.rank(), " dimensions; expected ",
         spec.rank + 2);
  const int64_t channels = spec.layout == Layout::channels_first ? grad_output.dim(1) : grad_output.shape().back();
  if (channels != spec.out_channels)
    fail(op, ": grad_output of shape ", grad_output.shape(), " has ", channels, " channels; expected out_channels=",
         spec.out_channels);
  if (grad_bias.shape() != bias_shape(spec))
    fail(op, ": grad_bias of shape ", grad_bias.shape(), " does not match ", bias_shape(spec));
  Tensor sums(bias_shape(spec));
  if (grad_output.numel() == 0) {
    copy_elements(sums.view(), grad_bias);
    return;
  }
  const Tensor dy = grad_output.is_contiguous() ? Tensor() : Tensor::copy_of(grad_output);
  bias_gradient(spec, grad_output.is_contiguous() ? grad_output : dy.view(), sums.data());
  copy_elements(sums.view(), grad_bias);
}

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
  const std::string argument = "PlanOptions.algorithm=" + options.algorithm;
  const cpu::RequestedKernel requested = cpu::parse_requested_kernel(options.algorithm, argument);
  if (!options.algorithm.empty()) {
    for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms())
      if (entry.name == requested.family) forced = &entry;
    if (!forced)
      fail(argument, ": '", requested.family, "' is not an algorithm of backward-weights plans (",
           weight_algorithm_names(), ", or empty to choose; family[.isa[.tile]])");
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
    const cpu::Isa isa = requested.isa.value_or(cpu::supported_isas().front());
    impl_->algorithm = entry.create(spec, isa);
    if (requested.whole_name && impl_->algorithm->name() != options.algorithm)
      fail(argument, ": for the weight gradient of ", describe(spec), " ", entry.name, " on ", cpu::to_string(isa),
           " runs ", impl_->algorithm->name());
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
  const bool summed = b && impl_->algorithm->sums_bias();
  impl_->algorithm->run(input.is_contiguous() ? input : x.view(), dy_view, w, summed ? b : nullptr,
                        threads_of(impl_->options));
  if (b && !summed) bias_gradient(spec, dy_view, b);
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
