// `convkit bench [--suite FILE] [--threads 1,2] [--layout channels_first,channels_last] [--peers]
//                [--json OUT] [--filter SUBSTRING] [--min-time SECONDS] [--algorithm NAME]
//                [--clock wall|cpu] [--direction forward,backward_data,backward_weights]`
// `convkit bench --composites FILE ...`: composite operations, fused and staged (bench_composites.h).
// Per layer of the suite, direction, layout and thread count: convkit's plan (ConvPlan, or the backward
// plans) checked against the reference engine, then timed (with the peers, whose outputs are checked
// against convkit's, interleaved).
#include "bench.h"
#include "bench_composites.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/data.h"
#include "bench/direction.h"
#include "bench/machine.h"
#include "bench/peer.h"
#include "bench/report.h"
#include "bench/suite.h"
#include "bench/timing.h"
#include "convkit/convkit.h"
#include "data_files.h"
#include "spec_options.h"

namespace convkit::cli {
namespace {

constexpr uint32_t kSeed = 20261121;  // every layer's data comes from kSeed + its index in the suite

// One line on stderr, rewritten in place, when stderr is a terminal.
class Progress {
 public:
  Progress() : enabled_(::isatty(STDERR_FILENO) == 1) {}
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void show(const std::string& text) const {
    if (enabled_) std::cerr << "\r\033[K" << text << std::flush;
  }
  void clear() const { show(""); }

 private:
  bool enabled_;
};

// A layer's data in one layout, and the reference result (channels-first) every layout must match.
struct LayoutCase {
  const BenchLayer& layer;
  Direction direction;
  Layout layout;
  ConvSpec spec;
  Tensor input, weight, grad_output;  // in `layout`
  const LayerData& data;              // channels-first
  const Tensor& expected;  // the reference engine's y, dL/dx or dL/dw, channels-first
};

// The reference engine's result for one direction, channels-first (activation or weight order).
Tensor reference_result(const BenchLayer& layer, const LayerData& data, Direction direction) {
  const ConvSpec spec = layer.spec(Layout::channels_first);
  switch (direction) {
    case Direction::forward: return reference::convolution(spec, data.input, data.weight, data.bias_view());
    case Direction::backward_data:
      return reference::convolution_backward_data(spec, data.input.shape(), data.weight, data.grad_output);
    case Direction::backward_weights: return reference::convolution_backward_weights(spec, data.input, data.grad_output);
  }
  fail("unknown direction");
}

// convkit's side of one row: the plan, made and ready to time, and its result.
struct ConvkitRun {
  std::string algorithm;
  std::size_t packed_bytes = 0, workspace_bytes = 0;
  int64_t min_bytes = 0;  // the tensors read and written, each moved once
  std::function<void()> run;
  std::function<Tensor()> result;  // of the last run, channels-first (as LayoutCase::expected)
  // What the peers compute, to check theirs against: y or dL/dx in the layout, dL/dw channels-first.
  std::function<Tensor()> peer_result;
};

ConvkitRun make_convkit_run(const LayoutCase& c, const PlanOptions& options) {
  constexpr int64_t kFloat = sizeof(float);
  ConvkitRun r;
  if (c.direction == Direction::backward_weights) {
    auto plan = std::make_shared<const BackwardWeightsPlan>(c.spec, options);
    auto grads = std::make_shared<WeightGradients>(plan->run(c.input, c.grad_output));
    r.algorithm = plan->algorithm();
    r.workspace_bytes = plan->workspace_bytes(c.input.shape());
    r.min_bytes = kFloat * (c.input.numel() + c.grad_output.numel() + c.weight.numel() + c.data.bias.numel());
    r.run = [plan, grads, &c] {
      plan->run(c.input, c.grad_output, grads->weight.view(),
                grads->bias ? std::optional<TensorView>(grads->bias->view()) : std::nullopt);
    };
    r.result = [grads, layout = c.layout] { return weight_channels_first(grads->weight, layout); };
    r.peer_result = r.result;
    return r;
  }
  auto output = std::make_shared<Tensor>(c.direction == Direction::forward ? output_shape(c.spec, c.input.shape())
                                                                           : c.input.shape());
  if (c.direction == Direction::forward) {
    auto plan = std::make_shared<const ConvPlan>(c.spec, c.weight, c.data.bias_view(), options);
    r.algorithm = plan->algorithm();
    r.packed_bytes = plan->packed_bytes();
    r.workspace_bytes = plan->workspace_bytes(c.input.shape());
    r.min_bytes = kFloat * (c.input.numel() + output->numel() + c.weight.numel() + c.data.bias.numel());
    r.run = [plan, output, &c] { plan->run(c.input, *output); };
  } else {
    auto plan = std::make_shared<const BackwardDataPlan>(c.spec, c.weight, options);
    r.algorithm = plan->algorithm(c.input.shape());
    r.min_bytes = kFloat * (c.grad_output.numel() + output->numel() + c.weight.numel());
    r.run = [plan, output, &c] { plan->run(c.grad_output, output->view()); };
  }
  r.result = [output, layout = c.layout] { return activation_channels_first(*output, layout); };
  r.peer_result = [output] { return *output; };
  return r;
}

struct BenchCommand {
  std::string suite_path;  // default: bench/layers.json of the installed data or the source tree
  std::string threads_text, layouts_text = "channels_first,channels_last", json_path, filter, algorithm;
  std::string accuracy = "fast";
  std::string clock_text = "wall";
  std::string directions_text = "forward";
  std::string composites_path;  // --composites: time composite plans (fused and staged) instead
  bool with_peers = false;
  double min_time = 0.3;

