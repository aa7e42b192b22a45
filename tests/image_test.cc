// Image decoding (stb_image) and PNG encoding: round trips, scaling, alpha, and errors.
#include "convkit/image.h"

#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <filesystem>

#include "convkit/error.h"
#include "scratch_dir.h"
#include "test_support.h"

namespace convkit {
namespace {

// An image tensor with integer samples 0..255.
Tensor integer_image(int64_t channels, int64_t height, int64_t width) {
  Tensor t({channels, height, width});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>((i * 37 + 11) % 256);
  return t;
}

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

TEST(Image, PngRoundTripGreyAndRgb) {
  for (int64_t channels : {1, 3}) {
    const Tensor image = integer_image(channels, 5, 7);
    const Tensor back = image::decode(image::encode_png(image));
    EXPECT_EQ(back.shape(), image.shape());
    EXPECT_EQ(back.values(), image.values());
  }
  const Tensor batched = integer_image(3, 4, 4).reshaped({1, 3, 4, 4});
  EXPECT_EQ(image::decode(image::encode_png(batched)).values(), batched.values());
}

TEST(Image, ClampRoundsAndNormalizeStretches) {
  const Tensor grey({1, 1, 6}, std::vector<float>{-5, 300, 12.4f, 12.6f, NAN, INFINITY});
  EXPECT_EQ(image::to_bytes(grey), (std::vector<uint8_t>{0, 255, 12, 13, 0, 255}));
  const Tensor ramp({1, 1, 3}, std::vector<float>{-10, 0, 10});
  EXPECT_EQ(image::to_bytes(ramp, image::Scaling::normalize), (std::vector<uint8_t>{0, 128, 255}));
  EXPECT_EQ(image::to_bytes(Tensor({1, 2, 2}, 7.0f), image::Scaling::normalize), (std::vector<uint8_t>(4, 0)));
  // One range for all channels, interleaved H x W x C.
  const Tensor rgb({3, 1, 1}, std::vector<float>{0, 50, 100});
  EXPECT_EQ(image::to_bytes(rgb, image::Scaling::normalize), (std::vector<uint8_t>{0, 128, 255}));
}

TEST(Image, AlphaIsDroppedAndOtherFormatsDecode) {
  const std::vector<uint8_t> rgba = {10, 20, 30, 0, 40, 50, 60, 255};  // 2x1 RGBA
  std::vector<uint8_t> png;
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 2, 1, 4, rgba.data(), 8));
  EXPECT_EQ(image::decode(png).values(), (std::vector<float>{10, 40, 20, 50, 30, 60}));
  const std::vector<uint8_t> grey_alpha = {90, 0, 91, 128};
  png.clear();
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 2, 1, 2, grey_alpha.data(), 4));
  EXPECT_EQ(image::decode(png).values(), (std::vector<float>{90, 91}));
  std::vector<uint8_t> bmp;
  const std::vector<uint8_t> rgb = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(stbi_write_bmp_to_func(append, &bmp, 2, 1, 3, rgb.data()));
  EXPECT_EQ(image::decode(bmp).values(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  std::vector<uint8_t> jpeg;
  const std::vector<uint8_t> flat(8 * 8 * 3, 120);
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpeg, 8, 8, 3, flat.data(), 100));
  const Tensor decoded = image::decode(jpeg);
  EXPECT_EQ(decoded.shape(), (Shape{3, 8, 8}));
  for (float v : decoded.values()) EXPECT_NEAR(v, 120.0f, 2.0f);
}

TEST(Image, Errors) {
  const std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'p', 'n', 'g'};
  try {
    image::decode(junk, "junk.png");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.png: cannot decode"), std::string::npos) << e.what();
  }
  EXPECT_THROW(image::encode_png(Tensor({2, 3, 3})), Error);  // 2 channels
  EXPECT_THROW(image::encode_png(Tensor({3, 3})), Error);     // no channel axis
  EXPECT_THROW(image::encode_png(Tensor({3, 0, 3})), Error);
  EXPECT_THROW(image::read("/nonexistent/convkit.png"), Error);
}

TEST(Image, WritePngIsAtomic) {
  const testing::ScratchDir dir;
  image::write_png(dir.file("a.png"), integer_image(3, 4, 5));
  EXPECT_EQ(image::read(dir.file("a.png")).values(), integer_image(3, 4, 5).values());
  EXPECT_THROW(image::write_png(dir.file("missing/b.png"), integer_image(1, 2, 2)), Error);
  EXPECT_THROW(image::write_png(dir.file("c.png"), Tensor({4, 2, 2})), Error);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"a.png"}));
}

}  // namespace
}  // namespace convkit
