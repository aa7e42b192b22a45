// The cost model: output shape, parameters and multiply-accumulates of every operation, and the
// receptive field of a stack of layers. MACs count one multiplication (and its addition) each:
//   conv:       N * prod(out spatial) * Cout * Cin/groups * prod(kernel)
//   transposed: N * prod(in spatial)  * Cin  * Cout/groups * prod(kernel)
//   params:     Cout * Cin/groups * prod(kernel) weights (+ Cout biases)
// Composites add their stages (a channel shuffle costs nothing).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "convkit/composite.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

struct LayerCost {
  Shape input_shape;
  Shape output_shape;
  int64_t weights = 0;
  int64_t biases = 0;
  int64_t macs = 0;
  int64_t params() const { return weights + biases; }
};

LayerCost conv_cost(const ConvSpec& spec, std::span<const int64_t> input_shape);

struct CompositeCost {
  std::vector<LayerCost> stages;
  LayerCost total;  // input of the first stage, output of the last, sums of the rest
};
CompositeCost composite_cost(const Composite& composite, std::span<const int64_t> input_shape);

// Receptive field of a stack of layers (applied in order), per spatial axis, in cells of the
// stack's input: size = 1 + sum_l (span_l - 1) * jump_l, where jump_l is the input distance between
// neighbouring cells entering layer l (the product of the earlier strides). A convolution spans
// (k - 1) * dilation + 1 cells; a transposed convolution's output cell depends on at most
// floor(((k - 1) * dilation) / stride) + 1 input cells and divides the jump by its stride.
struct ReceptiveField {
  std::vector<double> size;  // per spatial axis
  std::vector<double> jump;  // distance, in input cells, between neighbouring output cells
};
ReceptiveField receptive_field(std::span<const ConvSpec> stack);

}  // namespace convkit