  TimingClock clock() const {
    if (clock_text == "wall") return TimingClock::wall;
    if (clock_text == "cpu") return TimingClock::cpu;
    fail("--clock: '", clock_text, "' is not a clock; expected wall or cpu");
  }

  std::vector<int> thread_counts() const {
    if (threads_text.empty()) {  // 1 and every hardware thread
      const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      return all > 1 ? std::vector<int>{1, all} : std::vector<int>{1};
    }
    std::vector<int> counts;
    for (int64_t n : parse_int_list(threads_text, "--threads")) {
      if (n < 1 || n > 1024) fail("--threads: ", n, " is not a thread count; expected 1 to 1024");
      if (std::find(counts.begin(), counts.end(), n) != counts.end()) fail("--threads: ", n, " is listed twice");
      counts.push_back(static_cast<int>(n));
    }
    return counts;
  }

  std::vector<Layout> layouts() const {
    std::vector<Layout> result;
    std::string::size_type start = 0;
    for (;;) {
      const auto comma = layouts_text.find(',', start);
      const Layout layout = parse_layout(layouts_text.substr(start, comma - start), "--layout");
      if (std::find(result.begin(), result.end(), layout) != result.end())
        fail("--layout: ", to_string(layout), " is listed twice");
      result.push_back(layout);
      if (comma == std::string::npos) return result;
      start = comma + 1;
    }
  }

  std::vector<Direction> directions() const {
    std::vector<Direction> result;
    std::string::size_type start = 0;
    for (;;) {
      const auto comma = directions_text.find(',', start);
      const Direction direction = parse_direction(directions_text.substr(start, comma - start), "--direction");
      if (std::find(result.begin(), result.end(), direction) != result.end())
        fail("--direction: ", to_string(direction), " is listed twice");
      result.push_back(direction);
      if (comma == std::string::npos) return result;
      start = comma + 1;
    }
  }

  std::vector<const BenchLayer*> selected(const BenchSuite& suite) const {
    std::vector<const BenchLayer*> layers;
    for (const auto& layer : suite.layers)
      if (layer.name.find(filter) != std::string::npos) layers.push_back(&layer);
    if (layers.empty()) fail("--filter='", filter, "' matches no layer of the suite ", suite_path);
    return layers;
  }

  std::string timing_method() const {
    std::ostringstream text;
    text << "median " << (clock_text == "cpu" ? "process CPU" : "elapsed") << " time of >= 5 runs and >= " << min_time
         << " s per implementation, implementations taking turns in 3 rounds (an untimed run first in each); "
            "err = max |convkit - reference| / max |reference|";
    return text.str();
  }

