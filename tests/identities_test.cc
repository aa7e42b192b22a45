// Identities of the reference engine, each checked over hundreds of seeded random problems
// (convkit::testing::random_problem with std::mt19937(kSeed)):
//   adjoint (<C x, y> == <x, C^T y>), the explicit Toeplitz matrix built from the definition,
//   flip == reversed kernel, channels_last == permuted channels_first, rank embedding (1D == 2D with
//   H=1, 2D == 3D with D=1), depthwise == per-channel single convolutions, strided views == contiguous
//   copies, and NaN propagation exactly through the receptive field.
// Everything the tests compare against is built here with plain index arithmetic (own row-major
// offsets, own padding maps, own permutations), not with the library's view helpers.
// Every failure prints the case index and problem.describe(); replay with the same kSeed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using convkit::ConstTensorView;
using convkit::ConvGeometry;
using convkit::ConvSpec;
using convkit::Layout;
using convkit::Padding;
using convkit::PaddingKind;
using convkit::PaddingMode;
using convkit::Shape;
using convkit::Tensor;
using convkit::TensorView;
using convkit::testing::kSeed;
using convkit::testing::Problem;
using convkit::testing::ProblemData;
using convkit::testing::ProblemOptions;
using convkit::testing::random_data;
using convkit::testing::random_problem;
using convkit::testing::random_tensor;
namespace reference = convkit::reference;

// ---------------------------------------------------------------------------------------------
// Index arithmetic (own row-major helpers, independent of the library's next_index / views).

int64_t count_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t e : shape) n *= e;
  return n;
}

int64_t flat_offset(const Shape& shape, const Shape& index) {
  int64_t offset = 0;
  for (size_t i = 0; i < shape.size(); ++i) offset = offset * shape[i] + index[i];
  return offset;
}

Shape unflatten(const Shape& shape, int64_t offset) {
  Shape index(shape.size(), 0);
  for (size_t i = shape.size(); i-- > 0;) {
    index[i] = offset % shape[i];
    offset /= shape[i];
  }
  return index;
}

// Calls f(index) for every multi-index of `shape` in row-major order.
void for_each_index(const Shape& shape, const std::function<void(const Shape&)>& f) {
  if (count_of(shape) == 0) return;
  Shape index(shape.size(), 0);
  for (;;) {
    f(index);
    size_t axis = shape.size();
    for (; axis-- > 0;) {
      if (++index[axis] < shape[axis]) break;
      index[axis] = 0;
    }
    if (axis == static_cast<size_t>(-1)) return;
  }
}

float& element(Tensor& t, const Shape& index) { return t[flat_offset(t.shape(), index)]; }
float element(const Tensor& t, const Shape& index) { return t[flat_offset(t.shape(), index)]; }

std::string shape_string(const Shape& shape) { return convkit::to_string(shape); }

// The case banner every randomized loop puts in a SCOPED_TRACE.
std::string case_banner(int index, const Problem& problem) {
  std::ostringstream out;
  out << "case " << index << " (seed " << kSeed << "): " << problem.describe();
  return out.str();
}

// Exact elementwise equality (a NaN matches a NaN), reporting the number of mismatches and the first.
void expect_equal(const Tensor& expected, const Tensor& got, const std::string& what) {
  ASSERT_EQ(expected.shape(), got.shape()) << what;
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const bool same = expected[i] == got[i] || (std::isnan(expected[i]) && std::isnan(got[i]));
    if (!same) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad)
    ADD_FAILURE() << what << ": " << bad << " of " << expected.numel() << " elements differ; first at "
                  << shape_string(unflatten(expected.shape(), first)) << " of shape " << shape_string(expected.shape())
                  << ": expected " << std::setprecision(9) << expected[first] << ", got " << got[first];
}

// ---------------------------------------------------------------------------------------------
// Problem helpers.

Shape spatial_of(const Problem& p) { return convkit::input_spatial_of(p.spec, p.input_shape); }

// The same problem (same batch, channels and spatial sizes) in another layout.
Problem with_layout(Problem p, Layout layout) {
  const Shape spatial = spatial_of(p);
  p.spec.layout = layout;
  p.input_shape = convkit::make_activation_shape(p.spec, p.input_shape[0], p.spec.in_channels, spatial);
  return p;
}

