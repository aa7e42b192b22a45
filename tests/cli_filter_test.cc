// End-to-end tests of `convkit filter`: images, CSV signals and .npy arrays through the binary, every
// option, several filters at once, custom kernels, and the error paths (exit status 2, one line, no
// output file).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cli_test_support.h"
#include "nifti_support.h"
#include "convkit/convkit.h"
#include "test_support.h"

namespace convkit {
namespace {

using testing::run_cli;
using testing::ScratchDir;

// A grey or RGB test picture with integer values 0..255: a bright square on a ramp.
Tensor picture(int64_t channels, int64_t side) {
  Tensor t({channels, side, side});
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < side; ++y)
      for (int64_t x = 0; x < side; ++x)
        t.at({c, y, x}) =
            (y > side / 4 && y < 3 * side / 4 && x > side / 3) ? 230.0f : static_cast<float>(8 * x + 20 * c);
  return t;
}

// What the binary must write for `filter` on `x` as PNG: the library's result, encoded and decoded.
std::vector<float> expected_png(const filters::Filter& filter, const Tensor& x, const filters::Options& options = {},
                                image::Scaling scaling = image::Scaling::clamp) {
  return image::decode(image::encode_png(filters::apply(filter, x, options), scaling)).values();
}

class CliFilter : public ::testing::Test {
 protected:
  // Runs `convkit filter <arguments>` and expects success.
  void filter(const std::string& arguments) {
    const auto result = run_cli("filter " + arguments);
    ASSERT_EQ(result.status, 0) << arguments << "\n" << result.output;
  }

  // Runs `convkit filter <arguments>` expecting exit status 2, `fragment` in a one-line message, and no
  // file whose name starts with "out" left behind.
  void expect_failure(const std::string& arguments, const std::string& fragment) {
    const auto result = run_cli("filter " + arguments);
    EXPECT_EQ(result.status, 2) << arguments << "\n" << result.output;
    EXPECT_NE(result.output.find("convkit: error: "), std::string::npos) << result.output;
    EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find('\n'), result.output.size() - 1) << "expected one line: " << result.output;
    for (const auto& name : dir_.files()) EXPECT_NE(name.rfind("out", 0), 0u) << "left behind: " << name;
  }

  std::string path(const std::string& name) const { return dir_.file(name); }

  ScratchDir dir_;
};

TEST_F(CliFilter, EveryNamedFilterOnAnRgbImage) {
  const Tensor rgb = picture(3, 12);
  image::write_png(path("in.png"), rgb);
  for (const char* name : {"identity", "box", "box:5", "gaussian", "gaussian:7,1.2", "sharpen", "laplacian", "edge",
                           "sobel-x", "sobel-y", "sobel", "emboss"}) {
    SCOPED_TRACE(name);
    filter(path("in.png") + " --filter " + name + " --output " + path("out.png"));
    const Tensor out = image::read(path("out.png"));
    EXPECT_EQ(out.shape(), rgb.shape());
    EXPECT_EQ(out.values(), expected_png(filters::named(name, 2), rgb));
  }
  // identity is exact, and a grey image stays grey.
  EXPECT_EQ(expected_png(filters::named("identity", 2), rgb), rgb.values());
  image::write_png(path("grey.png"), picture(1, 9));
  filter(path("grey.png") + " --filter edge --output " + path("out-grey.png"));
  EXPECT_EQ(image::read(path("out-grey.png")).shape(), (Shape{1, 9, 9}));
}

