// Composite operations of the seeds, each a short pipeline of convolution stages (and channel
// shuffles) described by ordinary ConvSpecs, so the reference engine, the cost model and the fast
// plans (CompositePlan) all treat a composite as the sum of its stages.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

// One step of a composite: a convolution, or a channel shuffle when shuffle_groups > 0.
struct Stage {
  std::string name;  // what the stage is called in the literature: "depthwise", "pointwise", ...
  ConvSpec conv;
  int64_t shuffle_groups = 0;
  bool is_shuffle() const { return shuffle_groups > 0; }
};

struct Composite {
  std::string kind;  // "depthwise_separable", "spatial_separable", "flattened", "shuffled_grouped"
  std::vector<Stage> stages;
};

// Each builder takes the ordinary layer it replaces (`layer`: channels, kernel, stride, dilation,
// padding, padding mode, bias, layout; not transposed) and splits it into stages. Strides and pads
// of an axis go to the stage whose kernel spans that axis; the bias goes to the last stage.

// Depthwise separable (Keras SeparableConvND): depthwise (groups = Cin, Cin*depth_multiplier
// outputs, the layer's kernel/stride/dilation/padding, no bias), then pointwise 1x1 to Cout.
Composite depthwise_separable(const ConvSpec& layer, int64_t depth_multiplier = 1);

// Spatially separable: a kernel along the first spatial axis only (k0 x 1, Cin -> Cout with the
// layer's groups), then a depthwise kernel along each later axis (1 x k1, ...). For one channel this
// is the seeds' [1,2,1]^T [-1,0,1] Sobel factoring; it equals the full convolution with kernel
// w[o,c,q0,q1,...] = a[o,c,q0] * b[o,q1] * ...
Composite spatial_separable(const ConvSpec& layer);

// Flattened (Jin et al. 2014): lateral 1x1 (Cin -> Cout with the layer's groups), then one
// depthwise 1D stage per spatial axis (vertical k x 1, then horizontal 1 x k, ...).
Composite flattened(const ConvSpec& layer);

// Shuffled grouped (ShuffleNet): grouped convolution `first`, channel shuffle with first.groups
// groups, grouped convolution `second` (second.in_channels == first.out_channels).
Composite shuffled_grouped(const ConvSpec& first, const ConvSpec& second);

// Pointwise grouped convolution (ShuffleNet's GConv 1x1): the 1x1 convolution with `groups`.
ConvSpec pointwise_grouped(int rank, int64_t in_channels, int64_t out_channels, int64_t groups,
                           Layout layout = Layout::channels_first, bool bias = false);

// The convolution stages of a composite, in order (shuffles left out).
std::vector<ConvSpec> conv_stages(const Composite& composite);

// The factors of a separable (rank-1) kernel: kernel[i0, i1, ...] == factors[0][i0] * factors[1][i1] * ...
// Each factor but the last is scaled so its smallest nonzero magnitude is 1 and its first nonzero
// entry is positive (Sobel-x factors as [1, 2, 1] and [-1, 0, 1]; integer kernels get integer factors). `separable` is false when the kernel is not rank-1 within
// `tolerance` (relative to the largest entry); `residual` is the worst absolute mismatch.
struct SeparableFactors {
  bool separable = false;
  double residual = 0.0;
  std::vector<std::vector<float>> factors;
};
SeparableFactors factor_separable(ConstTensorView kernel, double tolerance = 1e-6);

// The weights (and optional bias) of one convolution stage of a composite, in stage order.
struct StageWeights {
  ConstTensorView weight;
  std::optional<ConstTensorView> bias;
};
}  // namespace convkit
