#include "bench_composites.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <random>

#include "bench/data.h"
#include "bench/report.h"
#include "bench/suite.h"
#include "convkit/convkit.h"
#include "convkit/composite_plan.h"

namespace convkit::cli {
namespace {

constexpr uint32_t kSeed = 20261121;

struct CompositeCase {
  BenchLayer layer;
  std::string kind;
  int64_t multiplier = 1;           // depthwise_separable
  int64_t second_out_channels = 0;  // shuffled_grouped

  Composite build(Layout layout) const {
    const ConvSpec spec = layer.spec(layout);
    if (kind == "depthwise_separable") return depthwise_separable(spec, multiplier);
    if (kind == "flattened") return flattened(spec);
    if (kind == "spatial_separable") return spatial_separable(spec);
    ConvSpec second =
        pointwise_grouped(spec.rank, spec.out_channels, second_out_channels, spec.groups, layout, spec.bias);
    return shuffled_grouped(spec, second);
  }
};

// The suite's layers (read and checked as a layer suite) with their composite fields.
std::vector<CompositeCase> read_cases(const std::string& path) {
  const BenchSuite suite = read_suite(path);
  std::ifstream file(path);
  const nlohmann::json document = nlohmann::json::parse(file);
  std::vector<CompositeCase> cases;
  for (size_t i = 0; i < suite.layers.size(); ++i) {
    const nlohmann::json& object = document["layers"][i];
    const std::string where = "suite " + path + ": layer " + std::to_string(i) + " (\"" + suite.layers[i].name + "\")";
    CompositeCase c{suite.layers[i], object.value("composite", std::string()), object.value("multiplier", int64_t{1}),
                    object.value("second_out_channels", int64_t{0})};
    if (c.kind != "depthwise_separable" && c.kind != "flattened" && c.kind != "spatial_separable" &&
        c.kind != "shuffled_grouped")
      fail(where, ": field \"composite\"=\"", c.kind,
           "\"; expected depthwise_separable, flattened, spatial_separable or shuffled_grouped");
    try {
      (void)c.build(Layout::channels_first);
    } catch (const Error& e) {
      fail(where, ": ", e.what());
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

Tensor random_tensor(const Shape& shape, std::mt19937& rng) {
  Tensor t(shape);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = value(rng);
  return t;
}

// The bytes of a tensor of `shape`.
double bytes_of(const Shape& shape) {
  double count = sizeof(float);
  for (int64_t size : shape) count *= static_cast<double>(size);
  return count;
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

}  // namespace

void run_composite_bench(const CompositeBenchOptions& options) {
  const std::vector<CompositeCase> cases = read_cases(options.suite_path);
  std::ostream& out = std::cout;
  out << "timing: median " << (options.clock == TimingClock::cpu ? "process CPU" : "elapsed")
      << " time of >= 5 runs and >= " << options.min_time
      << " s per execution, fused and staged taking turns in 3 rounds; err = max |result - reference| / max "
         "|reference|; bw saved = 2 x intermediate / (input + 2 x intermediate + output): the share of the "
         "staged execution's minimum traffic that the fused one does not move\n";
  out << "| composite | layout | threads | fused ms | staged ms | fused/staged speed-up | intermediate MiB | "
         "bw saved | fused (staged) algorithms | err |\n|---|---|---|---|---|---|---|---|---|---|\n";
  bool matched = false;
  for (size_t index = 0; index < cases.size(); ++index) {
    const CompositeCase& c = cases[index];
    if (c.layer.name.find(options.filter) == std::string::npos) continue;
    matched = true;
    for (Layout layout : options.layouts) {
      const Composite composite = c.build(layout);
      std::mt19937 rng(kSeed + static_cast<uint32_t>(index));
      const Tensor input = random_tensor(c.layer.input_shape(layout), rng);
      std::vector<Tensor> weights, biases;
      std::vector<StageWeights> views;
      for (const ConvSpec& spec : conv_stages(composite)) {
        weights.push_back(random_tensor(weight_shape(spec), rng));
        biases.push_back(spec.bias ? random_tensor(bias_shape(spec), rng) : Tensor());
      }
      for (size_t i = 0; i < weights.size(); ++i)
        views.push_back(
            {weights[i].view(), biases[i].numel() ? std::optional<ConstTensorView>(biases[i].view()) : std::nullopt});
      const Tensor expected = reference::run(composite, input, views);
      // The intermediate: every stage's output but the last.
      double intermediate = 0;
      Shape shape = input.shape();
      for (size_t s = 0; s + 1 < composite.stages.size(); ++s) {
        if (!composite.stages[s].is_shuffle()) shape = output_shape(composite.stages[s].conv, shape);
        intermediate += bytes_of(shape);
      }
      const double saved = 2 * intermediate / (bytes_of(input.shape()) + 2 * intermediate + bytes_of(expected.shape()));

      for (int threads : options.threads) {
        set_num_threads(threads);
        auto fused = std::make_shared<CompositePlan>(composite, views, CompositePlanOptions{.threads = threads});
        auto staged =
            std::make_shared<CompositePlan>(composite, views, CompositePlanOptions{.threads = threads, .fuse = false});
        auto fused_out = std::make_shared<Tensor>(expected.shape()),
             staged_out = std::make_shared<Tensor>(expected.shape());
        fused->run(input, fused_out->view());
        staged->run(input, staged_out->view());
        const double error = std::max(relative_error(*fused_out, expected), relative_error(*staged_out, expected));
        if (error > kMismatchTolerance)
          fail("bench --composites: ", c.layer.name, " ", to_string(layout),
               ": the result differs from the reference by ", error, " of its scale");
        const std::vector<std::function<void()>> runs{[&] { fused->run(input, fused_out->view()); },
                                                      [&] { staged->run(input, staged_out->view()); }};
        const std::vector<Timing> t =
            measure(runs, {.min_seconds = options.min_time, .min_repetitions = 5, .clock = options.clock});
        out << "| " << c.layer.name << " | " << to_string(layout) << " | " << threads << " | "
            << (fused->fused() ? format("%.3f", t[0].median_ms) : "- (staged)") << " | "
            << format("%.3f", t[1].median_ms) << " | "
            << (fused->fused() ? format("%.2fx", t[1].median_ms / t[0].median_ms) : "-") << " | "
            << format("%.2f", intermediate / (1 << 20)) << " | "
            << (fused->fused() ? format("%.0f%%", 100 * saved) : "-") << " | "
            << (fused->fused() ? fused->algorithm() + " (" + staged->algorithm() + ")" : staged->algorithm()) << " | "
            << format("%.1e", error) << " |" << std::endl;
      }
    }
  }
  if (!matched) fail("--filter='", options.filter, "' matches no composite of the suite ", options.suite_path);
}

}  // namespace convkit::cli
