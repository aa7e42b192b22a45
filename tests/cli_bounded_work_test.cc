// The binary on strides far beyond the input (issue 17, item 2): exit 0 with the reference's result for
// the commands that used to take gigabytes or abort, and exit 2 with a message saying what needed how much
// memory when an output cannot be allocated.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>

#include "cli_test_support.h"
#include "convkit/convkit.h"
#include "test_support.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONVKIT_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CONVKIT_TEST_ASAN 1
#endif

namespace convkit {
namespace {

using testing::run_cli;
using testing::ScratchDir;

class CliBoundedWork : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return dir_.file(name); }

  // Runs `convkit <arguments>` with `arguments` naming the scratch files, expecting success.
  void run(const std::string& arguments) {
    const auto result = run_cli(arguments);
    ASSERT_EQ(result.status, 0) << arguments << "\n" << result.output;
  }

  ScratchDir dir_;
};

TEST_F(CliBoundedWork, ConvWithAStrideBeyondTheInputIsOneCell) {
  std::mt19937 rng(testing::kSeed);
  const Tensor x = testing::random_tensor({1, 1, 8, 8}, rng), w = testing::random_tensor({1, 1, 3, 3}, rng);
  npy::write(path("x.npy"), x);
  npy::write(path("w.npy"), w);
  for (int64_t stride : {1000, 10000}) {
    run("conv --input " + path("x.npy") + " --weight " + path("w.npy") + " --stride " + std::to_string(stride) +
        " --output " + path("y.npy"));
    ConvSpec spec;
    spec.rank = 2;
    spec.in_channels = spec.out_channels = 1;
    spec.kernel = {3, 3};
    spec.stride = {stride, stride};
    const Tensor y = npy::read(path("y.npy"));
    ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
    EXPECT_LT(testing::max_abs_difference(y, reference::convolution(spec, x, w)), 1e-5) << stride;
  }
}

TEST_F(CliBoundedWork, TransposedWithAStrideOfTenMillionIsThreeCells) {
  npy::write(path("x.npy"), Tensor({1, 1, 1}, std::vector<float>{2.0f}));
  npy::write(path("w.npy"), Tensor({1, 1, 3}, {1.0f, -2.0f, 3.0f}));
  run("conv --transposed --input " + path("x.npy") + " --weight " + path("w.npy") +
      " --stride 10000000 --output " + path("y.npy"));
  const Tensor y = npy::read(path("y.npy"));
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3}));
  EXPECT_EQ(y.values(), (std::vector<float>{2.0f, -4.0f, 6.0f}));
}

TEST_F(CliBoundedWork, FilterWithAStrideBeyondTheImage) {
  std::mt19937 rng(testing::kSeed + 1);
  const Tensor x = testing::random_tensor({8, 8}, rng);
  npy::write(path("x.npy"), x);
  run("filter " + path("x.npy") + " --filter gaussian:5,1.5 --stride 10000 --output " + path("out.npy"));
  filters::Options options;
  options.stride = {10000, 10000};
  const Tensor expected = filters::apply(filters::named("gaussian:5,1.5", 2), x.reshaped({1, 8, 8}), options);
  const Tensor y = npy::read(path("out.npy"));
  ASSERT_EQ(y.shape(), (Shape{1, 1}));
  EXPECT_NEAR(y[0], expected[0], 1e-5);
}

// An output of 2^62 floats: the address space cannot hold it, whatever the machine; the shape check
// refuses it before anything is allocated.
TEST_F(CliBoundedWork, AnOutputBeyondTheAddressSpaceIsAnError) {
  npy::write(path("x.npy"), Tensor({1, 1, 2, 2}, 1.0f));
  npy::write(path("w.npy"), Tensor({1, 1, 3, 3}, 1.0f));
  const auto result = run_cli("conv --transposed --input " + path("x.npy") + " --weight " + path("w.npy") +
                              " --stride 2147483647 --output " + path("y.npy"));
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_EQ(result.output,
            "convkit: error: conv_transpose: output: shape [1, 1, 2147483650, 2147483650] holds 4611686027017322500 "
            "floats, more than the 2305843009213693951 whose size in bytes fits in a memory address\n");
  EXPECT_TRUE(dir_.files().size() == 2u) << "an output was left behind";
}

// A 4.3 GB output (32771^2 floats) under a 2 GB address-space limit: the allocation really fails, and the binary says so
// (exit 2) instead of aborting. ASan reserves terabytes of shadow memory and reports failed allocations
// itself, so this runs in the plain builds only.
TEST_F(CliBoundedWork, AFailedAllocationIsAnErrorNotAnAbort) {
#ifdef CONVKIT_TEST_ASAN
  GTEST_SKIP() << "address-space limits do not apply under AddressSanitizer";
#else
  npy::write(path("x.npy"), Tensor({1, 1, 2, 2}, 1.0f));
  npy::write(path("w.npy"), Tensor({1, 1, 3, 3}, 1.0f));
  const std::string command = "ulimit -v 2000000 && exec " + std::string(CONVKIT_CLI_PATH) +
                              " conv --transposed --input " + path("x.npy") + " --weight " + path("w.npy") +
                              " --stride 32768 --output " + path("y.npy") + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal: " << output;
  EXPECT_EQ(WEXITSTATUS(status), 2) << output;
  EXPECT_EQ(output, "convkit: error: out of memory: the output tensor of shape [1, 1, 32771, 32771] needs 4.3 GB\n");
#endif
}

}  // namespace
}  // namespace convkit
