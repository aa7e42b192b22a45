// `convkit bench --composites FILE`: composite operations (convkit/composite_plan.h) timed fused and
// staged in the same run. The suite is a layer suite (bench/layers.json format) whose layers also say
// which composite replaces them: "composite": "depthwise_separable" (with "multiplier"), "flattened",
// "spatial_separable", or "shuffled_grouped" (the layer is the first grouped convolution; the second
// has "second_out_channels" and the same groups).
#pragma once

#include <string>
#include <vector>

#include "bench/timing.h"
#include "convkit/spec.h"

namespace convkit::cli {

struct CompositeBenchOptions {
  std::string suite_path;
  std::vector<int> threads;
  std::vector<Layout> layouts;
  std::string filter;
  double min_time = 0.3;
  TimingClock clock = TimingClock::wall;
};

// Per composite, layout and thread count: the fused and staged plans checked against the reference
// engine, then timed taking turns; one table row each on stdout.
void run_composite_bench(const CompositeBenchOptions& options);

}  // namespace convkit::cli
