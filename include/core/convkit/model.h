// Models: a stack of convolution layers on one input, with the shapes, parameters, MACs and receptive
// field of every layer, and the reader of Keras-like MODEL.json files that `convkit summary` prints.
//
// MODEL.json (channels_last, shapes without the batch, as Keras's `input_shape`):
//   {"name": "optional", "input_shape": [224, 224, 3],
//    "layers": [{"type": "Conv2D", "filters": 32, "kernel_size": 3, "strides": 2, "padding": "same"}, ...]}
// Layer types and their arguments are Keras's (same names, same defaults, same output-size rules):
// Conv1D/2D/3D, Conv1D/2D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D; and convkit's own
// SpatialSeparableConv2D, FlattenedConv2D, ChannelShuffle and ShuffleGroupedConv2D (src/io/model_json.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/composite.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

// The largest size (input dimension, channel count, kernel, stride, dilation, padding, multiplier)
// a model may use, so that shape and cost arithmetic stays far from int64 overflow.
inline constexpr int64_t kMaxModelSize = int64_t{1} << 30;

struct ModelLayer {
  std::string name;    // Keras-like: "conv2d", "conv2d_1", ... unless given
  std::string type;    // "Conv2D", "SeparableConv2D", ...
  Composite stages;    // the layer as convkit operations (a plain convolution is one stage)
  Shape input_shape;   // without the batch, in the model's layout
  Shape output_shape;  // without the batch, in the model's layout
  int64_t params = 0;
  int64_t macs = 0;  // for the whole batch
  // The receptive field of one output cell in cells of the model input, per spatial axis (D, H, W), and
  // the distance in input cells between neighbouring output cells (cost.h's ReceptiveField::jump).
  std::vector<double> receptive_field{};
  std::vector<double> receptive_jump{};
  // This layer's and every earlier layer's parameters and MACs.
  int64_t params_so_far = 0;
  int64_t macs_so_far = 0;
};

struct Model {
  std::string name;
  Layout layout = Layout::channels_last;
  int64_t batch = 1;
  Shape input_shape{};  // without the batch, in `layout`
  std::vector<ModelLayer> layers{};

  int spatial_rank() const { return static_cast<int>(input_shape.size()) - 1; }
  Shape output_shape() const { return layers.empty() ? input_shape : layers.back().output_shape; }
  int64_t total_params() const;
  int64_t total_macs() const;
};

// Appends a layer made of `stages` (in the model's layout and spatial rank) to `model`: its input is the
// model's current output; shapes, costs and receptive field come from the cost model (cost.h), continued
// from the last layer's, so appending costs the same however long the model is. Throws
// convkit::Error when a stage does not fit the input, a size exceeds kMaxModelSize or a count
// overflows int64.
void append_layer(Model& model, std::string name, std::string type, Composite stages);

// A plain convolution (or transposed convolution) as a one-stage composite.
Composite single_layer(const ConvSpec& layer);

// ShuffleNet's shuffled grouped convolution built from one layer: the grouped layer (Cin -> Cout),
// a channel shuffle with layer.groups groups, then a grouped 1x1 convolution (Cout -> Cout, same groups)
// that carries the layer's bias.
Composite shuffle_grouped_layer(const ConvSpec& layer);

// Keras's default layer name of a layer type (keras.src.utils.naming.to_snake_case):
// "Conv2D" -> "conv2d", "DepthwiseConv2D" -> "depthwise_conv2d", "Conv2DTranspose" -> "conv2d_transpose".
std::string keras_snake_case(std::string_view type);

}  // namespace convkit