// One value per axis from a per-axis argument (empty -> fallback, one value -> everywhere).
std::vector<int64_t> expand(const std::vector<int64_t>& values, int rank, int64_t fallback) {
  if (values.empty()) return std::vector<int64_t>(static_cast<size_t>(rank), fallback);
  if (values.size() == 1) return std::vector<int64_t>(static_cast<size_t>(rank), values[0]);
  return values;
}

bool first_layout(const ConvSpec& s) { return s.layout == Layout::channels_first; }
int channel_axis(const ConvSpec& s) { return first_layout(s) ? 1 : s.rank + 1; }
int first_spatial_axis(const ConvSpec& s) { return first_layout(s) ? 2 : 1; }
// Spatial axes of a weight tensor start at 2 (channels_first) or 0 (channels_last).
int weight_first_spatial_axis(const ConvSpec& s) { return first_layout(s) ? 2 : 0; }
// The weight's outer axis: Cout (conv) / Cin (transposed), axis 0 or the last axis.
int weight_outer_axis(const ConvSpec& s) { return first_layout(s) ? 0 : s.rank + 1; }

struct ActivationIndex {
  int64_t n = 0, c = 0;
  Shape spatial;
};
ActivationIndex split_activation_index(const ConvSpec& s, const Shape& index) {
  ActivationIndex a;
  a.n = index[0];
  a.c = index[static_cast<size_t>(channel_axis(s))];
  const auto begin = index.begin() + first_spatial_axis(s);
  a.spatial.assign(begin, begin + s.rank);
  return a;
}

