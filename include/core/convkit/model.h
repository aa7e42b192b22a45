// Models: a graph of layers on one input (a stack, or Keras functional-style with merges), with the
// shapes, parameters (trainable and not, as Keras counts them), MACs and receptive field of every layer,
// and the reader of MODEL.json files that `convkit summary` prints (docs/summary.md).
//
// MODEL.json is either Keras's own `model.to_json()` (Keras 2 or 3: "class_name", "config": {"layers":
// [...]}, "inbound_nodes") or convkit's shorter form (channels_last, shapes without the batch):
//   {"name": "optional", "input_shape": [224, 224, 3],
//    "layers": [{"type": "Conv2D", "filters": 32, "kernel_size": 3, "strides": 2, "padding": "same"},
//               {"type": "Add", "inputs": ["conv2d", "conv2d_2"]}, ...]}
// where a layer reads the previous layer unless it names its "inputs" ("input" is the model input).
// Layer types and their arguments are Keras's (same names, same defaults, same output-size rules):
// convolutions (Conv1D-3D, their Transpose, DepthwiseConv1D/2D, SeparableConv1D/2D), pooling,
// BatchNormalization, activations, Dropout, Flatten, Dense, ZeroPadding, UpSampling, Reshape and the
// merges; and convkit's own SpatialSeparableConv2D, FlattenedConv2D, ChannelShuffle and
// ShuffleGroupedConv2D (src/io/model_json.cc, src/io/keras_layers.cc).
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

// A layer reads tensors by index: 0 is the model input, k is the output of Model::layers[k - 1].
using TensorIndex = size_t;

struct ModelLayer {
  std::string name;    // Keras-like: "conv2d", "conv2d_1", ... unless given
  std::string type;    // "Conv2D", "SeparableConv2D", "MaxPooling2D", ...
  std::vector<TensorIndex> inputs{};  // the tensors it reads (one, or several for a merge)
  Composite stages;    // a convolution as convkit operations (a plain one is one stage); empty otherwise
  Shape input_shape;   // of its first input, without the batch, in the model's layout
  Shape output_shape;  // without the batch, in the model's layout
  int64_t params = 0;                // every parameter (weights Keras saves)
  int64_t non_trainable_params = 0;  // of which not trained (BatchNormalization's moving mean and variance)
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
  std::string input_name = "input";  // how layers' "inputs" name the model input (Keras: its InputLayer)
  Layout layout = Layout::channels_last;
  int64_t batch = 1;
  Shape input_shape{};  // without the batch, in `layout`
  std::vector<ModelLayer> layers{};

  int spatial_rank() const { return static_cast<int>(input_shape.size()) - 1; }
  Shape output_shape() const { return layers.empty() ? input_shape : layers.back().output_shape; }
  // The shape of a tensor (TensorIndex above), without the batch.
  const Shape& tensor_shape(TensorIndex tensor) const;
  // The tensor the next layer reads unless told otherwise: the last layer's output.
  TensorIndex last_tensor() const { return layers.size(); }
  int64_t total_params() const;
  int64_t total_non_trainable_params() const;
  int64_t total_trainable_params() const { return total_params() - total_non_trainable_params(); }
  int64_t total_macs() const;
};

// A layer that is not a convolution (pooling, normalisation, activation, reshaping, dense, merge), as the
// model reader works it out from Keras's rules: its output, parameters and MACs, and how it moves cells.
struct LayerEffect {
  Shape output_shape;  // without the batch
  int64_t params = 0;
  int64_t non_trainable_params = 0;
  int64_t macs_per_sample = 0;
  // For the receptive field: `keep` leaves it (element-wise layers, Dense on the last axis, zero
  // padding); `window` is a pooling-like window of `window` cells every `stride` cells per spatial axis
  // (upsampling: stride 1/size); `global` makes every output cell see its whole input (Flatten,
  // global pooling, Reshape).
  enum class Cells { keep, window, global } cells = Cells::keep;
  std::vector<double> window{}, stride{};
};

// Appends a layer made of `stages` (in the model's layout and spatial rank) to `model`: its input is the
// model's current output; shapes, costs and receptive field come from the cost model (cost.h), continued
// from the last layer's, so appending costs the same however long the model is. Throws
// convkit::Error when a stage does not fit the input, a size exceeds kMaxModelSize or a count
// overflows int64.
void append_layer(Model& model, std::string name, std::string type, Composite stages);
// The same on the tensors `inputs` (one for a convolution); with `trainable` false (a frozen Keras
// layer) every parameter counts as non-trainable.
void append_layer(Model& model, std::string name, std::string type, std::vector<TensorIndex> inputs, Composite stages,
                  bool trainable = true);
// A layer that is not a convolution, on the tensors `inputs`, with the effect the reader worked out.
void append_layer(Model& model, std::string name, std::string type, std::vector<TensorIndex> inputs,
                  const LayerEffect& effect, bool trainable = true);

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
