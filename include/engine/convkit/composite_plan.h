// Composite plans: the fast engine for composites (composite.h), as ConvPlan is for one convolution.
// Built once from a Composite and the weights of its convolution stages, run many times.
//
// Two executions:
//   staged: every convolution stage by its own ConvPlan, the intermediates in plan-owned buffers, channel
//           shuffles as a bandwidth-bound copy;
//   fused:  a depthwise stage followed by a pointwise (1x1, ungrouped, unpadded) stage -- the depthwise
//           separable composite -- computed band by band: each thread computes the depthwise output of a
//           band of output rows (all its channels) into a buffer that fits in L2, and the pointwise GEMM
//           reads it from there, so the intermediate never goes through memory.
//   shuffle fused into the read: a channel shuffle followed by a convolution the engine runs as a GEMM is
//           not copied: the GEMM reads each group's channels as runs of the unshuffled input (see
//           src/cpu/gemm_convolution.h; needs Cin/groups divisible by the shuffle groups, else a copy).
// The plan fuses when it can and expects it to be faster (not for channels_first volumes: see explain()),
// unless CompositePlanOptions::fuse is false (to compare the two).
// Results are identical (bit for bit) for every thread count. `run` uses plan-owned buffers: concurrent
// calls on one plan take turns.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "convkit/composite.h"
#include "convkit/conv.h"
#include "convkit/tensor.h"

namespace convkit {

struct CompositePlanOptions {
  int threads = 0;   // 0 = convkit::num_threads() at run time
  bool fuse = true;  // false: every stage by its own ConvPlan (the staged execution)
  Accuracy accuracy = Accuracy::fast;  // for every stage's ConvPlan (the fused kernels are direct sums)
};

class CompositePlan {
 public:
  // Validates the composite (stages chain: each stage's in_channels and layout match the previous
  // output) and the weights (one entry per convolution stage, shapes as reference::convolution checks),
  // then creates the stages' plans.
  CompositePlan(const Composite& composite, std::span<const StageWeights> weights,
                CompositePlanOptions options = {});
  ~CompositePlan();
  CompositePlan(CompositePlan&&) noexcept;
  CompositePlan& operator=(CompositePlan&&) noexcept;

  // The composite applied to `input` (in the stages' layout).
  Tensor run(ConstTensorView input) const;
  // The same into a caller-provided view of shape output_shape(input.shape()) (any strides).
  void run(ConstTensorView input, TensorView output) const;

  // The output shape for `input_shape`; throws when the input does not fit the first stage.
  Shape output_shape(const Shape& input_shape) const;
  const Composite& composite() const;
  // True when the plan runs fused stages (either kind above).
  bool fused() const;
  // The algorithms run, as ConvPlan::algorithm names them: the fused one (e.g.
  // "fused.depthwise.avx512.channels+gemm.avx512.6x64") or the stages' joined by " > " ("shuffle" for a shuffle).
  std::string algorithm() const;
  // One line per stage: its name, the algorithm chosen, and whether it is fused with its neighbour.
  std::string explain() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convkit