// PyTorch F.pad semantics on one axis of size n: the source cell of padded position j, or -1 for a
// zero (zeros mode, out of range). reflect mirrors without repeating the edge (-j / 2(n-1)-j),
// replicate clamps, circular wraps.
int64_t padded_source(int64_t j, int64_t n, PaddingMode mode) {
  if (j >= 0 && j < n) return j;
  switch (mode) {
    case PaddingMode::zeros: return -1;
    case PaddingMode::reflect: return j < 0 ? -j : 2 * (n - 1) - j;
    case PaddingMode::replicate: return j < 0 ? 0 : n - 1;
    case PaddingMode::circular: return j < 0 ? j + n : j - n;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Explicit copies: layout permutations, kernel reversal, slicing.

// (N, spatial..., C) -> (N, C, spatial...)
Tensor activation_last_to_first(const Tensor& t) {
  const size_t r = t.shape().size();
  Shape shape{t.dim(0), t.shape()[r - 1]};
  for (size_t a = 1; a + 1 < r; ++a) shape.push_back(t.shape()[a]);
  Tensor out(shape);
  for_each_index(shape, [&](const Shape& idx) {
    Shape src(r);
    src[0] = idx[0];
    src[r - 1] = idx[1];
    for (size_t a = 2; a < r; ++a) src[a - 1] = idx[a];
    element(out, idx) = element(t, src);
  });
  return out;
}

// (N, C, spatial...) -> (N, spatial..., C)
Tensor activation_first_to_last(const Tensor& t) {
  const size_t r = t.shape().size();
  Shape shape{t.dim(0)};
  for (size_t a = 2; a < r; ++a) shape.push_back(t.shape()[a]);
  shape.push_back(t.dim(1));
  Tensor out(shape);
  for_each_index(shape, [&](const Shape& idx) {
    Shape src(r);
    src[0] = idx[0];
    src[1] = idx[r - 1];
    for (size_t a = 2; a < r; ++a) src[a] = idx[a - 1];
    element(out, idx) = element(t, src);
  });
  return out;
}

// Weight (k..., A, B) -> (B, A, k...): conv (k..., Cin/g, Cout) -> (Cout, Cin/g, k...) and
// transposed (k..., Cout/g, Cin) -> (Cin, Cout/g, k...).
Tensor weight_last_to_first(const Tensor& w) {
  const size_t r = w.shape().size();
  Shape shape{w.shape()[r - 1], w.shape()[r - 2]};
  for (size_t a = 0; a + 2 < r; ++a) shape.push_back(w.shape()[a]);
  Tensor out(shape);
  for_each_index(shape, [&](const Shape& idx) {
    Shape src(r);
    src[r - 1] = idx[0];
    src[r - 2] = idx[1];
    for (size_t a = 2; a < r; ++a) src[a - 2] = idx[a];
    element(out, idx) = element(w, src);
  });
  return out;
}

// The weight with every spatial axis reversed (index k-1-q), by hand.
Tensor reversed_kernel(const Tensor& w, const ConvSpec& spec) {
  const auto first = static_cast<size_t>(weight_first_spatial_axis(spec));
  Tensor out(w.shape());
  for_each_index(w.shape(), [&](const Shape& idx) {
    Shape src = idx;
    for (size_t a = first; a < first + static_cast<size_t>(spec.rank); ++a) src[a] = w.shape()[a] - 1 - idx[a];
    element(out, idx) = element(w, src);
  });
  return out;
}

// Elements [start, start + count) of `axis`.
Tensor slice(const Tensor& t, int axis, int64_t start, int64_t count) {
  Shape shape = t.shape();
  shape[static_cast<size_t>(axis)] = count;
  Tensor out(shape);
  for_each_index(shape, [&](const Shape& idx) {
    Shape src = idx;
    src[static_cast<size_t>(axis)] += start;
    element(out, idx) = element(t, src);
  });
  return out;
}

// Writes `src` into `dst` at offset `start` of `axis`.
void place(Tensor& dst, const Tensor& src, int axis, int64_t start) {
  for_each_index(src.shape(), [&](const Shape& idx) {
    Shape to = idx;
    to[static_cast<size_t>(axis)] += start;
    element(dst, to) = element(src, idx);
  });
}

// The same values under a shape with one extra axis of size 1 at `position`.
Tensor with_unit_axis(const Tensor& t, int position) {
  Shape shape = t.shape();
  shape.insert(shape.begin() + position, 1);
  return Tensor(shape, t.values());
}

std::optional<ConstTensorView> optional_view(const Tensor& t) {
  return t.numel() ? std::optional<ConstTensorView>(t.view()) : std::nullopt;
}

// =============================================================================================
// 1. Adjoint: <conv(x), y> == <x, conv_T(y)>.

TEST(IdentitiesAdjoint, TransposedConvolutionIsTheAdjointOfConvolution) {
  std::mt19937 rng(kSeed);
  ProblemOptions options;
  options.allow_transposed = false;
  options.allow_padding_modes = false;  // the adjoint of a zeros-padded convolution only
  constexpr int kCases = 1000;
  int checked = 0, skipped = 0;
  for (int i = 0; i < kCases; ++i) {
    Problem s = random_problem(rng, options);
    s.spec.bias = false;
    SCOPED_TRACE(case_banner(i, s));
    const ConvGeometry geometry = convkit::resolve_geometry(s.spec, spatial_of(s));

    // T: channels swapped, the resolved pads of S, output_padding restoring S's input size.
    ConvSpec t = s.spec;
    t.transposed = true;
    t.in_channels = s.spec.out_channels;
    t.out_channels = s.spec.in_channels;
    std::vector<int64_t> begin, end, output_padding;
    bool representable = true;
    for (const auto& g : geometry.axes) {
      begin.push_back(g.pad_begin);
      end.push_back(g.pad_end);
      const int64_t reach = (g.output - 1) * g.stride - g.pad_begin - g.pad_end + (g.kernel - 1) * g.dilation + 1;
      const int64_t op = g.input - reach;
      if (op < 0 || op >= std::max(g.stride, g.dilation)) representable = false;
      output_padding.push_back(op);
    }
    if (!representable) {
      ++skipped;
      continue;
    }
    t.padding = Padding::explicit_pads(begin, end);
    t.output_padding = output_padding;
    SCOPED_TRACE("transposed spec " + convkit::describe(t));
    ASSERT_EQ(convkit::weight_shape(t), convkit::weight_shape(s.spec));

    const ProblemData d = random_data(s, rng);
    const Tensor y = random_tensor(convkit::output_shape(s.spec, s.input_shape), rng);
    const Tensor cx = reference::convolution(s.spec, d.input, d.weight);
    const Tensor cty = reference::convolution(t, y, d.weight);
    ASSERT_EQ(cx.shape(), y.shape());
    ASSERT_EQ(cty.shape(), d.input.shape());

    double lhs = 0, rhs = 0, scale = 0;
    for (int64_t k = 0; k < y.numel(); ++k) {
      lhs += static_cast<double>(cx[k]) * y[k];
      scale += std::fabs(static_cast<double>(cx[k]) * y[k]);
    }
    for (int64_t k = 0; k < cty.numel(); ++k) {
      rhs += static_cast<double>(d.input[k]) * cty[k];
      scale += std::fabs(static_cast<double>(d.input[k]) * cty[k]);
    }
    // Tolerance: each output is a double sum rounded once to float (relative error <= 2^-24), so
    // |lhs - rhs| <= 2^-24 * scale with scale = sum|cx*y| + sum|x*cty|; we allow 1e-5 * (1 + scale),
    // ~170x that bound and still far below one wrong product of O(1) data.
    EXPECT_NEAR(lhs, rhs, 1e-5 * (1 + scale)) << "scale " << scale;
    ++checked;
  }
  EXPECT_EQ(skipped, 0) << "output_padding = in - reach lies in [0, stride) for every forward convolution";
  EXPECT_EQ(checked, kCases);
}

// =============================================================================================
// 2. Toeplitz: the explicit matrix from the definition.

// One axis of a forward convolution: `in` input cells, `out` output cells.
struct MatrixAxis {
  int64_t in, out, kernel, stride, dilation, pad_begin;
};

// The dense (Cout*P) x (Cin*Q) matrix C of a forward, channels_first convolution, straight from
//   y[o,p] = sum_{c in group(o), q} w[o,c,q'] * x[c, map(p*stride + q*dilation - pad_begin)]
// with q' = k-1-q on every axis when flipped, map = padded_source per axis. Rows are o*P + flat(p),
// columns c*Q + flat(j) (the channels_first memory order). `weight` is (Cout, Cin/g, k...).
std::vector<double> convolution_matrix(const std::vector<MatrixAxis>& axes, int64_t in_channels,
                                       int64_t out_channels, int64_t groups, PaddingMode mode, bool flip,
                                       const Tensor& weight) {
  Shape in_sizes, out_sizes, kernel;
  for (const auto& a : axes) {
    in_sizes.push_back(a.in);
    out_sizes.push_back(a.out);
    kernel.push_back(a.kernel);
  }
  const int64_t P = count_of(out_sizes), Q = count_of(in_sizes), K = count_of(kernel);
  const int64_t cols = in_channels * Q;
  const int64_t in_per_group = in_channels / groups, out_per_group = out_channels / groups;
  EXPECT_EQ(weight.numel(), out_channels * in_per_group * K);
  std::vector<double> C(static_cast<size_t>(out_channels * P * cols), 0.0);
  for (int64_t o = 0; o < out_channels; ++o) {
    const int64_t group = o / out_per_group;
    for (int64_t ci = 0; ci < in_per_group; ++ci) {
      const int64_t c = group * in_per_group + ci;
      for_each_index(out_sizes, [&](const Shape& p) {
        for_each_index(kernel, [&](const Shape& q) {
          Shape j(axes.size()), wq = q;
          for (size_t a = 0; a < axes.size(); ++a) {
            const MatrixAxis& g = axes[a];
            j[a] = padded_source(p[a] * g.stride + q[a] * g.dilation - g.pad_begin, g.in, mode);
            if (j[a] < 0) return;  // a zero of the padding
            if (flip) wq[a] = g.kernel - 1 - q[a];
          }
          const double w = weight[(o * in_per_group + ci) * K + flat_offset(kernel, wq)];
          const int64_t row = o * P + flat_offset(out_sizes, p);
          const int64_t col = c * Q + flat_offset(in_sizes, j);
          C[static_cast<size_t>(row * cols + col)] += w;
        });
      });
    }
  }
  return C;
}


// Per batch item: C x + b, or C^T x + b when `transpose` (C is row-major, outputs x inputs of the
// forward convolution); the bias is per output channel of `output_shape`'s channels_first layout.
Tensor apply_matrix(const std::vector<double>& C, const convkit::testing::ProblemData& d, int64_t batch,
                    const Shape& output_shape, int64_t out_channels, bool transpose) {
  Tensor result(output_shape);
  const int64_t outputs = result.numel() / batch, inputs = d.input.numel() / batch;
  const int64_t cells_per_channel = outputs / out_channels;
  const int64_t cols = transpose ? outputs : inputs;  // row length of C
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < outputs; ++o) {
      double sum = d.bias.numel() ? d.bias[o / cells_per_channel] : 0.0;
      for (int64_t i = 0; i < inputs; ++i)
        sum += C[static_cast<size_t>(transpose ? i * cols + o : o * cols + i)] * d.input[n * inputs + i];
      result[n * outputs + o] = static_cast<float>(sum);
    }
  return result;
}

TEST(IdentitiesToeplitz, ConvolutionIsItsExplicitMatrixAndTransposedIsItsTranspose) {
  std::mt19937 rng(kSeed);
  ProblemOptions options;
  options.max_channels = 4;
  options.max_spatial = 5;
  constexpr int kCases = 600;
  constexpr int64_t kMaxEntries = 10000;  // rows * columns of one matrix
  int transposed_cases = 0, flipped = 0, grouped = 0, bias = 0, rank3 = 0;
  int modes[4] = {0, 0, 0, 0};
  for (int i = 0; i < kCases; ++i) {
    Problem pr;
    for (;;) {  // channels_first problems with a small matrix
      pr = with_layout(random_problem(rng, options), Layout::channels_first);
      const int64_t batch = pr.input_shape[0];
      const int64_t entries = count_of(pr.input_shape) / batch *
                              (count_of(convkit::output_shape(pr.spec, pr.input_shape)) / batch);
      if (entries <= kMaxEntries) break;
    }
    SCOPED_TRACE(case_banner(i, pr));
    const ConvSpec& s = pr.spec;
    const ConvGeometry geometry = convkit::resolve_geometry(s, spatial_of(pr));
    const ProblemData d = random_data(pr, rng, /*integers=*/true);
    const Tensor y = reference::convolution(s, d.input, d.weight, d.bias_view());

    // Output sizes by the framework formulas (PyTorch conv / ConvTranspose) from the resolved pads.
    std::vector<MatrixAxis> axes;
    Shape out_spatial;
    for (const auto& g : geometry.axes) {
      const int64_t dk = (g.kernel - 1) * g.dilation + 1;
      if (!s.transposed) {
        const int64_t out = (g.input + g.pad_begin + g.pad_end - dk) / g.stride + 1;
        out_spatial.push_back(out);
        axes.push_back({g.input, out, g.kernel, g.stride, g.dilation, g.pad_begin});
      } else {
        const int64_t out = (g.input - 1) * g.stride - g.pad_begin - g.pad_end + dk + g.output_padding;
        out_spatial.push_back(out);
        // The forward convolution whose transpose this is: input = T's output, output = T's input.
        axes.push_back({out, g.input, g.kernel, g.stride, g.dilation, g.pad_begin});
      }
    }
    const int64_t batch = pr.input_shape[0];
    ASSERT_EQ(y.shape(), convkit::make_activation_shape(s, batch, s.out_channels, out_spatial));

    if (!s.transposed) {
      const std::vector<double> C =
          convolution_matrix(axes, s.in_channels, s.out_channels, s.groups, s.padding_mode, s.flip, d.weight);
      const Tensor expected = apply_matrix(C, d, batch, y.shape(), s.out_channels, /*transpose=*/false);
      expect_equal(expected, y, "conv(x) vs C x + b");
    } else {
      // Transposed weight (Cin, Cout/g, k...) is the forward weight (Cout_S, Cin_S/g, k...) of the
      // convolution with in_channels = Cout, out_channels = Cin.
      const std::vector<double> C =
          convolution_matrix(axes, s.out_channels, s.in_channels, s.groups, PaddingMode::zeros, s.flip, d.weight);
      const Tensor expected = apply_matrix(C, d, batch, y.shape(), s.out_channels, /*transpose=*/true);
      expect_equal(expected, y, "conv_transpose(x) vs C^T x + b");
    }
    transposed_cases += s.transposed;
    flipped += s.flip;
    grouped += s.groups > 1;
    bias += s.bias;
    rank3 += s.rank == 3;
    if (!s.transposed) ++modes[static_cast<int>(s.padding_mode)];
  }
  // The draw must actually cover the options this test is about.
  EXPECT_GT(transposed_cases, 20);
  EXPECT_GT(flipped, 20);
  EXPECT_GT(grouped, 20);
  EXPECT_GT(bias, 20);
  EXPECT_GT(rank3, 10);
  for (int m = 0; m < 4; ++m) EXPECT_GT(modes[m], 10) << convkit::to_string(static_cast<PaddingMode>(m));
}

// =============================================================================================
// 3. Flip: flip=true == flip=false with the kernel reversed by hand.

TEST(IdentitiesFlip, FlipEqualsReversedKernel) {
  std::mt19937 rng(kSeed);
  constexpr int kCases = 800;
  for (int i = 0; i < kCases; ++i) {
    Problem p = random_problem(rng);
    p.spec.flip = true;
    SCOPED_TRACE(case_banner(i, p));
    const ProblemData d = random_data(p, rng, /*integers=*/true);
    const Tensor flipped = reference::convolution(p.spec, d.input, d.weight, d.bias_view());
    ConvSpec plain = p.spec;
    plain.flip = false;
    const Tensor reversed = reference::convolution(plain, d.input, reversed_kernel(d.weight, p.spec), d.bias_view());
    expect_equal(reversed, flipped, "flip=true vs reversed kernel");
  }
}

// =============================================================================================
// 4. Layouts: channels_last == channels_first on permuted tensors.

TEST(IdentitiesLayouts, ChannelsLastEqualsPermutedChannelsFirst) {
  std::mt19937 rng(kSeed);
  constexpr int kCases = 800;
  for (int i = 0; i < kCases; ++i) {
    const Problem last = with_layout(random_problem(rng), Layout::channels_last);
    const Problem first = with_layout(last, Layout::channels_first);
    SCOPED_TRACE(case_banner(i, last));
    const ProblemData d = random_data(last, rng, /*integers=*/true);
    const Tensor y_last = reference::convolution(last.spec, d.input, d.weight, d.bias_view());
    const Tensor x_first = activation_last_to_first(d.input);
    ASSERT_EQ(x_first.shape(), first.input_shape);
    const Tensor w_first = weight_last_to_first(d.weight);
    ASSERT_EQ(w_first.shape(), convkit::weight_shape(first.spec));
    const Tensor y_first = reference::convolution(first.spec, x_first, w_first, d.bias_view());
    expect_equal(activation_first_to_last(y_first), y_last, "channels_last vs permuted channels_first");
  }
}

// =============================================================================================
// 5. Rank embedding: an r-D problem == the (r+1)-D problem with a leading size-1 spatial axis.

// The spec with a new leading spatial axis: kernel 1, stride 1, dilation 1, no pads, no output_padding.
ConvSpec add_unit_axis(const ConvSpec& s) {
  ConvSpec e = s;
  e.rank = s.rank + 1;
  auto prepend = [](std::vector<int64_t> v, int64_t value) {
    v.insert(v.begin(), value);
    return v;
  };
  e.kernel = prepend(expand(s.kernel, s.rank, 1), 1);
  e.stride = prepend(expand(s.stride, s.rank, 1), 1);
  e.dilation = prepend(expand(s.dilation, s.rank, 1), 1);
  if (s.padding.kind == PaddingKind::explicit_pads) {
    e.padding.begin = prepend(expand(s.padding.begin, s.rank, 0), 0);
    e.padding.end = prepend(expand(s.padding.end, s.rank, 0), 0);
  }
  if (!s.output_padding.empty()) e.output_padding = prepend(expand(s.output_padding, s.rank, 0), 0);
  if (!s.output_shape.empty()) e.output_shape = prepend(s.output_shape, 1);
  return e;
}

void check_rank_embedding(int rank) {
  std::mt19937 rng(kSeed);
  ProblemOptions options;
  options.rank = rank;
  constexpr int kCases = 500;
  for (int i = 0; i < kCases; ++i) {
    const Problem p = random_problem(rng, options);
    SCOPED_TRACE(case_banner(i, p));
    const ProblemData d = random_data(p, rng, /*integers=*/true);
    const Tensor y = reference::convolution(p.spec, d.input, d.weight, d.bias_view());

    const ConvSpec e = add_unit_axis(p.spec);
    SCOPED_TRACE("embedded spec " + convkit::describe(e));
    const bool first = first_layout(p.spec);
    // The new axis comes first among the spatial axes: activations at 2 / 1, weights at 2 / 0.
    const Tensor x_e = with_unit_axis(d.input, first ? 2 : 1);
    const Tensor w_e = with_unit_axis(d.weight, first ? 2 : 0);
    const Tensor y_e = reference::convolution(e, x_e, w_e, d.bias_view());
    expect_equal(with_unit_axis(y, first ? 2 : 1), y_e, "rank " + std::to_string(rank) + " vs embedded");
  }
}

TEST(IdentitiesRankEmbedding, Conv1dEqualsConv2dWithUnitHeight) { check_rank_embedding(1); }
TEST(IdentitiesRankEmbedding, Conv2dEqualsConv3dWithUnitDepth) { check_rank_embedding(2); }

// =============================================================================================
// 6. Depthwise: groups == in_channels with multiplier m == per-channel single convolutions.

TEST(IdentitiesDepthwise, DepthwiseEqualsStackedSingleChannelConvolutions) {
  std::mt19937 rng(kSeed);
  constexpr int kCases = 600;
  for (int i = 0; i < kCases; ++i) {
    Problem p = random_problem(rng);
    const int64_t m = std::uniform_int_distribution<int64_t>(1, 3)(rng);
    p.spec.groups = p.spec.in_channels;
    p.spec.out_channels = p.spec.in_channels * m;
    SCOPED_TRACE(case_banner(i, p));
    const ConvSpec& s = p.spec;
    const ProblemData d = random_data(p, rng, /*integers=*/true);
    const Tensor y = reference::convolution(s, d.input, d.weight, d.bias_view());

    ConvSpec single = s;
    single.in_channels = 1;
    single.out_channels = m;
    single.groups = 1;
    Tensor stacked(y.shape(), std::numeric_limits<float>::quiet_NaN());
    const int c_axis = channel_axis(s);
    for (int64_t c = 0; c < s.in_channels; ++c) {
      // conv weight rows c*m .. c*m+m-1 of (Cin*m, 1, k) / (k, 1, Cin*m); transposed weight row c
      // of (Cin, m, k) / (k, m, Cin).
      const Tensor w_c = s.transposed ? slice(d.weight, weight_outer_axis(s), c, 1)
                                      : slice(d.weight, weight_outer_axis(s), c * m, m);
      ASSERT_EQ(w_c.shape(), convkit::weight_shape(single));
      const Tensor x_c = slice(d.input, c_axis, c, 1);
      const Tensor b_c = s.bias ? slice(d.bias, 0, c * m, m) : Tensor();
      const Tensor y_c = reference::convolution(single, x_c, w_c, optional_view(b_c));
      place(stacked, y_c, c_axis, c * m);
    }
    expect_equal(stacked, y, "per-channel convolutions vs depthwise");
  }
}

// =============================================================================================
// 7. Strided views: any strides (gaps, permuted storage, reversed axes) give the contiguous result.

// A view of `values` inside its own buffer: the axes stored in a random order, axis a spaced every
// step[a] cells (step 2 forced on `gap_axis` if >= 0), some axes traversed backwards; every cell
// outside the view holds `fill`.
struct StridedBuffer {
  std::vector<float> buffer;
  Shape shape, strides;
  int64_t base = 0;
  std::vector<bool> in_view;

  float* data() { return buffer.data() + base; }
  int64_t offset_of(const Shape& index) const {
    int64_t o = base;
    for (size_t a = 0; a < index.size(); ++a) o += index[a] * strides[a];
    return o;
  }
};

StridedBuffer make_strided(const Tensor& values, std::mt19937& rng, float fill, int gap_axis) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  StridedBuffer b;
  b.shape = values.shape();
  const size_t r = b.shape.size();
  std::vector<size_t> order(r);
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  Shape step(r), extent(r), storage(r);
  std::vector<bool> reversed(r);
  for (size_t a = 0; a < r; ++a) {
    step[a] = static_cast<int>(a) == gap_axis ? 2 : pick(1, 2);
    reversed[a] = pick(0, 2) == 0;
    extent[a] = b.shape[a] * step[a];
  }
  int64_t cells = 1;
  for (size_t k = r; k-- > 0;) {  // innermost storage axis = order[r-1]
    storage[order[k]] = cells;
    cells *= extent[order[k]];
  }
  b.strides.resize(r);
  b.base = 1;  // one guard cell before the data
  for (size_t a = 0; a < r; ++a) {
    b.strides[a] = storage[a] * step[a] * (reversed[a] ? -1 : 1);
    if (reversed[a]) b.base += (b.shape[a] - 1) * storage[a] * step[a];
  }
  b.buffer.assign(static_cast<size_t>(cells + 2), fill);  // and one after
  b.in_view.assign(b.buffer.size(), false);
  for_each_index(b.shape, [&](const Shape& idx) {
    const auto o = static_cast<size_t>(b.offset_of(idx));
    b.buffer[o] = element(values, idx);
    b.in_view[o] = true;
  });
  return b;
}

