// The reference engine: the oracle every fast path is tested against. Plain loops over the exact
// definitions, accumulation in double, every option of ConvSpec in both layouts. Clarity over speed,
// but it still runs the benchmark's layers in seconds (output channels are spread over the engine's threads;
// the result does not depend on the thread count).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "convkit/composite.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::reference {

// Convolution (cross-correlation, as in deep learning), or, when spec.transposed, its adjoint:
//   conv:       y[n,o,p] = b[o] + sum_{c in group(o), q} w[o,c,q] * x[n,c, p*stride + q*dilation - pad_begin]
//   transposed: y[n,o,p] = b[o] + sum_{c in group(o), q, i : i*stride + q*dilation - pad_begin = p} w[c,o,q] * x[n,c,i]
// Out-of-range input cells read as the padding mode says (zeros / reflect / replicate / circular).
// With spec.flip the kernel is reversed along every spatial axis (true convolution, scipy.signal).
// Throws convkit::Error when a tensor does not fit the spec.
Tensor convolution(const ConvSpec& spec, ConstTensorView input, ConstTensorView weight,
                   std::optional<ConstTensorView> bias = std::nullopt);
// The same into a caller-provided output view of shape output_shape(spec, input.shape()), any strides.
void convolution(const ConvSpec& spec, ConstTensorView input, ConstTensorView weight,
                 std::optional<ConstTensorView> bias, TensorView output);

// ShuffleNet channel shuffle: view the channels as (groups, C/groups), transpose to (C/groups, groups)
// and flatten, so output channel i*groups + g is input channel g*(C/groups) + i.
Tensor channel_shuffle(ConstTensorView input, int64_t groups, Layout layout);

// Runs every stage of `composite` with the reference engine; `weights` has one entry per convolution stage.
Tensor run(const Composite& composite, ConstTensorView input, std::span<const StageWeights> weights);

}  // namespace convkit::reference