  void run() const {
    if (!(min_time >= 0 && min_time <= 3600)) fail("--min-time: ", min_time, " s; expected 0 to 3600 seconds");
    const std::vector<int> threads = thread_counts();
    (void)parse_accuracy(accuracy, "--accuracy");  // a bad name fails before any row runs
    if (clock() == TimingClock::cpu && threads != std::vector<int>{1})
      fail("--clock cpu: process CPU time is the elapsed time only with one thread; use --threads 1");
    if (!composites_path.empty()) {
      run_composite_bench({composites_path, threads, layouts(), filter, min_time, clock()});
      return;
    }
    const BenchSuite suite = read_suite(suite_path);
    const std::vector<Layout> layout_list = layouts();
    const std::vector<Direction> direction_list = directions();
    const std::vector<const BenchLayer*> layers = selected(suite);
    std::vector<std::unique_ptr<Peer>> peer_list;
    if (with_peers) peer_list = make_peers();

    Progress progress;
    progress.show("bench: measuring the machine's FMA peak and memory bandwidth");
    const Machine machine = probe_machine(threads);
    progress.clear();
    std::vector<std::string> titles;
    std::vector<PeerInfo> infos;
    for (const auto& peer : peer_list) {
      titles.push_back(peer->title());
      infos.push_back({peer->name(), peer->version()});
    }
    BenchTable table(std::cout, machine, titles);
    table.print_header(timing_method());

    std::vector<BenchRow> rows;
    const size_t total = layers.size() * direction_list.size() * layout_list.size() * threads.size();
    for (const BenchLayer* layer : layers) {
      const auto index = static_cast<uint32_t>(layer - suite.layers.data());
      const LayerData data = random_layer_data(*layer, kSeed + index);
      for (Direction direction : direction_list) {
        progress.show("bench: " + layer->name + ": reference " + std::string(to_string(direction)));
        set_num_threads(*std::max_element(threads.begin(), threads.end()));
        const Tensor expected = reference_result(*layer, data, direction);
        for (Layout layout : layout_list) {
          const LayoutCase c{*layer,
                             direction,
                             layout,
                             layer->spec(layout),
                             activation_in_layout(data.input, layout),
                             weight_in_layout(data.weight, layout),
                             activation_in_layout(data.grad_output, layout),
                             data,
                             expected};
          for (int n : threads) {
            const std::string where = "bench [" + std::to_string(rows.size() + 1) + "/" + std::to_string(total) + "] " +
                                      layer->name + " " + std::string(to_string(direction)) + " " +
                                      std::string(to_string(layout)) + " " + std::to_string(n) +
                                      (n == 1 ? " thread" : " threads");
            try {
              rows.push_back(bench_row(c, n, peer_list, [&](const std::string& stage) {
                progress.show(where + ": " + stage);
              }));
            } catch (const Error& e) {  // say which row failed (e.g. a forced --algorithm that does not apply)
              fail(where, ": ", e.what());
            }
            progress.clear();
            table.print_row(rows.back());
          }
        }
      }
    }
    table.print_notes();
    if (!json_path.empty()) write_file_atomically(json_path, results_json(machine, infos, suite_path, min_time, rows));
  }

  template <class Stage>
  BenchRow bench_row(const LayoutCase& c, int threads, const std::vector<std::unique_ptr<Peer>>& peers,
                     const Stage& stage) const {
    set_num_threads(threads);  // the peers set theirs in Peer::prepare
    stage("planning");
    const ConvkitRun convkit = make_convkit_run(
        c, PlanOptions{.threads = threads, .algorithm = algorithm, .accuracy = parse_accuracy(accuracy, "--accuracy")});
    BenchRow row{.layer = c.layer.name,
                 .direction = c.direction,
                 .layout = c.layout,
                 .threads = threads,
                 .macs = conv_cost(c.spec, c.input.shape()).macs,  // the same products in every direction
                 .min_bytes = convkit.min_bytes,
                 .packed_bytes = convkit.packed_bytes,
                 .workspace_bytes = convkit.workspace_bytes,
                 .convkit = {.impl = "convkit", .detail = convkit.algorithm},
                 .peers = {}};
    stage("checking convkit against the reference");
    convkit.run();
    row.convkit.error = relative_error(convkit.result(), c.expected);
    if (row.convkit.error > kMismatchTolerance) row.convkit.status = Status::mismatch;
    const Tensor convkit_output = convkit.peer_result();

    std::vector<std::function<void()>> runs{convkit.run};
    std::vector<std::vector<PeerCandidate>> candidates(peers.size());
    for (size_t p = 0; p < peers.size(); ++p) {
      stage("preparing and checking " + peers[p]->name());
      row.peers.push_back(prepare_peer(*peers[p], c, threads, convkit_output, candidates[p]));
      for (auto& candidate : candidates[p]) runs.push_back([run = candidate.run.get()] { run->run(); });
    }
    stage("timing");
    const std::vector<Timing> timings = measure(runs, {.min_seconds = min_time, .min_repetitions = 5, .clock = clock()});
    row.convkit.timing = timings[0];
    size_t next = 1;
    for (size_t p = 0; p < peers.size(); ++p)
      for (auto& candidate : candidates[p]) {  // report each peer's fastest way
        const Timing& t = timings[next++];
        if (!row.peers[p].timing || t.median_ms < row.peers[p].timing->median_ms) {
          row.peers[p].timing = t;
          row.peers[p].detail = candidate.variant;
        }
      }
    return row;
  }

