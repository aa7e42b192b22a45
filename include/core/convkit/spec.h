// ConvSpec: one N-D description of every convolution convkit computes (rank 1-3, grouped, depthwise,
// strided, dilated, padded, transposed, flipped, either layout). The reference engine and the fast
// plans (ConvPlan) take the same ConvSpec, so every fast path is checked against the reference by construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace convkit {

// Where the channel axis is. The weight layouts follow the frameworks that use each layout:
//   channels_first (PyTorch, ONNX): x (N, C, [D,] [H,] W); weight (Cout, Cin/g, k...);
//                                   transposed weight (Cin, Cout/g, k...).
//   channels_last (TensorFlow tf.nn.convNd, Keras): x (N, [D,] [H,] W, C); weight (k..., Cin/g, Cout);
//                                   transposed weight (k..., Cout/g, Cin) as tf.nn.conv2d_transpose.
// Grouped weights use PyTorch's channel grouping in both layouts: the Cout/g output channels of one
// group are contiguous. A TensorFlow depthwise filter (k..., Cin, multiplier) is the same memory as
// (k..., 1, Cin*multiplier) with groups = Cin.
enum class Layout { channels_first, channels_last };

// How the border is filled (PyTorch `padding_mode`). Transposed convolutions support zeros only,
// as in PyTorch ("Only 'zeros' padding mode is supported for ConvTranspose").
enum class PaddingMode { zeros, reflect, replicate, circular };

// Which padding rule. `explicit_pads` uses Padding::begin/end; the others are resolved from the
// input size by resolve_geometry() (see shape.h for the formulas).
enum class PaddingKind {
  explicit_pads,  // per-side amounts (PyTorch `padding=`, ONNX `pads`, auto_pad=NOTSET)
  valid,          // none (TF 'VALID', ONNX VALID)
  same,           // TF 'SAME', ONNX SAME_UPPER, PyTorch padding='same': odd extra cell at the end
  same_lower,     // ONNX SAME_LOWER: odd extra cell at the beginning
};

struct Padding {
  PaddingKind kind = PaddingKind::explicit_pads;
  std::vector<int64_t> begin{};  // per spatial axis; empty = zeros; one value = every axis
  std::vector<int64_t> end{};

  static Padding valid() { return {PaddingKind::valid, {}, {}}; }
  static Padding same() { return {PaddingKind::same, {}, {}}; }
  static Padding same_lower() { return {PaddingKind::same_lower, {}, {}}; }
  // The same amount on both sides of each axis (PyTorch `padding=(p0, p1, ...)`).
  static Padding symmetric(std::vector<int64_t> pads) { return {PaddingKind::explicit_pads, pads, pads}; }
  static Padding explicit_pads(std::vector<int64_t> begin, std::vector<int64_t> end) {
    return {PaddingKind::explicit_pads, std::move(begin), std::move(end)};
  }
  // ONNX `pads` order: all begins, then all ends ([x1_begin, x2_begin, ..., x1_end, x2_end, ...]).
  static Padding onnx(const std::vector<int64_t>& pads);

  bool operator==(const Padding&) const = default;  // field by field: {} and {0} differ
};

// Per-axis vectors (kernel, stride, dilation, output_padding, output_shape) hold one value per spatial
// axis in (D, H, W) order for either layout; a single value applies to every axis (as PyTorch's int
// arguments); an empty stride/dilation/output_padding means all ones/zeros.
struct ConvSpec {
  int rank = 2;  // spatial rank: 1, 2 or 3
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  std::vector<int64_t> kernel{};
  std::vector<int64_t> stride{};
  std::vector<int64_t> dilation{};
  Padding padding{};
  PaddingMode padding_mode = PaddingMode::zeros;
  int64_t groups = 1;  // depthwise: groups == in_channels, out_channels == in_channels * multiplier
  bool bias = false;
  bool transposed = false;               // y = C^T x, the adjoint of the convolution C
  std::vector<int64_t> output_padding{};   // transposed only: extra cells at the end of each axis
  std::vector<int64_t> output_shape{};     // transposed only: requested spatial output size (ONNX rule)
  bool flip = false;                     // true convolution: kernel reversed along every spatial axis
  Layout layout = Layout::channels_first;

  bool operator==(const ConvSpec&) const = default;  // field by field: stride {} and {1} differ
};

std::string_view to_string(Layout layout);
std::string_view to_string(PaddingMode mode);
std::string_view to_string(PaddingKind kind);
// Parsers for the names above; throw convkit::Error naming `argument` and the accepted values.
Layout parse_layout(std::string_view text, std::string_view argument = "layout");
PaddingMode parse_padding_mode(std::string_view text, std::string_view argument = "padding_mode");

// A one-line human description, e.g. "conv2d 3->64 k=[7, 7] s=[2, 2] pad=[3, 3]/[3, 3] channels_first".
std::string describe(const ConvSpec& spec);

}  // namespace convkit
