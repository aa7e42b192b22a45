#include "plan_cache.h"

#include <algorithm>
#include <cstring>

namespace convkit::python {
namespace {

bool same_values(const std::vector<float>& kept, ConstTensorView view) {
  return static_cast<int64_t>(kept.size()) == view.numel() &&
         std::memcmp(kept.data(), view.data(), kept.size() * sizeof(float)) == 0;
}

std::vector<float> values_of(ConstTensorView view) {
  return std::vector<float>(view.data(), view.data() + view.numel());
}

}  // namespace

bool PlanCache::matches(const Entry& entry, const ConvSpec& spec, ConstTensorView weight,
                        std::optional<ConstTensorView> bias, const PlanOptions& options) {
  return entry.accuracy == options.accuracy && entry.spec == spec && entry.weight_shape == weight.shape() &&
         same_values(entry.weight, weight) && (bias ? same_values(entry.bias, *bias) : entry.bias.empty());
}

std::shared_ptr<const ConvPlan> PlanCache::plan(const ConvSpec& spec, ConstTensorView weight,
                                                std::optional<ConstTensorView> bias, const PlanOptions& options) {
  // Only plain options (the functions set none but accuracy) and contiguous small weights are kept.
  const bool cacheable = options.threads == 0 && options.algorithm.empty() && weight.is_contiguous() &&
                         (!bias || bias->is_contiguous()) &&
                         static_cast<std::size_t>(weight.numel()) * sizeof(float) <= kMaxWeightBytes;
  if (cacheable) {
    const std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (matches(*it, spec, weight, bias, options)) {
        entries_.splice(entries_.begin(), entries_, it);
        return entries_.front().plan;
      }
  }
  auto made = std::make_shared<const ConvPlan>(spec, weight, bias, options);
  if (!cacheable) return made;
  Entry entry{spec, options.accuracy, weight.shape(), values_of(weight), bias ? values_of(*bias) : std::vector<float>{},
              made};
  const std::lock_guard lock(mutex_);
  entries_.push_front(std::move(entry));
  if (entries_.size() > kEntries) entries_.pop_back();
  return made;
}

}  // namespace convkit::python