  // Prepares every way `peer` runs the case and checks each output against convkit's; the candidates
  // worth timing stay in `candidates`. A peer that cannot run the case, fails, or computes something
  // else gets that status and no candidates.
  static ImplResult prepare_peer(Peer& peer, const LayoutCase& c, int threads, const Tensor& convkit_output,
                                 std::vector<PeerCandidate>& candidates) {
    ImplResult result{.impl = peer.name()};
    try {
      const ConvGeometry geometry = resolve_geometry(c.spec, input_spatial_of(c.spec, c.input.shape()));
      candidates = peer.prepare({c.spec, geometry, c.input, c.data.weight, c.data.bias_view(), convkit_output.shape(),
                                 threads, c.direction, c.grad_output});
      for (auto& candidate : candidates) {
        candidate.run->run();
        const double error = relative_error(candidate.run->output(), convkit_output);
        result.error = std::max(result.error, error);
        if (error > kMismatchTolerance) {
          result.status = Status::mismatch;
          result.detail = candidate.variant + ": max |difference| = " + std::to_string(error) +
                          " of the output scale (tolerance " + std::to_string(kMismatchTolerance) + ")";
        }
      }
    } catch (const PeerUnsupported& e) {
      result = {.impl = peer.name(), .status = Status::unsupported, .detail = e.what()};
    } catch (const std::exception& e) {
      result = {.impl = peer.name(), .status = Status::error, .detail = e.what()};
    }
    if (result.status != Status::ok) candidates.clear();
    return result;
  }
};

}  // namespace

void add_bench_command(CLI::App& app) {
  auto command = std::make_shared<BenchCommand>();
  CLI::App* sub = app.add_subcommand("bench", "Time convkit on a suite of real layers (and against oneDNN, XNNPACK)");
  sub->add_option("--suite", command->suite_path,
                  "the layer suite (JSON); default: bench/layers.json, found from any directory (beside the installed "
                  "binary in share/convkit, or in the source tree)");
  sub->add_option("--threads", command->threads_text, "thread counts, e.g. 1,2 (default: 1 and every hardware thread)");
  sub->add_option("--layout", command->layouts_text, "layouts to run: channels_first, channels_last or both")
      ->capture_default_str();
  sub->add_flag("--peers", command->with_peers, "also run oneDNN and XNNPACK (build with -DCONVKIT_PEERS=ON)");
  sub->add_option("--json", command->json_path, "write the machine and every result to this JSON file");
  sub->add_option("--filter", command->filter, "only the layers whose name contains this text");
  sub->add_option("--algorithm", command->algorithm,
                  "force this algorithm in convkit's plans (PlanOptions::algorithm: family[.isa[.tile]], e.g. gemm "
                  "to time a layer without Winograd, gemm.avx2 for the AVX2 kernels); default: the plan chooses");
  add_accuracy_option(*sub, command->accuracy);
  sub->add_option("--clock", command->clock_text,
                  "wall (elapsed time) or cpu (process CPU time: steadier on a machine shared with other work; "
                  "--threads 1 only)")
      ->capture_default_str();
  sub->add_option("--direction", command->directions_text,
                  "passes to time: forward, backward_data (dL/dx), backward_weights (dL/dw, dL/db), comma-separated")
      ->capture_default_str();
  sub->add_option("--composites", command->composites_path,
                  "time composite operations instead: each fused and staged (see bench/composites.json)");
  sub->add_option("--min-time", command->min_time, "seconds each implementation runs per row (at least 5 runs)")
      ->capture_default_str();
  sub->callback([command] {
    if (command->suite_path.empty() && command->composites_path.empty())
      command->suite_path = find_data_file("bench/layers.json", "--suite");
    command->run();
  });
}

}  // namespace convkit::cli
