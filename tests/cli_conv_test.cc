// End-to-end tests of `convkit conv`: the binary on .npy files, every option, and the error paths
// (exit status 2, a one-line message naming the problem, no output file left behind).
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <random>

#include "cli_test_support.h"
#include "convkit/npy.h"
#include "test_support.h"

namespace convkit {
namespace {

using testing::run_cli;
using testing::ScratchDir;

class CliConv : public ::testing::Test {
 protected:
  // Writes x and w, runs `convkit conv` with `options`, and returns the output (failing the test if the
  // command did not succeed).
  Tensor conv(const Tensor& x, const Tensor& w, const std::string& options, const Tensor* bias = nullptr) {
    npy::write(dir_.file("x.npy"), x);
    npy::write(dir_.file("w.npy"), w);
    std::string arguments = "conv --input " + dir_.file("x.npy") + " --weight " + dir_.file("w.npy") + " --output " +
                            dir_.file("y.npy") + " " + options;
    if (bias) {
      npy::write(dir_.file("b.npy"), *bias);
      arguments += " --bias " + dir_.file("b.npy");
    }
    const auto result = run_cli(arguments);
    EXPECT_EQ(result.status, 0) << result.output;
    return result.status == 0 ? npy::read(dir_.file("y.npy")) : Tensor();
  }

  // Runs `convkit conv` expecting failure: exit status 2, `fragment` in the message, and no y.npy.
  void expect_failure(const std::string& arguments, const std::string& fragment) {
    const auto result = run_cli("conv " + arguments + " --output " + dir_.file("y.npy"));
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find('\n'), result.output.size() - 1) << "expected one line: " << result.output;
    for (const auto& name : dir_.files()) EXPECT_EQ(name.find("y.npy"), std::string::npos) << "left behind: " << name;
  }

  std::string inputs() const { return "--input " + dir_.file("x.npy") + " --weight " + dir_.file("w.npy"); }

