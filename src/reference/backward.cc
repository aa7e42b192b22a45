// Reference backward passes of the convolution (see convkit/backward.h for the formulas). The loops
// visit exactly the terms w * x -> y of the forward definition and route dL/dy back along each one.
#include "convkit/backward.h"


#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "convkit/error.h"
#include "convkit/shape.h"
#include "parallel.h"

namespace convkit::reference {
namespace {

constexpr int kMaxRank = 3;
using Triple = std::array<int64_t, kMaxRank>;

// A tensor as the strided 5-D view (outer, inner, D, H, W) whatever its layout: activations (N, C, spatial),
// conv weights (Cout, Cin/g, k), transposed weights (Cin, Cout/g, k). Lower ranks get leading size-1 axes.
template <class T>
BasicTensorView<T> as_5d(const BasicTensorView<T>& view, const ConvSpec& spec, bool is_weight) {
  const int r = spec.rank;
  std::vector<int> axes;  // the view's axes in (outer, inner, spatial...) order
  if (spec.layout == Layout::channels_first) {
    axes = {0, 1};
  } else if (!is_weight) {
    axes = {0, r + 1};  // (N, spatial..., C)
  } else {
    axes = {r + 1, r};  // (k..., B, A)
  }
  const int spatial_begin = spec.layout == Layout::channels_first ? 2 : (is_weight ? 0 : 1);
  for (int a = 0; a < r; ++a) axes.push_back(spatial_begin + a);
  const BasicTensorView<T> p = view.permuted(axes);
  Shape shape{p.dim(0), p.dim(1), 1, 1, 1}, strides{p.strides()[0], p.strides()[1], 0, 0, 0};
  for (int a = 0; a < r; ++a) {
    const auto slot = static_cast<size_t>(2 + kMaxRank - r + a);
    shape[slot] = p.dim(2 + a);
    strides[slot] = p.strides()[static_cast<size_t>(2 + a)];
  }
  return {view.data(), std::move(shape), std::move(strides)};
}

// The kernel as the forward engine applies it: with spec.flip, tap q is stored at k-1-q on every axis.
template <class T>
BasicTensorView<T> applied_kernel(BasicTensorView<T> weight_5d, const ConvSpec& spec) {
  if (spec.flip)
    for (int axis = 2; axis < 2 + kMaxRank; ++axis) weight_5d = weight_5d.flipped(axis);
  return weight_5d;
}

template <class T>
Triple spatial_sizes(const BasicTensorView<T>& v) { return {v.dim(2), v.dim(3), v.dim(4)}; }
template <class T>
Triple spatial_strides(const BasicTensorView<T>& v) { return {v.strides()[2], v.strides()[3], v.strides()[4]}; }
Triple row_major(const Triple& sizes) { return {sizes[1] * sizes[2], sizes[2], 1}; }

// For one axis and kernel tap q: the (output index p, input index i) pairs of the forward sum.
//   conv:       i = source(p*stride + q*dilation - pad_begin)
//   transposed: p = i*stride + q*dilation - pad_begin, for 0 <= p < out
struct Pair {
  int64_t out, in;
};
using AxisPairs = std::vector<std::vector<Pair>>;  // [tap][pair]

AxisPairs axis_pairs(const AxisGeometry& g, bool transposed, PaddingMode mode) {
  AxisPairs pairs(static_cast<size_t>(g.kernel));
  for (int64_t q = 0; q < g.kernel; ++q) {
    auto& tap = pairs[static_cast<size_t>(q)];
    if (!transposed) {
      for (int64_t p = 0; p < g.output; ++p) {
        const int64_t i = padded_source_index(p * g.stride + q * g.dilation - g.pad_begin, g.input, mode);
        if (i >= 0) tap.push_back({p, i});
      }
    } else {
      for (int64_t i = 0; i < g.input; ++i) {
        const int64_t p = i * g.stride + q * g.dilation - g.pad_begin;
        if (p >= 0 && p < g.output) tap.push_back({p, i});
      }
    }
  }
  return pairs;
}

// The resolved problem: per-axis pairs (leading size-1 axes for lower ranks) and the channel grouping.
struct Terms {
  std::array<AxisPairs, kMaxRank> pairs;
  Triple kernel{1, 1, 1};
  int64_t in_per_group = 1, out_per_group = 1;
};

Terms make_terms(const ConvSpec& spec, const ConvGeometry& geometry) {
  Terms t;
  const AxisGeometry unit{1, 1, 1, 1, 0, 0, 0, 1};
  const size_t offset = kMaxRank - geometry.axes.size();
  for (size_t a = 0; a < kMaxRank; ++a) {
    const AxisGeometry& g = a < offset ? unit : geometry.axes[a - offset];
    t.pairs[a] = axis_pairs(g, spec.transposed, spec.padding_mode);
    t.kernel[a] = g.kernel;
  }
  t.in_per_group = spec.in_channels / spec.groups;
  t.out_per_group = spec.out_channels / spec.groups;
  return t;
}

// Calls term(w_offset, x_offset, y_offset) for every product w[q] * x[i] -> y[p] between one input and
// one output channel, offsets from the given per-axis strides of the kernel, input and output.
template <class F>
void for_each_term(const Terms& t, const Triple& w_strides, const Triple& x_strides, const Triple& y_strides,
                   F&& term) {
  for (int64_t qd = 0; qd < t.kernel[0]; ++qd)
    for (int64_t qh = 0; qh < t.kernel[1]; ++qh)
      for (int64_t qw = 0; qw < t.kernel[2]; ++qw) {
        const int64_t wo = qd * w_strides[0] + qh * w_strides[1] + qw * w_strides[2];
        for (const Pair& d : t.pairs[0][static_cast<size_t>(qd)])
          for (const Pair& h : t.pairs[1][static_cast<size_t>(qh)]) {
            const int64_t xo = d.in * x_strides[0] + h.in * x_strides[1];
            const int64_t yo = d.out * y_strides[0] + h.out * y_strides[1];
            for (const Pair& w : t.pairs[2][static_cast<size_t>(qw)])
              term(wo, xo + w.in * x_strides[2], yo + w.out * y_strides[2]);
          }
      }
}

// Offset of the kernel joining input channel c and output channel o in a 5-D weight view:
// conv weight (Cout, Cin/g, k) at [o, c mod group]; transposed weight (Cin, Cout/g, k) at [c, o mod group].
int64_t weight_offset(const ConvSpec& spec, const Terms& t, const Shape& w_strides, int64_t c, int64_t o) {
  return spec.transposed ? c * w_strides[0] + (o % t.out_per_group) * w_strides[1]
                         : o * w_strides[0] + (c % t.in_per_group) * w_strides[1];
}

// Rounds a row-major (D, H, W) block of sums into a strided float block.
void store(const std::vector<double>& sums, float* out, const Triple& sizes, const Triple& strides) {
  size_t k = 0;
  for (int64_t d = 0; d < sizes[0]; ++d)
    for (int64_t h = 0; h < sizes[1]; ++h)
      for (int64_t w = 0; w < sizes[2]; ++w)
        out[d * strides[0] + h * strides[1] + w * strides[2]] = static_cast<float>(sums[k++]);
}

enum class Direction { data, weights, bias };

std::string op_name(const ConvSpec& spec, Direction direction) {
  static constexpr const char* kSuffix[] = {"_backward_data", "_backward_weights", "_backward_bias"};
  return std::string(spec.transposed ? "conv_transpose" : "conv") + kSuffix[static_cast<int>(direction)];
}

void check_grad_output(const ConvSpec& spec, const std::string& op, int64_t batch, const ConvGeometry& geometry,
                       ConstTensorView grad_output) {
  const Shape expected = make_activation_shape(spec, batch, spec.out_channels, geometry.output_spatial());
  if (grad_output.shape() != expected)
    fail(op, ": grad_output of shape ", grad_output.shape(), " does not match the forward output shape ", expected);
}

// Threads only on real layers (as the forward engine): a parallel region costs more than a small problem.
bool worth_threads(const ConvSpec& spec, const Terms& t, int64_t batch, const Shape& output_spatial) {
  const int64_t taps = t.kernel[0] * t.kernel[1] * t.kernel[2];
  return batch * spec.out_channels * t.in_per_group * taps * element_count(output_spatial) > (int64_t{1} << 20);
}

}  // namespace

Tensor convolution_backward_data(const ConvSpec& spec, std::span<const int64_t> input_shape, ConstTensorView weight,
                                 ConstTensorView grad_output) {
  const std::string op = op_name(spec, Direction::data);
  const Shape spatial = input_spatial_of(spec, input_shape);
  check_weight_shape(spec, weight.shape());
  const ConvGeometry geometry = resolve_geometry(spec, spatial);
  check_grad_output(spec, op, input_shape[0], geometry, grad_output);
  const Terms t = make_terms(spec, geometry);

  Tensor grad_input(Shape(input_shape.begin(), input_shape.end()));
  const TensorView gx = as_5d(grad_input.view(), spec, false);
  const ConstTensorView w = applied_kernel(as_5d(weight, spec, true), spec);
  const ConstTensorView gy = as_5d(grad_output, spec, false);
  const Triple in_sizes = spatial_sizes(gx), w_strides = spatial_strides(w), gy_strides = spatial_strides(gy);
  const int64_t batch = input_shape[0];
  const int threads = worth_threads(spec, t, batch, geometry.output_spatial()) ? cpu::default_threads() : 1;
  const auto make_sums = [&] { return std::vector<double>(static_cast<size_t>(element_count(in_sizes))); };
  parallel_for(threads, batch * spec.in_channels, cpu::Schedule::dynamic, make_sums,
                    [&](std::vector<double>& sums, int64_t job) {
    const int64_t n = job / spec.in_channels, c = job % spec.in_channels;
    const int64_t first_o = c / t.in_per_group * t.out_per_group;
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int64_t o = first_o; o < first_o + t.out_per_group; ++o) {
      const float* w_co = w.data() + weight_offset(spec, t, w.strides(), c, o);
      const float* gy_no = gy.data() + n * gy.strides()[0] + o * gy.strides()[1];
      for_each_term(t, w_strides, row_major(in_sizes), gy_strides, [&](int64_t wo, int64_t xo, int64_t yo) {
        sums[static_cast<size_t>(xo)] += static_cast<double>(w_co[wo]) * static_cast<double>(gy_no[yo]);
      });
    }
    store(sums, gx.data() + n * gx.strides()[0] + c * gx.strides()[1], in_sizes, spatial_strides(gx));
  });
  return grad_input;
}

