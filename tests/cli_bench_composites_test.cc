// End-to-end tests of `convkit bench --composites` on a tiny composite suite with --min-time 0: one row
// per composite, layout and thread count, fused times for the depthwise separable rows only, and clean
// failures for bad suites. Times are never checked.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cli_test_support.h"
#include "scratch_dir.h"

namespace convkit::cli {
namespace {

using testing::run_cli;
using testing::ScratchDir;

const std::string kTinySuite = std::string(CONVKIT_SOURCE_DIR) + "/tests/data/bench_composites_tiny.json";

std::vector<std::string> table_rows(const std::string& output) {
  std::vector<std::string> rows;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("| tiny.", 0) == 0) rows.push_back(line);
  return rows;
}

TEST(CliBenchComposites, OneRowPerCompositeLayoutAndThreadCount) {
  const auto result = run_cli("bench --composites " + kTinySuite + " --min-time 0 --threads 1,2");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("| fused ms | staged ms |"), std::string::npos) << result.output;
  const auto rows = table_rows(result.output);
  ASSERT_EQ(rows.size(), 4u * 2 * 2) << result.output;
  for (const std::string& row : rows) {
    const bool separable = row.find("separable") != std::string::npos;
    // Fused: the separable pair, and the shuffled pair when its shuffle is read through ("shuffled.").
    const bool shuffle_read = row.find("shuffled.") != std::string::npos;
    EXPECT_EQ(row.find("- (staged)") == std::string::npos, separable || shuffle_read) << row;
    EXPECT_EQ(row.find("fused.depthwise.") != std::string::npos, separable) << row;
    if (row.find("tiny.shuffled") != std::string::npos) {
      EXPECT_NE(row.find("> shuffle >"), std::string::npos) << row;
    }
  }
}

TEST(CliBenchComposites, FilterLayoutAndCpuClock) {
  const auto result = run_cli("bench --composites " + kTinySuite +
                              " --min-time 0 --threads 1 --clock cpu --layout channels_last --filter separable1d");
  ASSERT_EQ(result.status, 0) << result.output;
  const auto rows = table_rows(result.output);
  ASSERT_EQ(rows.size(), 1u) << result.output;
  EXPECT_NE(rows[0].find("channels_last"), std::string::npos) << rows[0];
  EXPECT_NE(result.output.find("median process CPU time"), std::string::npos) << result.output;
}

TEST(CliBenchComposites, BadSuitesFailCleanly) {
  ScratchDir dir;
  const std::string bad = dir.file("bad.json");
  {
    std::ofstream file(bad);
    file
        << R"({"layers": [{"name": "x", "composite": "inverted", "input": [1, 4, 5], "out_channels": 4, "kernel": [3]}]})";
  }
  auto result = run_cli("bench --composites " + bad + " --min-time 0 --threads 1");
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("convkit: error: suite " + bad + ": layer 0 (\"x\"): field \"composite\"=\"inverted\""),
            std::string::npos)
      << result.output;
  result = run_cli("bench --composites " + kTinySuite + " --min-time 0 --threads 1 --filter nothing");
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("--filter='nothing' matches no composite"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace convkit::cli
