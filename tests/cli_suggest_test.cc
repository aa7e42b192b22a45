// The command line's spelling help: "did you mean" for mistyped commands and options (tools/convkit/
// suggest.cc), and padding words in any case.
#include <gtest/gtest.h>

#include <string>

#include "cli_test_support.h"

namespace convkit {
namespace {

using testing::run_cli;

void expect_message(const std::string& arguments, const std::string& message) {
  const auto result = run_cli(arguments);
  EXPECT_EQ(result.status, 2) << arguments << "\n" << result.output;
  EXPECT_EQ(result.output, "convkit: error: " + message + "\n") << arguments;
}

TEST(CliSuggest, MistypedCommands) {
  expect_message("filtr in.png", "unknown command 'filtr' for 'convkit'; did you mean 'filter'?");
  expect_message("sumary model.json", "unknown command 'sumary' for 'convkit'; did you mean 'summary'?");
  expect_message("learn kernal", "unknown command 'kernal' for 'convkit learn'; did you mean 'kernel'?");
  expect_message("drow --input-shape 5,5", "unknown command 'drow' for 'convkit'; did you mean 'draw'?");
  expect_message("frobnicate", "unknown command 'frobnicate' for 'convkit'; expected one of conv, demo, summary, "
                               "filter, bench, learn, draw");
}

TEST(CliSuggest, MistypedOptions) {
  // Checked before CLI11 would report a missing required option instead.
  expect_message("filter in.png --strides 2", "unknown option '--strides' for 'convkit filter'; did you mean '--stride'?");
  expect_message("conv --input x.npy --weight w.npy --paddng 1",
                 "unknown option '--paddng' for 'convkit conv'; did you mean '--padding'?");
  expect_message("summary --input-shape 3,8,8 --kernal 3",
                 "unknown option '--kernal' for 'convkit summary'; did you mean '--kernel'?");
  expect_message("summary --input-shape=3,8,8 --out=4", "unknown option '--out' for 'convkit summary'; did you mean '--out-channels'?");
  expect_message("conv -q", "unknown option '-q' for 'convkit conv'; see --help for the options");
  expect_message("conv --zzzzzz", "unknown option '--zzzzzz' for 'convkit conv'; see --help for the options");
}

TEST(CliSuggest, ValuesAndPositionalsAreNotChecked) {
  // An option's value (even "-1" or a word) and positionals pass through to CLI11 and the command.
  const auto result = run_cli("summary --input-shape 3,8,8 --out-channels 4 --kernel 3 --padding -1 --json");
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.output.find("unknown option"), std::string::npos) << result.output;
  EXPECT_EQ(run_cli("summary --input-shape 3,8,8 --out-channels 4 --kernel 3 --padding=1 --json").status, 0);
  EXPECT_EQ(run_cli("--version").status, 0);
  EXPECT_EQ(run_cli("summary --help").status, 0);
}

TEST(CliSuggest, PaddingWordsInAnyCase) {
  // Keras writes "same", tf.nn and ONNX "SAME"/"VALID"/"SAME_UPPER": all mean the same padding.
  const std::string layer = "summary --input-shape 3,9,9 --out-channels 2 --kernel 3 --stride 2 --json --padding ";
  const auto same = run_cli(layer + "same");
  ASSERT_EQ(same.status, 0) << same.output;
  EXPECT_NE(same.output.find("[\n        2,\n        5,\n        5\n      ]"), std::string::npos) << same.output;
  for (const char* word : {"SAME", "Same", "SAME_UPPER"}) EXPECT_EQ(run_cli(layer + word).output, same.output) << word;
  EXPECT_EQ(run_cli(layer + "VALID").output, run_cli(layer + "valid").output);
  EXPECT_EQ(run_cli(layer + "SAME_LOWER").output, run_cli(layer + "same_lower").output);
  const auto wrong = run_cli(layer + "full");
  EXPECT_EQ(wrong.status, 2);
  EXPECT_NE(wrong.output.find("--padding='full' is not recognised; expected valid, same (= same_upper), same_lower (in "
                              "any case) or integers"),
            std::string::npos)
      << wrong.output;
}

}  // namespace
}  // namespace convkit
