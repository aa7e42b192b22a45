// End-to-end tests of `convkit bench` on the tiny suite (tests/data/bench_tiny.json) with --min-time 0:
// the table and the JSON hold one row per layer, layout and thread count, convkit matches the
// reference on every row, and, when the peers are built in, every peer row is timed, matched, or
// says why not. Times are never checked.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <sstream>

#include "bench/peer.h"
#include "bench/suite.h"
#include "cli_test_support.h"

namespace convkit::cli {
namespace {

using nlohmann::json;
using testing::run_cli;
using testing::ScratchDir;

const std::string kTinySuite = std::string(CONVKIT_SOURCE_DIR) + "/tests/data/bench_tiny.json";

json read_json(const std::string& path) {
  std::ifstream file(path);
  EXPECT_TRUE(file) << "missing " << path;
  return json::parse(file);  // throws (failing the test) if it does not parse
}

// Lines of the table: those that start with a layer name of the tiny suite.
std::vector<std::string> table_rows(const std::string& output) {
  std::vector<std::string> rows;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("tiny.", 0) == 0) rows.push_back(line);
  return rows;
}

TEST(CliBench, TableAndJsonCoverEveryRow) {
  ScratchDir dir;
  const std::string json_path = dir.file("bench.json");
  const auto result = run_cli("bench --suite " + kTinySuite + " --min-time 0 --threads 1,2 --json " + json_path +
                              (peers_built() ? " --peers" : ""));
  ASSERT_EQ(result.status, 0) << result.output;
  const size_t layers = read_suite(kTinySuite).layers.size(), rows = layers * 2 * 2;  // x 2 layouts x 2 thread counts
  EXPECT_NE(result.output.find("fp32 FMA peak"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("convkit ms"), std::string::npos) << result.output;
  EXPECT_EQ(table_rows(result.output).size(), rows) << result.output;

  const json document = read_json(json_path);
  const json& machine = document.at("machine");
  EXPECT_FALSE(machine.at("cpu").get<std::string>().empty());
  EXPECT_GE(machine.at("threads").get<int>(), 1);
  EXPECT_GT(machine.at("fma_peak_gflops").get<double>(), 0.0);
  ASSERT_EQ(machine.at("limits").size(), 2u);
  EXPECT_GT(machine.at("limits")[1].at("bandwidth_gbs").get<double>(), 0.0);

  const json& results = document.at("results");
  const size_t impls = peers_built() ? 3 : 1;
  ASSERT_EQ(results.size(), rows * impls);
  std::map<std::string, int> count;
  for (const json& r : results) {
    const auto impl = r.at("impl").get<std::string>(), status = r.at("status").get<std::string>();
    const auto layer = r.at("layer").get<std::string>(), layout = r.at("layout").get<std::string>();
    SCOPED_TRACE(impl + " " + layer + " " + layout + " " + r.dump());
    ++count[impl];
    EXPECT_TRUE(layout == "channels_first" || layout == "channels_last");
    if (impl == "convkit") {
      EXPECT_EQ(status, "ok");
      EXPECT_LE(r.at("max_rel_error").get<double>(), 1e-5);
      EXPECT_GT(r.at("median_ms").get<double>(), 0.0);
      EXPECT_GT(r.at("gflops").get<double>(), 0.0);
      EXPECT_GT(r.at("packed_bytes").get<double>(), 0.0);
      EXPECT_FALSE(r.at("detail").get<std::string>().empty());  // the plan's algorithm
    } else if (impl == "xnnpack" && (layout == "channels_first" || layer == "tiny.conv3d")) {
      EXPECT_EQ(status, "n/a");  // NHWC and 2D only
      EXPECT_TRUE(r.at("median_ms").is_null());
    } else {
      ASSERT_TRUE(impl == "onednn" || impl == "xnnpack");
      EXPECT_EQ(status, "ok");  // computed, matched convkit's output, and timed
      EXPECT_LE(r.at("max_rel_error").get<double>(), 1e-3);
      EXPECT_GT(r.at("median_ms").get<double>(), 0.0);
    }
  }
  EXPECT_EQ(count["convkit"], static_cast<int>(rows));
  if (peers_built()) {
    EXPECT_EQ(count["onednn"], static_cast<int>(rows));
    EXPECT_EQ(count["xnnpack"], static_cast<int>(rows));
    EXPECT_NE(result.output.find("n/a[1]"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find("[1] xnnpack: "), std::string::npos) << result.output;
  }
}

TEST(CliBench, FilterAndLayoutSelectRows) {
  const auto result = run_cli("bench --suite " + kTinySuite +
                              " --min-time 0 --threads 1 --layout channels_last --filter transposed");
  ASSERT_EQ(result.status, 0) << result.output;
  const auto rows = table_rows(result.output);
  ASSERT_EQ(rows.size(), 2u) << result.output;  // tiny.transposed2d and tiny.transposed1d
  for (const auto& row : rows) {
    EXPECT_NE(row.find("transposed"), std::string::npos) << row;
    EXPECT_NE(row.find(" last "), std::string::npos) << row;
  }
}

TEST(CliBench, CpuClockTimesOneThread) {
  const auto result = run_cli("bench --suite " + kTinySuite + " --min-time 0 --threads 1 --clock cpu --filter transposed");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("median process CPU time"), std::string::npos) << result.output;
  EXPECT_EQ(table_rows(result.output).size(), 4u) << result.output;  // 2 layers x 2 layouts
}

// --algorithm reads the kernel-name grammar: an ISA's kernels, named back in every row.
TEST(CliBench, AlgorithmForcesAFamilyOnAnIsa) {
  const auto result = run_cli("bench --suite " + kTinySuite +
                              " --min-time 0 --threads 1 --filter conv2d.3x3 --algorithm gemm.portable");
  ASSERT_EQ(result.status, 0) << result.output;
  const auto rows = table_rows(result.output);
  ASSERT_EQ(rows.size(), 2u) << result.output;  // 2 layouts
  for (const auto& row : rows) EXPECT_NE(row.find("gemm.portable."), std::string::npos) << row;
}

// The backward directions: one row per direction, convkit's gradients match the reference, oneDNN's
// backward primitives (when built in) match convkit's, XNNPACK says it has none.
TEST(CliBench, BackwardDirections) {
  ScratchDir dir;
  const std::string json_path = dir.file("bench.json");
  const auto result = run_cli("bench --suite " + kTinySuite + " --min-time 0 --threads 1 --layout channels_last" +
                              " --direction backward_data,backward_weights --json " + json_path +
                              (peers_built() ? " --peers" : ""));
  ASSERT_EQ(result.status, 0) << result.output;
  const size_t rows = read_suite(kTinySuite).layers.size() * 2;
  EXPECT_EQ(table_rows(result.output).size(), rows) << result.output;
  std::map<std::string, int> directions;
  const json document = read_json(json_path);
  for (const json& r : document.at("results")) {
    const auto impl = r.at("impl").get<std::string>(), direction = r.at("direction").get<std::string>();
    SCOPED_TRACE(r.dump());
    if (impl == "convkit") {
      ++directions[direction];
      EXPECT_EQ(r.at("status").get<std::string>(), "ok");
      EXPECT_LE(r.at("max_rel_error").get<double>(), 1e-5);
    } else if (impl == "onednn") {
      EXPECT_EQ(r.at("status").get<std::string>(), "ok");
    } else {
      EXPECT_EQ(r.at("status").get<std::string>(), "n/a");
    }
  }
  EXPECT_EQ(directions["backward_data"], static_cast<int>(rows / 2));
  EXPECT_EQ(directions["backward_weights"], static_cast<int>(rows / 2));
}

TEST(CliBench, BadOptionsFailCleanly) {
  ScratchDir dir;
  const std::string json_option = " --json " + dir.file("out.json");
  const auto expect_failure = [&](const std::string& arguments, const std::string& fragment) {
    const auto result = run_cli("bench --min-time 0" + json_option + " " + arguments);
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
    EXPECT_TRUE(dir.files().empty()) << "left behind: " << dir.files().front();
  };
  const std::string suite = "--suite " + kTinySuite + " ";
  expect_failure(suite + "--layout channels_middle", "channels_middle");
  expect_failure(suite + "--layout channels_last,channels_last", "listed twice");
  expect_failure(suite + "--threads 0", "--threads: 0");
  expect_failure(suite + "--threads 1,x", "--threads");
  expect_failure(suite + "--min-time -1", "--min-time");
  expect_failure(suite + "--direction sideways", "--direction: 'sideways' is not a direction");
  expect_failure(suite + "--direction forward,forward", "listed twice");
  expect_failure(suite + "--filter no.such.layer", "matches no layer");
  expect_failure(suite + "--clock sundial", "--clock: 'sundial'");
  expect_failure(suite + "--clock cpu --threads 1,2", "--threads 1");
  expect_failure("--suite " + dir.file("missing.json"), "cannot open");
  if (!peers_built()) expect_failure(suite + "--peers", "-DCONVKIT_PEERS=ON");
}

TEST(CliBench, FindsItsSuiteFromAnyDirectory) {
  // Without --suite, bench/layers.json is found beside an installed binary (share/convkit) or, for this
  // build-tree binary, in the source tree; the working directory does not matter.
  ScratchDir dir;
  const std::string command = "cd " + dir.file("") + " && " + CONVKIT_CLI_PATH +
                              " bench --min-time 0 --threads 1 --layout channels_first --filter image.sobel3x3 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("image.sobel3x3"), std::string::npos) << output;
  const auto unmatched = run_cli("bench --min-time 0 --filter no.such.layer");
  EXPECT_NE(unmatched.output.find("matches no layer of the suite " + std::string(CONVKIT_SOURCE_DIR) +
                                  "/bench/layers.json"),
            std::string::npos)
      << unmatched.output;
}

}  // namespace
}  // namespace convkit::cli
