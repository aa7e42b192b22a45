
#include <algorithm>
#include <array>
#include <vector>

#include "convkit/error.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "parallel.h"

namespace convkit::reference {
namespace {

constexpr int kMaxRank = 3;

// A tensor seen as (outer, inner, D, H, W) whatever its layout: for activations (N, C, spatial),
// for weights (A, B, kernel) where conv weights are (Cout, Cin/g, k) and transposed ones (Cin, Cout/g, k).
// Lower ranks get leading spatial axes of size 1, so one loop nest serves 1D, 2D and 3D.
template <class T>
struct Canonical {
  T* data = nullptr;
  int64_t outer_stride = 0, inner_stride = 0;
  std::array<int64_t, kMaxRank> size{1, 1, 1};
  std::array<int64_t, kMaxRank> stride{0, 0, 0};
};

template <class T>
Canonical<T> canonical(const BasicTensorView<T>& view, int rank, Layout layout) {
  Canonical<T> c;
  c.data = view.data();
  const auto& strides = view.strides();
  const bool first = layout == Layout::channels_first;
  const size_t n = strides.size();
  // channels_first: (outer, inner, s...); channels_last: activations (outer, s..., inner) and
  // weights (s..., inner, outer) -- see weight_canonical for the latter.
  c.outer_stride = strides[0];
  c.inner_stride = first ? strides[1] : strides[n - 1];
  const size_t spatial_begin = first ? 2 : 1;
  for (int axis = 0; axis < rank; ++axis) {
    const size_t slot = static_cast<size_t>(kMaxRank - rank + axis);
    c.size[slot] = view.shape()[spatial_begin + static_cast<size_t>(axis)];
    c.stride[slot] = strides[spatial_begin + static_cast<size_t>(axis)];
  }
  return c;
}

// Weights in channels_last are (k..., B, A): spatial axes first, then the two channel axes.
Canonical<const float> weight_canonical(ConstTensorView weight, const ConvSpec& spec) {
  if (spec.layout == Layout::channels_first) return canonical(weight, spec.rank, Layout::channels_first);
  Canonical<const float> c;
  c.data = weight.data();
  const auto& strides = weight.strides();
  const size_t n = strides.size();
  c.outer_stride = strides[n - 1];
  c.inner_stride = strides[n - 2];
  for (int axis = 0; axis < spec.rank; ++axis) {
    const size_t slot = static_cast<size_t>(kMaxRank - spec.rank + axis);
    c.size[slot] = weight.shape()[static_cast<size_t>(axis)];
    c.stride[slot] = strides[static_cast<size_t>(axis)];
  }
  return c;
}

// For one axis and one kernel tap: the (output index, input element offset) pairs that contribute.
struct Tap {
  int64_t output_index;
  int64_t input_offset;
};
using AxisTaps = std::vector<std::vector<Tap>>;  // [tap][contributing pair]

AxisTaps axis_taps(const AxisGeometry& g, int64_t input_stride, bool transposed, PaddingMode mode) {
  AxisTaps taps(static_cast<size_t>(g.kernel));
  for (int64_t q = 0; q < g.kernel; ++q) {
    for (int64_t p = 0; p < g.output; ++p) {
      int64_t source = -1;
      if (!transposed) {
        source = padded_source_index(p * g.stride + q * g.dilation - g.pad_begin, g.input, mode);
      } else {  // the input cell i with i*stride + q*dilation - pad_begin == p, if any
        const int64_t t = p + g.pad_begin - q * g.dilation;
        if (t >= 0 && t % g.stride == 0 && t / g.stride < g.input) source = t / g.stride;
      }
      if (source >= 0) taps[static_cast<size_t>(q)].push_back({p, source * input_stride});
    }
  }
  return taps;
}

// The geometry padded to three axes with leading size-1 axes.
std::array<AxisGeometry, kMaxRank> padded_axes(const ConvGeometry& geometry) {
  std::array<AxisGeometry, kMaxRank> axes;
  for (auto& a : axes) a = AxisGeometry{1, 1, 1, 1, 0, 0, 0, 1};
  const size_t offset = kMaxRank - geometry.axes.size();
  std::copy(geometry.axes.begin(), geometry.axes.end(), axes.begin() + static_cast<std::ptrdiff_t>(offset));
  return axes;
}

void check_output_view(const ConvSpec& spec, const Shape& expected, TensorView output) {
  if (output.shape() != expected)
    fail(spec.transposed ? "conv_transpose" : "conv", ": output of shape ", output.shape(),
         " does not match the expected ", expected);
}

}  // namespace

void convolution(const ConvSpec& spec, ConstTensorView input, ConstTensorView weight,
                 std::optional<ConstTensorView> bias, TensorView output) {
  const Shape spatial = input_spatial_of(spec, input.shape());
  check_weight_shape(spec, weight.shape());
  const ConvGeometry geometry = resolve_geometry(spec, spatial);
  if (bias) check_bias_shape(spec, bias->shape());
  if (spec.bias && !bias)
    fail(spec.transposed ? "conv_transpose" : "conv", ": the spec has bias=true but no bias tensor was given");
  check_output_view(spec, make_activation_shape(spec, input.dim(0), spec.out_channels, geometry.output_spatial()),
                    output);

  ConstTensorView kernel = weight;
  if (spec.flip) {  // true convolution: the same computation with the kernel reversed on every axis
    const int first_spatial = spec.layout == Layout::channels_first ? 2 : 0;
    for (int axis = 0; axis < spec.rank; ++axis) kernel = kernel.flipped(first_spatial + axis);
  }
  // The innermost loop runs along W: a channels_last input is first copied to channels_first order
  // so that those reads have unit stride (four times faster on the benchmark's layers).
  Tensor staged;
  ConstTensorView source = input;
  if (spec.layout == Layout::channels_last) {
    std::vector<int> axes{0, spec.rank + 1};
    for (int axis = 1; axis <= spec.rank; ++axis) axes.push_back(axis);
    staged = Tensor::copy_of(input.permuted(axes));
    source = staged.view();
  }
  const auto x = canonical(source, spec.rank, spec.layout == Layout::channels_last ? Layout::channels_first : spec.layout);
  const auto w = weight_canonical(kernel, spec);
  const auto y = canonical(output, spec.rank, spec.layout);
  const auto axes = padded_axes(geometry);
  std::array<AxisTaps, kMaxRank> taps;
  for (size_t a = 0; a < kMaxRank; ++a) taps[a] = axis_taps(axes[a], x.stride[a], spec.transposed, spec.padding_mode);

  const int64_t batch = input.dim(0);
  const int64_t in_per_group = spec.in_channels / spec.groups;
  const int64_t out_per_group = spec.out_channels / spec.groups;
  const int64_t out_h = axes[1].output, out_w = axes[2].output;
  const int64_t out_cells = axes[0].output * out_h * out_w;

  // Threads only pay off on real layers; a parallel region costs milliseconds on a loaded machine.
  const int64_t kernel_taps = axes[0].kernel * axes[1].kernel * axes[2].kernel;
  const bool worth_threads = batch * spec.out_channels * in_per_group * kernel_taps * out_cells > (int64_t{1} << 20);
  const int threads = worth_threads ? cpu::default_threads() : 1;
  const auto make_acc = [&] { return std::vector<double>(static_cast<size_t>(out_cells)); };
  parallel_for(threads, batch * spec.out_channels, cpu::Schedule::dynamic, make_acc,
                    [&](std::vector<double>& acc, int64_t job) {
    const int64_t n = job / spec.out_channels, o = job % spec.out_channels;
    const int64_t group = o / out_per_group;
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t ci = 0; ci < in_per_group; ++ci) {
      const int64_t c = group * in_per_group + ci;
      // conv weight (Cout, Cin/g, k): [o, ci]; transposed weight (Cin, Cout/g, k): [c, o mod group].
      const float* w_oc = spec.transposed ? w.data + c * w.outer_stride + (o - group * out_per_group) * w.inner_stride
                                          : w.data + o * w.outer_stride + ci * w.inner_stride;
      const float* x_nc = x.data + n * x.outer_stride + c * x.inner_stride;
      for (int64_t qd = 0; qd < axes[0].kernel; ++qd)
        for (int64_t qh = 0; qh < axes[1].kernel; ++qh)
          for (int64_t qw = 0; qw < axes[2].kernel; ++qw) {
            const double wv = w_oc[qd * w.stride[0] + qh * w.stride[1] + qw * w.stride[2]];
            for (const Tap& d : taps[0][static_cast<size_t>(qd)])
              for (const Tap& h : taps[1][static_cast<size_t>(qh)]) {
                const float* x_row = x_nc + d.input_offset + h.input_offset;
                double* acc_row = acc.data() + (d.output_index * out_h + h.output_index) * out_w;
                for (const Tap& t : taps[2][static_cast<size_t>(qw)])
                  acc_row[t.output_index] += wv * static_cast<double>(x_row[t.input_offset]);
              }
          }
    }
    const double b = bias ? static_cast<double>((*bias)[std::array<int64_t, 1>{o}]) : 0.0;
    float* y_no = output.data() + n * y.outer_stride + o * y.inner_stride;
    for (int64_t pd = 0; pd < axes[0].output; ++pd)
      for (int64_t ph = 0; ph < out_h; ++ph)
        for (int64_t pw = 0; pw < out_w; ++pw)
          y_no[pd * y.stride[0] + ph * y.stride[1] + pw * y.stride[2]] =
              static_cast<float>(acc[static_cast<size_t>((pd * out_h + ph) * out_w + pw)] + b);
  });
}

Tensor convolution(const ConvSpec& spec, ConstTensorView input, ConstTensorView weight,
                   std::optional<ConstTensorView> bias) {
  input_spatial_of(spec, input.shape());
  check_weight_shape(spec, weight.shape());  // before the geometry: a wrong weight explains most misfits
  Tensor output(output_shape(spec, input.shape()));
  convolution(spec, input, weight, bias, output.view());
  return output;
}

}  // namespace convkit::reference