Tensor convolution_backward_weights(const ConvSpec& spec, ConstTensorView input, ConstTensorView grad_output) {
  const std::string op = op_name(spec, Direction::weights);
  const Shape spatial = input_spatial_of(spec, input.shape());
  const ConvGeometry geometry = resolve_geometry(spec, spatial);
  check_grad_output(spec, op, input.dim(0), geometry, grad_output);
  const Terms t = make_terms(spec, geometry);

  Tensor grad_weight(weight_shape(spec));
  const TensorView gw = applied_kernel(as_5d(grad_weight.view(), spec, true), spec);
  const ConstTensorView x = as_5d(input, spec, false);
  const ConstTensorView gy = as_5d(grad_output, spec, false);
  const Triple x_strides = spatial_strides(x), gy_strides = spatial_strides(gy);
  const int64_t batch = input.dim(0);
  const int threads = worth_threads(spec, t, batch, geometry.output_spatial()) ? cpu::default_threads() : 1;
  const auto make_sums = [&] { return std::vector<double>(static_cast<size_t>(element_count(t.kernel))); };
  // One job per (output channel, input channel of its group): each writes its own kernel.
  parallel_for(threads, spec.out_channels * t.in_per_group, cpu::Schedule::dynamic, make_sums,
                    [&](std::vector<double>& sums, int64_t job) {
    const int64_t o = job / t.in_per_group;
    const int64_t c = o / t.out_per_group * t.in_per_group + job % t.in_per_group;
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int64_t n = 0; n < batch; ++n) {
      const float* x_nc = x.data() + n * x.strides()[0] + c * x.strides()[1];
      const float* gy_no = gy.data() + n * gy.strides()[0] + o * gy.strides()[1];
      for_each_term(t, row_major(t.kernel), x_strides, gy_strides, [&](int64_t wo, int64_t xo, int64_t yo) {
        sums[static_cast<size_t>(wo)] += static_cast<double>(x_nc[xo]) * static_cast<double>(gy_no[yo]);
      });
    }
    store(sums, gw.data() + weight_offset(spec, t, gw.strides(), c, o), t.kernel, spatial_strides(gw));
  });
  return grad_weight;
}

