// End-to-end tests of `convkit learn`: both demonstrations through the binary, the PNG plots, and the
// error paths (exit status 2, a one-line message, no plot file left behind).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cli_test_support.h"

namespace convkit {
namespace {

using testing::run_cli;
using testing::ScratchDir;

// True when `path` starts with the 8-byte PNG signature.
bool is_png(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[8] = {};
  in.read(header, sizeof header);
  return in && std::string(header, 8) == "\x89PNG\r\n\x1a\n";
}

TEST(CliLearn, KernelRecoveryPrintsTheReversedKernelAndPlots) {
  ScratchDir dir;
  const auto result = run_cli("learn kernel --kernel 1,2,5 --steps 60 --plot " + dir.file("loss.png"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("the learned kernel is g reversed"), std::string::npos) << result.output;
  // The table row of tap 0: true g 1, learned 5, g reversed 5.
  EXPECT_NE(result.output.find("    0   1.0000    5.0000       5.0000"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("step 60:"), std::string::npos) << result.output;
  EXPECT_TRUE(is_png(dir.file("loss.png")));
  EXPECT_EQ(dir.files(), std::vector<std::string>{"loss.png"});
}

TEST(CliLearn, ActivityRunsAndPlots) {
  ScratchDir dir;
  const auto result = run_cli("learn activity --epochs 2 --train 32 --test 16 --length 32 --optimizer sgd "
                              "--learning-rate 0.1 --plot " + dir.file("loss.png"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("epoch 2/2: loss"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("held-out accuracy: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("conv1d 3->16"), std::string::npos) << result.output;
  EXPECT_TRUE(is_png(dir.file("loss.png")));
}

TEST(CliLearn, ErrorsExitWithStatus2AndLeaveNoPlot) {
  ScratchDir dir;
  const std::string missing_dir = dir.file("missing") + "/loss.png";
  auto result = run_cli("learn kernel --steps 5 --plot " + missing_dir);
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("convkit: error: --plot=" + missing_dir + ": cannot write: the directory " +
                               dir.file("missing") + " does not exist"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("Kernel recovery (seed 002)"), std::string::npos) << "trained before checking --plot";
  result = run_cli("learn kernel --steps 5 --plot " + dir.file("loss.gif"));
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("--plot=" + dir.file("loss.gif") + ": the extension '.gif' names no picture format"),
            std::string::npos)
      << result.output;
  EXPECT_TRUE(dir.files().empty());
  result = run_cli("learn activity --optimizer rmsprop");
  EXPECT_EQ(result.status, 2) << result.output;
  result = run_cli("learn kernel --kernel 1,x");
  EXPECT_EQ(result.status, 2) << result.output;
  result = run_cli("learn");
  EXPECT_EQ(result.status, 2) << result.output;
}

// A kernel of 1e39 (inf as a float) reported success on NaN, and an empty --kernel ran as [0].
TEST(CliLearn, KernelsMustBeFiniteAndTheLossMustStayFinite) {
  auto result = run_cli("learn kernel --kernel 1,1e39");
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("convkit: error: --kernel=1,1e39: value 2 '1e39' is not a finite float"),
            std::string::npos)
      << result.output;
  for (const std::string kernel : {"''", "' '"}) {
    result = run_cli("learn kernel --kernel " + kernel);
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_NE(result.output.find("convkit: error: --kernel is empty"), std::string::npos) << result.output;
  }
  for (const std::string kernel : {"1,,2", "nan", "1,"}) {
    result = run_cli("learn kernel --kernel " + kernel);
    EXPECT_EQ(result.status, 2) << kernel << ": " << result.output;
  }
  result = run_cli("learn kernel --kernel 3e38,3e38 --steps 3");  // finite, but y = x * g overflows float
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("kernel recovery: the loss became inf at step 0"), std::string::npos) << result.output;
  ScratchDir dir;
  for (const std::string rate : {"100", "1000"}) {  // diverges: NaN or Inf; no plot, no "g reversed"
    result = run_cli("learn kernel --learning-rate " + rate + " --steps 50 --plot " + dir.file("loss.png"));
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_NE(result.output.find("kernel recovery: the loss became"), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("the learned kernel is g reversed"), std::string::npos) << result.output;
    EXPECT_TRUE(dir.files().empty());
  }
  result = run_cli("learn kernel --kernel ' 1, -2.5 ' --steps 2");
  EXPECT_EQ(result.status, 0) << result.output;
}

}  // namespace
}  // namespace convkit
