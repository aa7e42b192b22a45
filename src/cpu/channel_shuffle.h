// The channel shuffle of the composite plans' staged execution, as a bandwidth-bound copy (the rule of
// reference::channel_shuffle: output channel i * groups + g is input channel g * (C / groups) + i).
// Used where the shuffle cannot be fused into the next convolution's input read (CompositePlan's
// shuffled_read, a GemmConvolution reading through the shuffle, takes the other cases).
#pragma once

#include <cstdint>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::cpu {

// `x` contiguous (N, C, spatial...) or (N, spatial..., C) as `layout` says; y the same shape, contiguous.
// channels_first moves whole channel planes (memcpy); channels_last permutes the C values of each pixel.
void channel_shuffle(ConstTensorView x, int64_t groups, Layout layout, float* y, int threads);

}  // namespace convkit::cpu
