// The plans of recent functional calls (convkit.conv2d(x, w, ...)) on small weights. A loop calling a
// function on the same weights for image after image would otherwise validate and pack them in every
// call, most of the time of a small convolution. Plans are found by spec, accuracy and the exact bytes of
// the weight and bias (compared, not hashed), so a changed weight is never served an old plan; weights
// above kMaxWeightBytes are packed in every call, where packing is small against the convolution.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "convkit/conv.h"

namespace convkit::python {

class PlanCache {
 public:
  static constexpr std::size_t kMaxWeightBytes = 64 * 1024;
  static constexpr std::size_t kEntries = 16;  // at most 16 x (64 KiB + its packed copy)

  // The plan of (spec, weight, bias) with `options`: a cached one when one matches, else a new one (kept
  // when the weights are small and contiguous). Safe to call from several threads.
  std::shared_ptr<const ConvPlan> plan(const ConvSpec& spec, ConstTensorView weight,
                                       std::optional<ConstTensorView> bias, const PlanOptions& options);

 private:
  struct Entry {
    ConvSpec spec;
    Accuracy accuracy;
    Shape weight_shape;
    std::vector<float> weight, bias;
    std::shared_ptr<const ConvPlan> plan;
  };
  static bool matches(const Entry& entry, const ConvSpec& spec, ConstTensorView weight,
                      std::optional<ConstTensorView> bias, const PlanOptions& options);

  std::mutex mutex_;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace convkit::python