  ScratchDir dir_;
};

const Tensor kOneToSix({1, 1, 6}, {1, 2, 3, 4, 5, 6});

TEST_F(CliConv, SeedExamplesThroughFiles) {
  const Tensor twos({1, 1, 3}, 2.0f);
  EXPECT_EQ(conv(kOneToSix, twos, "").values(), (std::vector<float>{12, 18, 24, 30}));
  EXPECT_EQ(conv(kOneToSix, twos, "--padding 1").values(), (std::vector<float>{6, 12, 18, 24, 30, 22}));
  EXPECT_EQ(conv(kOneToSix, twos, "--stride 3").values(), (std::vector<float>{12, 30}));
  EXPECT_EQ(conv(kOneToSix, twos, "--dilation 2").values(), (std::vector<float>{18, 24}));
  const Tensor two({1, 2, 6}, {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60});
  EXPECT_EQ(conv(two, Tensor({2, 1, 1}, {2, 4}), "--groups 2").values(),
            (std::vector<float>{2, 4, 6, 8, 10, 12, 40, 80, 120, 160, 200, 240}));
}

TEST_F(CliConv, ExplainNamesTheChosenAlgorithm) {
  npy::write(dir_.file("x.npy"), Tensor({1, 16, 8, 8}, 1.0f));  // 16 channels: past the few-channel path
  npy::write(dir_.file("w.npy"), Tensor({8, 16, 3, 3}, 1.0f));
  const auto result = run_cli("conv " + inputs() + " --output " + dir_.file("y.npy") + " --explain");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("spatial: declined: Cin=16 > 4"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("gemm: chosen, micro-kernel gemm."), std::string::npos) << result.output;
  npy::write(dir_.file("w.npy"), Tensor({16, 8, 3, 3}, 1.0f));  // transposed: (Cin, Cout/groups, k...)
  const auto transposed = run_cli("conv " + inputs() + " --output " + dir_.file("y.npy") + " --transposed --explain");
  EXPECT_NE(transposed.output.find("gemm: declined: transposed"), std::string::npos) << transposed.output;
  EXPECT_NE(transposed.output.find("transposed: chosen, phase decomposition"), std::string::npos) << transposed.output;
}

TEST_F(CliConv, AccuracyStrictUsesADirectAlgorithm) {
  std::mt19937 rng(testing::kSeed);
  const Tensor x = testing::random_tensor({1, 64, 12, 12}, rng), w = testing::random_tensor({64, 64, 3, 3}, rng);
  npy::write(dir_.file("x.npy"), x);
  npy::write(dir_.file("w.npy"), w);
  // Outputs to z.npy: expect_failure checks that no y.npy is written.
  const auto fast = run_cli("conv " + inputs() + " --output " + dir_.file("z.npy") + " --padding 1 --explain");
  EXPECT_NE(fast.output.find("winograd: chosen"), std::string::npos) << fast.output;
  const auto strict =
      run_cli("conv " + inputs() + " --output " + dir_.file("z.npy") + " --padding 1 --accuracy strict --explain");
  EXPECT_EQ(strict.status, 0) << strict.output;
  EXPECT_NE(strict.output.find("winograd: declined: accuracy=strict"), std::string::npos) << strict.output;
  EXPECT_NE(strict.output.find("gemm: chosen"), std::string::npos) << strict.output;
  EXPECT_NE(strict.output.find("error: |error| <= "), std::string::npos) << strict.output;
  expect_failure(inputs() + " --accuracy exact", "--accuracy='exact' is not recognised; expected one of fast, strict");
}

TEST_F(CliConv, TensorFlowSameInChannelsLast) {
  const Tensor y = conv(Tensor({1, 5, 5, 1}, 1.0f), Tensor({3, 3, 1, 1}, 1.0f), "--layout channels_last --padding same");
  ASSERT_EQ(y.shape(), (Shape{1, 5, 5, 1}));
  EXPECT_EQ(y[0], 4.0f);
  EXPECT_EQ(y[2], 6.0f);
  EXPECT_EQ(y[12], 9.0f);
}

TEST_F(CliConv, PaddingForms) {
  const Tensor x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), w({1, 1, 1, 1}, 1.0f);
  EXPECT_EQ(conv(x, w, "--padding 1").shape(), (Shape{1, 1, 5, 5}));
  EXPECT_EQ(conv(x, w, "--padding 1,2").shape(), (Shape{1, 1, 5, 7}));
  EXPECT_EQ(conv(x, w, "--padding 1,0,0,2").shape(), (Shape{1, 1, 4, 5}));  // ONNX: begins, then ends
  EXPECT_EQ(conv(x, w, "--padding valid").shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(conv(x, Tensor({1, 1, 2, 2}, 1.0f), "--padding same_lower").values()[0], 1.0f);
  EXPECT_EQ(conv(x, w, "--padding 1 --padding-mode reflect").values()[0], 5.0f);
  EXPECT_EQ(conv(x, w, "--padding 1 --padding-mode replicate").values()[0], 1.0f);
  EXPECT_EQ(conv(x, w, "--padding 1 --padding-mode circular").values()[0], 9.0f);
}

TEST_F(CliConv, TransposedFlipAndBias) {
  const Tensor up = conv(Tensor({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor({1, 1, 2, 2}, 1.0f), "--transposed --stride 2");
  EXPECT_EQ(up.values(), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
  EXPECT_EQ(conv(kOneToSix, Tensor({1, 1, 2}, 1.0f), "--transposed --stride 2 --output-padding 1").shape(),
            (Shape{1, 1, 13}));
  EXPECT_EQ(conv(kOneToSix, Tensor({1, 1, 3}, 1.0f), "--transposed --stride 2 --output-shape 12").shape(),
            (Shape{1, 1, 12}));
  EXPECT_EQ(conv(kOneToSix, Tensor({1, 1, 3}, {1, 2, 3}), "--flip").values(), (std::vector<float>{10, 16, 22, 28}));
  const Tensor bias(Shape{1}, std::vector<float>{0.5f});
  EXPECT_EQ(conv(kOneToSix, Tensor({1, 1, 1}, 1.0f), "", &bias).values()[0], 1.5f);
}

// Random problems through the binary equal the library's reference results exactly.
TEST_F(CliConv, MatchesTheLibraryOnRandomProblems) {
  std::mt19937 rng(testing::kSeed);
  for (int i = 0; i < 25; ++i) {
    const testing::Problem p = testing::random_problem(rng);
    SCOPED_TRACE("case " + std::to_string(i) + ": " + p.describe());
    const testing::ProblemData d = testing::random_data(p, rng);
    const ConvSpec& s = p.spec;
    auto list = [](const std::vector<int64_t>& v) {
      std::string text;
      for (int64_t x : v) {
        if (!text.empty()) text += ',';
        text += std::to_string(x);
      }
      return text;
    };
    std::string options = "--layout " + std::string(to_string(s.layout)) + " --groups " + std::to_string(s.groups) +
                          " --stride " + list(s.stride) + " --dilation " + list(s.dilation) + " --padding-mode " +
                          std::string(to_string(s.padding_mode));
    if (s.padding.kind == PaddingKind::explicit_pads) {
      std::vector<int64_t> pads = s.padding.begin;
      pads.insert(pads.end(), s.padding.end.begin(), s.padding.end.end());
      options += " --padding " + list(pads);
    } else {
      options += " --padding " + std::string(to_string(s.padding.kind));
    }
    if (s.transposed) options += " --transposed --output-padding " + list(s.output_padding);
    if (s.flip) options += " --flip";
    // The CLI runs a plan: exactly the library's plan output, and the reference's up to float rounding.
    const Tensor expected = ConvPlan(s, d.weight, d.bias_view()).run(d.input);
    const Tensor got = conv(d.input, d.weight, options, s.bias ? &d.bias : nullptr);
    EXPECT_EQ(got.shape(), expected.shape());
    EXPECT_EQ(got.values(), expected.values());
    EXPECT_LE(testing::max_abs_difference(got, reference::convolution(s, d.input, d.weight, d.bias_view())), 1e-5);
  }
}

TEST_F(CliConv, BadInputsFailCleanly) {
  npy::write(dir_.file("x.npy"), Tensor({1, 4, 8, 8}));
  npy::write(dir_.file("w.npy"), Tensor({8, 4, 3, 3}));
  expect_failure("--input " + dir_.file("missing.npy") + " --weight " + dir_.file("w.npy"), "missing.npy");
  expect_failure(inputs() + " --groups 3", "groups=3 does not divide in_channels=4");
  expect_failure(inputs() + " --padding 1,2,3", "--padding='1,2,3' has 3 values");
  expect_failure(inputs() + " --padding wide", "--padding='wide' is not recognised; expected valid, same");
  expect_failure(inputs() + " --padding-mode mirror", "--padding-mode='mirror' is not recognised");
  expect_failure(inputs() + " --layout NHWC", "--layout='NHWC' is not recognised");
  expect_failure(inputs() + " --stride 0", "stride=[0, 0] must be positive");
  expect_failure(inputs() + " --dilation 5", "larger than the padded input");
  expect_failure(inputs() + " --padding 8 --padding-mode reflect", "reflect padding 8");
  expect_failure(inputs() + " --transposed --stride 2 --output-padding 2", "output_padding=2");
  npy::write(dir_.file("wt.npy"), Tensor({4, 2, 3, 3}));  // a transposed weight (Cin, Cout/g, k...)
  expect_failure("--input " + dir_.file("x.npy") + " --weight " + dir_.file("wt.npy") + " --transposed --output-shape 99",
                 "output_shape=[99, 99] is unreachable");
  expect_failure(inputs() + " --layout channels_last", "weight of shape [8, 4, 3, 3] does not match");
  npy::write(dir_.file("w.npy"), Tensor({8, 3, 3, 3}));
  expect_failure(inputs(), "weight of shape [8, 3, 3, 3]");
  npy::write(dir_.file("w.npy"), Tensor({8, 4, 3}));
  expect_failure(inputs(), "--weight of shape [8, 4, 3] has rank 3");
  std::ofstream(dir_.file("w.npy")) << "not an npy file";
  expect_failure(inputs(), "w.npy");
  npy::write(dir_.file("w.npy"), Tensor({8, 4, 3, 3}));
  const auto missing_dir = run_cli("conv " + inputs() + " --output " + dir_.file("no/such/dir/y.npy"));
  EXPECT_EQ(missing_dir.status, 2) << missing_dir.output;
}

// Sizes near the int64 limit on the option path (issue 17, x (1,1,8,8), w (1,1,3,3)): each is exit
// status 2 with a message naming the argument and no output file; none is a wrapped-around (negative
// or small) size, a crash or an allocation of the wrapped size.
TEST_F(CliConv, SizesNearTheInt64LimitAreErrors) {
  npy::write(dir_.file("x.npy"), Tensor({1, 1, 8, 8}, 1.0f));
  npy::write(dir_.file("w.npy"), Tensor({1, 1, 3, 3}, 1.0f));
  const auto expect_size_error = [&](const std::string& options, const std::string& fragment) {
    expect_failure(inputs() + " " + options, fragment);
    const std::string output = run_cli("conv " + inputs() + " " + options + " --output " + dir_.file("y.npy")).output;
    for (size_t at = output.find('-'); at != std::string::npos; at = output.find('-', at + 1))
      EXPECT_FALSE(at + 1 < output.size() && std::isdigit(static_cast<unsigned char>(output[at + 1])))
          << "a negative number in: " << output;
  };
  expect_size_error("--dilation 9223372036854775807", "dilation=9223372036854775807 with kernel=3");
  expect_size_error("--dilation 4611686018427387904", "dilation=4611686018427387904 with kernel=3");
  expect_size_error("--dilation 2305843009213693952", "spans 4611686018427387905 cells");
  expect_size_error("--padding 9223372036854775807", "padding begin=9223372036854775807");
  expect_size_error("--padding 1099511627776", "conv: output: shape [1, 1, 2199023255558, 2199023255558]");
  expect_size_error("--transposed --padding valid --output-shape 4611686018427387904",
                    "output_shape=[4611686018427387904, 4611686018427387904] is unreachable");
  expect_size_error("--transposed --groups 4611686018427387904", "groups=4611686018427387904");
  expect_size_error("--transposed --stride 9223372036854775807", "stride=9223372036854775807 with input size 8");
  expect_size_error("--transposed --dilation 4611686018427387904", "dilation=4611686018427387904 with kernel=3");
  npy::write(dir_.file("w.npy"), Tensor({1, 2, 3, 3}, 1.0f));  // 2 output channels per group
  expect_size_error("--transposed --groups 4611686018427387904",
                    "--groups=4611686018427387904 times the 2 output channels per group");
}

// ONNX's backend test test_convtranspose_output_shape through the CLI: output_shape [10, 8] is one cell
// beyond the 9x7 span on each axis (see transposed_test.cc for the whole expected tensor).
TEST_F(CliConv, OnnxOutputShapeBeyondTheSpan) {
  Tensor x({1, 1, 3, 3});
  for (int64_t i = 0; i < 9; ++i) x[i] = static_cast<float>(i);
  const Tensor y = conv(x, Tensor({1, 2, 3, 3}, 1.0f), "--transposed --stride 3,2 --output-shape 10,8");
  ASSERT_EQ(y.shape(), (Shape{1, 2, 10, 8}));
  EXPECT_EQ(y.at({0, 1, 3, 2}), 7.0f);   // ONNX's y[0][1][3][2]
  EXPECT_EQ(y.at({0, 0, 8, 4}), 15.0f);  // ONNX's y[0][0][8][4]
  for (int64_t w = 0; w < 8; ++w) EXPECT_EQ(y.at({0, 0, 9, w}), 0.0f);  // the row beyond the span
}

TEST_F(CliConv, VersionAndHelp) {
  EXPECT_NE(run_cli("--version").output.find("convkit "), std::string::npos);
  const auto help = run_cli("conv --help");
  EXPECT_EQ(help.status, 0);
  for (const char* option : {"--input", "--weight", "--bias", "--output", "--layout", "--stride", "--dilation",
                             "--groups", "--padding", "--padding-mode", "--transposed", "--output-padding",
                             "--output-shape", "--flip"})
    EXPECT_NE(help.output.find(option), std::string::npos) << option;
  EXPECT_EQ(run_cli("conv --input").status, 2);
  EXPECT_EQ(run_cli("no-such-command").status, 2);
}

}  // namespace
}  // namespace convkit