TEST(IdentitiesStridedViews, NonContiguousViewsGiveTheContiguousResult) {
  std::mt19937 rng(kSeed);
  constexpr int kCases = 600;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  constexpr float kSentinel = -777.0f;
  for (int i = 0; i < kCases; ++i) {
    const Problem p = random_problem(rng);
    SCOPED_TRACE(case_banner(i, p));
    const ConvSpec& s = p.spec;
    const ProblemData d = random_data(p, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(s, d.input, d.weight, d.bias_view());

    // Gaps filled with NaN: reading a cell outside a view would show up as a NaN in the result.
    const int w_axis = first_spatial_axis(s) + s.rank - 1;  // every second element along W, at least
    StridedBuffer x = make_strided(d.input, rng, nan, w_axis);
    StridedBuffer w = make_strided(d.weight, rng, nan, -1);
    std::optional<StridedBuffer> b;
    if (s.bias) b = make_strided(d.bias, rng, nan, -1);
    StridedBuffer y = make_strided(Tensor(expected.shape(), 0.0f), rng, kSentinel, -1);
    std::optional<ConstTensorView> bias_view;
    if (b) bias_view = ConstTensorView(b->data(), b->shape, b->strides);

    const ConstTensorView x_view(x.data(), x.shape, x.strides);
    ASSERT_FALSE(x_view.is_contiguous());
    reference::convolution(s, x_view, ConstTensorView(w.data(), w.shape, w.strides), bias_view,
                           TensorView(y.data(), y.shape, y.strides));
    // Also the allocating overload on the same input/weight views.
    const Tensor allocated =
        reference::convolution(s, x_view, ConstTensorView(w.data(), w.shape, w.strides), bias_view);
    expect_equal(expected, allocated, "strided input/weight/bias vs contiguous");

    Tensor got(expected.shape());
    for_each_index(expected.shape(), [&](const Shape& idx) {
      element(got, idx) = y.buffer[static_cast<size_t>(y.offset_of(idx))];
    });
    expect_equal(expected, got, "strided output view vs contiguous");
    int64_t touched = 0;
    for (size_t k = 0; k < y.buffer.size(); ++k)
      if (!y.in_view[k] && y.buffer[k] != kSentinel) ++touched;
    EXPECT_EQ(touched, 0) << "cells outside the output view were written; output strides "
                          << shape_string(y.strides);
  }
}

// =============================================================================================
// 8. NaN propagation: exactly the outputs whose receptive field holds the NaN.

TEST(IdentitiesNanPropagation, NanReachesExactlyItsReceptiveField) {
  std::mt19937 rng(kSeed);
  constexpr int kCases = 800;
  int nan_outputs = 0, finite_outputs = 0;
  for (int i = 0; i < kCases; ++i) {
    const Problem p = random_problem(rng);
    SCOPED_TRACE(case_banner(i, p));
    const ConvSpec& s = p.spec;
    ProblemData d = random_data(p, rng);
    const int64_t where = std::uniform_int_distribution<int64_t>(0, d.input.numel() - 1)(rng);
    d.input[where] = std::numeric_limits<float>::quiet_NaN();
    const ActivationIndex src = split_activation_index(s, unflatten(d.input.shape(), where));
    SCOPED_TRACE("NaN at input " + shape_string(unflatten(d.input.shape(), where)));

    const ConvGeometry geometry = convkit::resolve_geometry(s, spatial_of(p));
    const Tensor y = reference::convolution(s, d.input, d.weight, d.bias_view());
    const int64_t in_per_group = s.in_channels / s.groups, out_per_group = s.out_channels / s.groups;
    int64_t wrong = 0;
    std::string first_wrong;
    for_each_index(y.shape(), [&](const Shape& idx) {
      const ActivationIndex out = split_activation_index(s, idx);
      bool reached = out.n == src.n && out.c / out_per_group == src.c / in_per_group;
      for (size_t a = 0; reached && a < geometry.axes.size(); ++a) {
        const auto& g = geometry.axes[a];
        bool any = false;
        for (int64_t q = 0; q < g.kernel && !any; ++q) {
          if (!s.transposed)  // output p reads padded cell p*s + q*d - pb
            any = padded_source(out.spatial[a] * g.stride + q * g.dilation - g.pad_begin, g.input, s.padding_mode) ==
                  src.spatial[a];
          else  // input i feeds output i*s + q*d - pb
            any = src.spatial[a] * g.stride + q * g.dilation - g.pad_begin == out.spatial[a];
        }
        reached = any;
      }
      const float v = element(y, idx);
      const bool ok = reached ? std::isnan(v) : std::isfinite(v);
      (reached ? nan_outputs : finite_outputs) += 1;
      if (!ok && wrong++ == 0)
        first_wrong = "output " + shape_string(idx) + " is " + std::to_string(v) + ", expected " +
                      (reached ? "NaN" : "finite");
    });
    EXPECT_EQ(wrong, 0) << first_wrong;
  }
  EXPECT_GT(nan_outputs, 1000);
  EXPECT_GT(finite_outputs, 1000);
}

}  // namespace