Tensor convolution_backward_bias(const ConvSpec& spec, ConstTensorView grad_output) {
  const std::string op = op_name(spec, Direction::bias);
  validate(spec);
  const int channel_axis = spec.layout == Layout::channels_first ? 1 : spec.rank + 1;
  if (grad_output.rank() != spec.rank + 2 || grad_output.dim(channel_axis) != spec.out_channels)
    fail(op, ": grad_output of shape ", grad_output.shape(), " is not a rank-", spec.rank + 2, " ",
         to_string(spec.layout), " tensor with ", spec.out_channels, " channels");
  const ConstTensorView gy = as_5d(grad_output, spec, false);
  Tensor grad_bias(bias_shape(spec));
  const Triple sizes = spatial_sizes(gy), strides = spatial_strides(gy);
  for (int64_t o = 0; o < spec.out_channels; ++o) {
    double sum = 0.0;
    for (int64_t n = 0; n < gy.dim(0); ++n) {
      const float* gy_no = gy.data() + n * gy.strides()[0] + o * gy.strides()[1];
      for (int64_t d = 0; d < sizes[0]; ++d)
        for (int64_t h = 0; h < sizes[1]; ++h)
          for (int64_t w = 0; w < sizes[2]; ++w) sum += gy_no[d * strides[0] + h * strides[1] + w * strides[2]];
    }
    grad_bias[o] = static_cast<float>(sum);
  }
  return grad_bias;
}

}  // namespace convkit::reference
