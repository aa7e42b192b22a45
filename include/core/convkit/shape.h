// Shape arithmetic: padding resolution, output sizes, tensor shapes per layout, and validation.
// Every formula is the one TensorFlow, PyTorch or ONNX implement; each is cited beside its code in
// src/core/shape.cc. All functions throw convkit::Error naming the argument, value and expectation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

// The cells a dilated kernel spans, (k - 1) * dilation + 1; an Error naming dilation and kernel (and
// `axis` when given) when that exceeds int64.
int64_t dilated_kernel_size(int64_t kernel, int64_t dilation, std::string_view axis = {});

// One spatial axis of a convolution with every rule resolved to numbers. resolve_geometry() checks that
// the sizes and the steps of the formulas below (padded input, dilated kernel, span) fit in int64.
struct AxisGeometry {
  int64_t input = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;  // transposed: negative for extra cells at the end ('same' or output_shape)
  int64_t output_padding = 0;  // transposed only
  int64_t output = 0;
  int64_t dilated_kernel() const { return dilated_kernel_size(kernel, dilation); }
};

// The resolved geometry of every spatial axis, in (D, H, W) order.
struct ConvGeometry {
  std::vector<AxisGeometry> axes;
  Shape input_spatial() const;
  Shape output_spatial() const;
};

// --- Per-axis rules (pure functions, shared by everything that does shape arithmetic) ---

// Convolution output size, PyTorch ConvUtils.h conv_output_size / ONNX Conv:
//   out = floor((in + pad_begin + pad_end - ((k - 1) * dilation + 1)) / stride) + 1
// An Error when the padded input or the dilated kernel exceeds int64.
int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                         int64_t pad_end);
// Transposed convolution output size, PyTorch ConvTranspose / ONNX ConvTranspose:
//   out = (in - 1) * stride - pad_begin - pad_end + (k - 1) * dilation + 1 + output_padding
// An Error when a step exceeds int64.
int64_t transposed_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t dilation,
                               int64_t pad_begin, int64_t pad_end, int64_t output_padding);

// Pads on both sides of one axis.
struct AxisPads {
  int64_t begin = 0;
  int64_t end = 0;
};
// TF 'SAME' / ONNX SAME_UPPER (lower=false) and ONNX SAME_LOWER (lower=true) for a convolution:
//   out = ceil(in / stride); total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)
//   SAME_UPPER: begin = total / 2, end = total - begin; SAME_LOWER: end = total / 2, begin = total - end.
AxisPads same_padding(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, bool lower);

// Which input cell an out-of-range index j of an axis of size n reads under each padding mode
// (PyTorch F.pad): reflect mirrors without repeating the edge, replicate clamps, circular wraps.
// In-range j is returned as is; -1 means the cell reads as zero (zeros mode). Valid for the pad
// widths validate()/resolve_geometry() accept (reflect pad < n, circular pad <= n).
int64_t padded_source_index(int64_t j, int64_t n, PaddingMode mode);

// --- Whole-spec validation and resolution ---

// One value per spatial axis from a per-axis argument: empty -> `fallback` everywhere, one value ->
// that value everywhere, `rank` values -> as given; anything else is an Error naming `argument`.
std::vector<int64_t> per_axis(const std::vector<int64_t>& values, int rank, int64_t fallback,
                              const char* argument);

// The name of a spatial axis for messages: "W" (1D), "H"/"W" (2D), "D"/"H"/"W" (3D).
const char* axis_name(int rank, int axis);

// Checks everything that does not depend on the input size (rank, channels, groups, kernel, stride,
// dilation, pads, output_padding, padding mode, option combinations).
void validate(const ConvSpec& spec);

// Resolves every padding rule against the input's spatial sizes and checks the sizes fit the spec
// (kernel larger than the padded input, reflect padding wider than the input, unreachable
// output_shape, ...). Calls validate(spec) first.
ConvGeometry resolve_geometry(const ConvSpec& spec, std::span<const int64_t> input_spatial);

// --- Tensor shapes in the spec's layout ---

// The full input shape (N, C, spatial...) or (N, spatial..., C).
Shape make_activation_shape(const ConvSpec& spec, int64_t batch, int64_t channels, std::span<const int64_t> spatial);
// The spatial sizes of an input tensor after checking its rank and channel count against the spec.
Shape input_spatial_of(const ConvSpec& spec, std::span<const int64_t> input_shape);
// The full output shape for an input of shape `input_shape`.
Shape output_shape(const ConvSpec& spec, std::span<const int64_t> input_shape);
// The weight shape (see Layout for the four cases) and the bias shape {out_channels}.
Shape weight_shape(const ConvSpec& spec);
Shape bias_shape(const ConvSpec& spec);

// Shape checks of actual tensors, with PyTorch-style messages ("Given groups=1, weight of size
// [64, 3, 7, 7], expected input[1, 4, 224, 224] to have 3 channels, but got 4 channels instead").
void check_weight_shape(const ConvSpec& spec, std::span<const int64_t> shape);
void check_bias_shape(const ConvSpec& spec, std::span<const int64_t> shape);

}  // namespace convkit