TEST_F(CliFilter, SeveralFiltersWriteOneOutputEach) {
  image::write_png(path("in.png"), picture(3, 10));
  const auto result = run_cli("filter " + path("in.png") +
                              " --filter edge --filter gaussian:5,1.5 --filter sharpen --output " + path("out.png"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(dir_.files(),
            (std::vector<std::string>{"in.png", "out-edge.png", "out-gaussian-5-1.5.png", "out-sharpen.png"}));
  EXPECT_EQ(image::read(path("out-sharpen.png")).values(), expected_png(filters::named("sharpen", 2), picture(3, 10)));
  EXPECT_NE(result.output.find("out-edge.png"), std::string::npos) << result.output;
}

TEST_F(CliFilter, CsvSignalsKeepTheirColumns) {
  csv::write(path("in.csv"), {{"a", "b"}, Tensor({2, 5}, std::vector<float>{1, 2, 3, 4, 5, 10, 20, 30, 40, 50})});
  filter(path("in.csv") + " --filter smooth:3 --output " + path("out.csv"));
  const csv::Signals out = csv::read(path("out.csv"));
  EXPECT_EQ(out.names, (std::vector<std::string>{"a", "b"}));
  // Moving average of 3 over the reflect-padded signals [2, 1, 2, 3, 4, 5, 4] and [20, 10, ..., 50, 40].
  EXPECT_EQ(out.values.shape(), (Shape{2, 5}));
  EXPECT_NEAR(out.values.at({0, 0}), 5.0f / 3.0f, 1e-6);
  EXPECT_NEAR(out.values.at({0, 2}), 3.0f, 1e-6);
  EXPECT_NEAR(out.values.at({1, 4}), 130.0f / 3.0f, 1e-5);
  // Three smoothers on one signal, written as .npy (C, L).
  filter(path("in.csv") + " --filter smooth:3 --filter smooth:5 --filter gaussian:5,1 --output " + path("out.npy"));
  EXPECT_EQ(npy::read(path("out-smooth-5.npy")).shape(), (Shape{2, 5}));
  EXPECT_EQ(npy::read(path("out-gaussian-5-1.npy")).shape(), (Shape{2, 5}));
}

TEST_F(CliFilter, NpyArraysOfEveryRank) {
  std::mt19937 rng(testing::kSeed);
  const Tensor volume = testing::random_tensor({6, 5, 7}, rng);
  npy::write(path("v.npy"), volume);
  filter(path("v.npy") + " --filter sobel --output " + path("out.npy"));
  const Tensor out = npy::read(path("out.npy"));
  ASSERT_EQ(out.shape(), volume.shape());  // a bare (D, H, W) array is one channel, written back without it
  const Tensor expected = filters::apply(filters::named("sobel", 3), volume.reshaped({1, 6, 5, 7}));
  EXPECT_LT(testing::max_abs_difference(out.reshaped({1, 6, 5, 7}), expected), 1e-5);
  // --channels-first: (C, H, W) with C = 2 filtered separately.
  npy::write(path("c.npy"), testing::random_tensor({2, 4, 4}, rng));
  filter(path("c.npy") + " --channels-first --filter box --output " + path("out-c.npy"));
  EXPECT_EQ(npy::read(path("out-c.npy")).shape(), (Shape{2, 4, 4}));
  // A 2D array can become a grey PNG, a 1D array a CSV column.
  npy::write(path("s.npy"), testing::random_tensor({9}, rng));
  filter(path("s.npy") + " --filter smooth --output " + path("out-s.csv"));
  EXPECT_EQ(csv::read(path("out-s.csv")).values.shape(), (Shape{1, 9}));
}

TEST_F(CliFilter, ChannelsLastNpyImages) {
  // numpy/PIL/OpenCV images are (H, W, 3): read channels-last by default (said on stdout), each channel
  // filtered as the same image in (C, H, W), and written back (H, W, C).
  std::mt19937 rng(testing::kSeed);
  const Tensor chw = testing::random_tensor({3, 6, 7}, rng);
  const std::vector<int> to_last{1, 2, 0};
  npy::write(path("hwc.npy"), Tensor::copy_of(chw.view().permuted(to_last)));
  const auto result = run_cli("filter " + path("hwc.npy") + " --filter gaussian --output " + path("out.npy"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("is read as channels_last (H, W, C), an RGB image; --layout none"), std::string::npos)
      << result.output;
  const Tensor expected = filters::apply(filters::named("gaussian", 2), chw);
  const Tensor out = npy::read(path("out.npy"));
  ASSERT_EQ(out.shape(), (Shape{6, 7, 3}));
  EXPECT_LT(testing::max_abs_difference(out, Tensor::copy_of(expected.view().permuted(to_last))), 1e-5);
  // Told explicitly: no note; --layout none reads the same array as one 3D channel.
  const auto told = run_cli("filter " + path("hwc.npy") + " --layout channels_last --filter box --output " +
                            path("out-told.npy"));
  ASSERT_EQ(told.status, 0) << told.output;
  EXPECT_EQ(told.output.find("note:"), std::string::npos) << told.output;
  filter(path("hwc.npy") + " --layout none --filter box --output " + path("out-3d.npy"));
  EXPECT_EQ(npy::read(path("out-3d.npy")).shape(), (Shape{6, 7, 3}));
  const Tensor volume = filters::apply(filters::named("box", 3), npy::read(path("hwc.npy")).reshaped({1, 6, 7, 3}));
  EXPECT_LT(testing::max_abs_difference(npy::read(path("out-3d.npy")).reshaped({1, 6, 7, 3}), volume), 1e-5);
  // An (H, W, 4) RGBA array can be written as a PNG only with 1 or 3 channels; as .npy it round-trips.
  npy::write(path("rgba.npy"), testing::random_tensor({5, 5, 4}, rng));
  filter(path("rgba.npy") + " --filter box --output " + path("out-rgba.npy"));
  EXPECT_EQ(npy::read(path("out-rgba.npy")).shape(), (Shape{5, 5, 4}));
}

TEST_F(CliFilter, NormalizeStretchesToTheFullRange) {
  const Tensor grey = picture(1, 10);
  image::write_png(path("in.png"), grey);
  filter(path("in.png") + " --filter sobel-x --normalize --output " + path("out.png"));
  const Tensor out = image::read(path("out.png"));
  EXPECT_EQ(*std::min_element(out.values().begin(), out.values().end()), 0.0f);
  EXPECT_EQ(*std::max_element(out.values().begin(), out.values().end()), 255.0f);
  EXPECT_EQ(out.values(), expected_png(filters::named("sobel-x", 2), grey, {}, image::Scaling::normalize));
}

TEST_F(CliFilter, CustomKernelsFromTextJsonAndNpy) {
  const Tensor grey = picture(1, 8);
  image::write_png(path("in.png"), grey);
  std::ofstream(path("kt.txt")) << "# sobel-x\n-1 0 1\n-2 0 2\n-1 0 1\n";
  std::ofstream(path("kj.json")) << "[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]";
  npy::write(path("kn.npy"), filters::sobel(2, 1));
  filter(path("in.png") + " --filter sobel-x --output " + path("ref.png"));
  const Tensor reference = image::read(path("ref.png"));
  filter(path("in.png") + " --kernel " + path("kt.txt") + " --kernel " + path("kj.json") + " --kernel " +
         path("kn.npy") + " --output " + path("out.png"));
  for (const char* name : {"out-kt.png", "out-kj.png", "out-kn.png"})
    EXPECT_EQ(image::read(path(name)).values(), reference.values()) << name;
  // One kernel writes --output itself.
  filter(path("in.png") + " --kernel " + path("kj.json") + " --output " + path("one.png"));
  EXPECT_EQ(image::read(path("one.png")).values(), reference.values());
  // A one-row kernel is a horizontal filter: [0, 0, 1] shifts left by one (cross-correlation), clamped at the border.
  std::ofstream(path("shift.txt")) << "0 0 1\n";
  filter(path("in.png") + " --kernel " + path("shift.txt") + " --padding-mode replicate --output " +
         path("out-shift.png"));
  const Tensor shifted = image::read(path("out-shift.png"));
  EXPECT_EQ(shifted.at({0, 3, 2}), grey.at({0, 3, 3}));
  EXPECT_EQ(shifted.at({0, 3, 7}), grey.at({0, 3, 7}));
}

TEST_F(CliFilter, GeometryOptions) {
  std::mt19937 rng(testing::kSeed);
  const Tensor x = testing::random_tensor({8, 8}, rng);
  npy::write(path("x.npy"), x);
  auto shape_with = [&](const std::string& options) {
    filter(path("x.npy") + " --filter box " + options + " --output " + path("out.npy"));
    return npy::read(path("out.npy")).shape();
  };
  EXPECT_EQ(shape_with(""), (Shape{8, 8}));  // padding same by default
  EXPECT_EQ(shape_with("--padding valid"), (Shape{6, 6}));
  EXPECT_EQ(shape_with("--stride 2"), (Shape{4, 4}));
  EXPECT_EQ(shape_with("--padding valid --dilation 2"), (Shape{4, 4}));
  EXPECT_EQ(shape_with("--padding 0,1"), (Shape{6, 8}));
  // --flip and --padding-mode reach the convolution.
  filters::Options flip_zeros;
  flip_zeros.flip = true;
  flip_zeros.padding_mode = PaddingMode::zeros;
  filter(path("x.npy") + " --filter emboss --flip --padding-mode zeros --output " + path("out.npy"));
  const Tensor expected = filters::apply(filters::named("emboss", 2), x.reshaped({1, 8, 8}), flip_zeros);
  EXPECT_LT(testing::max_abs_difference(npy::read(path("out.npy")).reshaped({1, 8, 8}), expected), 1e-5);
}

TEST_F(CliFilter, Errors) {
  image::write_png(path("in.png"), picture(3, 6));
  csv::write(path("in.csv"), {{}, Tensor({1, 4}, 1.0f)});
  std::ofstream(path("junk.png")) << "not a png";
  std::ofstream(path("bad.csv")) << "1,2\n3\n";
  std::ofstream(path("cube.txt")) << "1 1\n1 1\n\n1 1\n1 1\n";
  std::ofstream(path("bad.txt")) << "1 2\n3\n";
  npy::write(path("r4.npy"), Tensor({1, 2, 2, 2}));
  const std::string in = path("in.png"), out = " --output " + path("out.png");
  expect_failure(in + " --filter blur" + out, "unknown filter 'blur'");
  expect_failure(in + out, "no filter given");
  expect_failure(path("missing.png") + " --filter box" + out, "missing.png: cannot open");
  expect_failure(path("junk.png") + " --filter box" + out, "junk.png: cannot decode");
  expect_failure(path("bad.csv") + " --filter smooth --output " + path("out.csv"), "bad.csv:2: has 1 fields");
  expect_failure(path("in.txt") + " --filter box" + out, "expected .png, .jpg");
  expect_failure(in + " --filter box --output " + path("out.jpg"), "expected .png, .csv, .npy, .nii or .nii.gz");
  expect_failure(in + " --filter box --output " + path("out.csv"), "a CSV holds 1D signals");
  expect_failure(path("in.csv") + " --filter smooth" + out, "a PNG needs 2D data");
  expect_failure(in + " --filter box --normalize --output " + path("out.npy"), "--normalize");
  expect_failure(path("r4.npy") + " --filter box --output " + path("out.npy"), "or --layout channels_first");
  expect_failure(path("r4.npy") + " --layout hwc --filter box --output " + path("out.npy"),
                 "--layout='hwc' is not recognised; expected channels_first");
  expect_failure(in + " --layout channels_last --filter box" + out, "--layout applies to .npy inputs");
  expect_failure(path("r4.npy") + " --channels-first --layout channels_last --filter box --output " + path("out.npy"),
                 "--channels-first contradicts --layout channels_last");
  expect_failure(in + " --kernel " + path("cube.txt") + out, "has rank 3");
  expect_failure(in + " --kernel " + path("bad.txt") + out, "bad.txt:2: has 1 numbers");
  expect_failure(in + " --filter box:300" + out, "size=300");
  expect_failure(in + " --filter smooth" + out, "not defined for 2D");
  expect_failure(in + " --filter box --filter box" + out, "give each filter once");
  expect_failure(in + " --filter box --padding 1,2,3" + out, "--padding='1,2,3'");
  expect_failure(in + " --filter box --padding-mode mirror" + out, "mirror");
  expect_failure(in + " --filter box --stride 0" + out, "stride");
  expect_failure(path("in.csv") + " --filter smooth:9 --output " + path("out.csv"), "reflect padding");
  // The second filter fails: the first one's output is not written either.
  expect_failure(in + " --filter box --filter gaussian:7,x" + out, "'x' is not a number");
  // An output that cannot be written: no other output is written either.
  std::filesystem::create_directory(path("out-sharpen.png"));
  const auto result = run_cli("filter " + in + " --filter edge --filter sharpen" + out);
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("out-sharpen.png: cannot write"), std::string::npos) << result.output;
  EXPECT_FALSE(std::filesystem::exists(path("out-edge.png")));
}

// Several outputs are written as one batch: when one cannot be written, an output that existed before
// the run keeps its contents (it used to be written, then deleted).
TEST_F(CliFilter, AFailedWriteKeepsTheOutputsThatExisted) {
  csv::write(path("in.csv"), {{"v"}, Tensor({1, 6}, std::vector<float>{1, 2, 3, 4, 5, 6})});
  std::ofstream(path("out-box-3.csv")) << "old\n";
  std::filesystem::create_directory(path("out-smooth-5.csv"));
  const auto result = run_cli("filter " + path("in.csv") + " --filter box:3 --filter smooth:5 --output " +
                              path("out.csv"));
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("out-smooth-5.csv: cannot write: it is a directory"), std::string::npos)
      << result.output;
  std::ifstream kept(path("out-box-3.csv"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "old\n");
  EXPECT_EQ(dir_.files(), (std::vector<std::string>{"in.csv", "out-box-3.csv", "out-smooth-5.csv"}));
}

// NAME_MAX is 255: a 254-character output name failed because the temporary name was 11 longer.
TEST_F(CliFilter, LongestOutputNamesAreWritten) {
  csv::write(path("in.csv"), {{"v"}, Tensor({1, 6}, 1.0f)});
  const std::string name = std::string(250, 'o') + ".csv";
  filter(path("in.csv") + " --filter box:3 --output " + path(name));
  EXPECT_EQ(dir_.files(), (std::vector<std::string>{"in.csv", name}));
}

// The bytes of an image decide its format, and must agree with its extension; a header cannot claim
// more pixels than the file holds (a 54-byte BMP claiming 8000x8000 took 47 s and wrote 768 MB of zeros).
TEST_F(CliFilter, ImagesMustBeWhatTheyClaim) {
  image::write_png(path("in.png"), picture(1, 4));
  std::filesystem::copy_file(path("in.png"), path("png.jpg"));
  expect_failure(path("png.jpg") + " --filter box --output " + path("out.png"),
                 "png.jpg: the file is a PNG image, but its extension '.jpg' says JPEG; rename it to .png");
  std::ofstream(path("gif.bmp")) << "GIF89a, a GIF's magic number, then its screen descriptor";
  expect_failure(path("gif.bmp") + " --filter box --output " + path("out.png"), "the file is a GIF image");
  std::string header(54, '\0');
  const auto put = [&](size_t at, uint32_t value) {
    for (size_t i = 0; i < 4; ++i) header[at + i] = static_cast<char>(value >> (8 * i));
  };
  header[0] = 'B', header[1] = 'M', header[26] = 1, header[28] = 24;
  put(10, 54), put(14, 40), put(18, 8000), put(22, 8000);
  std::ofstream(path("claim.bmp"), std::ios::binary) << header;
  expect_failure(path("claim.bmp") + " --filter box --output " + path("out.png"),
                 "truncated BMP: the header says 8000x8000 at 24 bits per pixel (192000000 bytes of pixels from "
                 "byte 54) but the file has 0");
}

// A NIfTI volume (int16, big-endian, scaled) filtered as .nii.gz keeps its header (affine, pixdim,
// qform/sform, descrip: every byte but datatype/bitpix/scl) and equals the same data filtered as .npy.
TEST_F(CliFilter, NiftiKeepsItsHeaderAndEqualsTheNpyResult) {
  using namespace testing::nifti_files;
  std::vector<double> values(7 * 6 * 5 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>((i * 37) % 101) - 50.0;
  const std::vector<uint8_t> original = make_nifti({7, 6, 5, 2}, kTypes[1], values, true, 0.5f, 3.0f);
  std::ofstream(path("scan.nii"), std::ios::binary)
      .write(reinterpret_cast<const char*>(original.data()), static_cast<std::streamsize>(original.size()));
  const nifti::Volume volume = nifti::read(path("scan.nii"));
  nifti::write(path("scan.nii.gz"), volume.data, volume.header);
  npy::write(path("scan.npy"), volume.data);  // (T, Z, Y, X) = (2, 5, 6, 7), channels first

  filter(path("scan.nii.gz") + " --filter gaussian:5 --output " + path("result.nii.gz"));
  filter(path("scan.npy") + " --channels-first --filter gaussian:5 --output " + path("result.npy"));
  const nifti::Volume out = nifti::read(path("result.nii.gz"));
  expect_header_kept(original, nifti::serialize(out.data, out.header), true);
  EXPECT_EQ(out.data.shape(), (Shape{2, 5, 6, 7}));
  EXPECT_EQ(out.data.values(), npy::read(path("result.npy")).values());

  // Several filters: the label goes before the whole ".nii.gz".
  filter(path("scan.nii") + " --filter gaussian:3 --filter box:3 --output " + path("many.nii.gz"));
  EXPECT_TRUE(std::filesystem::exists(path("many-gaussian-3.nii.gz")));
  EXPECT_TRUE(std::filesystem::exists(path("many-box-3.nii.gz")));

  expect_failure(path("scan.npy") + " --channels-first --filter gaussian:3 --output " + path("out.nii"),
                 "a NIfTI output keeps the input's header");
  expect_failure(path("scan.nii") + " --filter gaussian:3 --stride 2 --output " + path("out.nii"),
                 "does not match the input's");
  std::ofstream(path("bad.nii"), std::ios::binary)
      .write(reinterpret_cast<const char*>(original.data()), 400);
  expect_failure(path("bad.nii") + " --filter gaussian:3 --output " + path("out.nii"),
                 "the header says 7x6x5x2 int16 (840 bytes from byte 352) but the file has 400");
}

}  // namespace
}  // namespace convkit
