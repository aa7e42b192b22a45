// Keras layers that are not convolutions (pooling, BatchNormalization, activations, Dropout, Flatten,
// Dense, ZeroPadding, UpSampling, Reshape, merges): their arguments and how each turns its input
// shapes into a LayerEffect (output shape, parameters, MACs, cells) by Keras's rules.
#pragma once

#include <string_view>
#include <vector>

#include "convkit/model.h"
#include "layer_arguments.h"

namespace convkit::model_io {

struct KerasLayerType {
  std::string_view type;
  int rank;  // the spatial rank its input needs (pooling, padding, upsampling); 0: any
  bool merge;  // reads two or more tensors (Add, Concatenate, ...)
  std::vector<std::string_view> arguments;  // Keras's argument names it takes (besides every layer's name,
                                            // trainable, dtype and convkit's inputs)
  LayerEffect (*effect)(const Arguments& args, const std::vector<Shape>& inputs);
};

// The layer type named `type`, or nullptr when it is not one of these.
const KerasLayerType* find_keras_layer(std::string_view type);
// Every type name, for the message of an unknown type.
std::vector<std::string_view> keras_layer_names();

}  // namespace convkit::model_io
