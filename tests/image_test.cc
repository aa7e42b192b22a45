// Image decoding (stb_image) and PNG encoding: round trips, scaling, alpha, and errors.
#include "convkit/image.h"

#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <cstdlib>
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

std::string decode_error(const std::vector<uint8_t>& bytes, std::string_view name) {
  try {
    image::decode(bytes, name);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void put_le32(std::vector<uint8_t>& bytes, size_t at, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

// A BMP file header and BITMAPINFOHEADER (54 bytes) for width x height at 24 bits, without pixels.
std::vector<uint8_t> bmp_header(uint32_t width, int32_t height) {
  std::vector<uint8_t> bytes(54, 0);
  bytes[0] = 'B', bytes[1] = 'M';
  put_le32(bytes, 2, 54);
  put_le32(bytes, 10, 54);  // pixels start right after the headers
  put_le32(bytes, 14, 40);
  put_le32(bytes, 18, width);
  put_le32(bytes, 22, static_cast<uint32_t>(height));
  bytes[26] = 1;   // planes
  bytes[28] = 24;  // bits per pixel
  return bytes;
}

// stb_image reads missing pixels as zeros: a 54-byte header claiming 8000x8000 took 47 s and 3 GB and
// gave an image of zeros. Every row must be in the file.
TEST(ImageTruncation, BmpPixelsMustAllBePresent) {
  EXPECT_NE(decode_error(bmp_header(2000, 2000), "big.bmp")
                .find("big.bmp: truncated BMP: the header says 2000x2000 at 24 bits per pixel (12000000 bytes of "
                      "pixels from byte 54) but the file has 0"),
            std::string::npos)
      << decode_error(bmp_header(2000, 2000), "big.bmp");
  // 3x2 pixels: rows of 9 bytes padded to 12. One byte short is truncated; top-down (negative height) too.
  std::vector<uint8_t> bmp = bmp_header(3, 2);
  bmp.resize(54 + 24, 7);
  EXPECT_EQ(image::decode(bmp).shape(), (Shape{3, 2, 3}));
  bmp.pop_back();
  EXPECT_NE(decode_error(bmp, "b.bmp").find("but the file has 23"), std::string::npos) << decode_error(bmp, "b.bmp");
  std::vector<uint8_t> top_down = bmp_header(3, -2);
  top_down.resize(54 + 23, 7);
  EXPECT_NE(decode_error(top_down, "t.bmp").find("3x2 at 24 bits"), std::string::npos);
  top_down.push_back(7);
  EXPECT_EQ(image::decode(top_down).shape(), (Shape{3, 2, 3}));
  EXPECT_NE(decode_error(bmp_header(0, 5), "z.bmp").find("expected at least 1x1"), std::string::npos);
}

// stb_image also decoded a 29 KB JPEG claiming 30000x20000 (198 s, 2.6 GB): a JPEG has at least one bit
// per 8x8 block, a PNG at least 1/1032 of its pixel bytes, and no image more than 2^28 samples.
TEST(ImageTruncation, PngAndJpegCannotClaimMorePixelsThanTheirBytesHold) {
  std::vector<uint8_t> png;
  const std::vector<uint8_t> grey(1, 9);
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 1, 1, 1, grey.data(), 1));
  // IHDR: width and height as 32-bit big-endian at 16 and 20; the high halves stay 0.
  std::vector<uint8_t> big_png = png;
  big_png[18] = 0x3e, big_png[19] = 0x80, big_png[22] = 0x3e, big_png[23] = 0x80;  // 16000 x 16000
  EXPECT_NE(decode_error(big_png, "p.png").find("p.png: truncated PNG: the header says 16000x16000"),
            std::string::npos)
      << decode_error(big_png, "p.png");
  big_png[18] = big_png[22] = 0x7f;  // 32640 x 32640 > 2^28 samples
  EXPECT_NE(decode_error(big_png, "p.png").find("convkit decodes at most 268435456"), std::string::npos)
      << decode_error(big_png, "p.png");

  std::vector<uint8_t> jpeg;
  const std::vector<uint8_t> flat(8 * 8 * 3, 120);
  ASSERT_TRUE(stbi_write_jpg_to_func(append, &jpeg, 8, 8, 3, flat.data(), 90));
  size_t sof = 2;  // walk the marker segments to the frame header (SOF0): FF C0, length, precision, H, W
  while (jpeg[sof + 1] != 0xc0) sof += 2 + (size_t{jpeg[sof + 2]} << 8 | jpeg[sof + 3]);
  std::vector<uint8_t> big_jpeg = jpeg;
  big_jpeg[sof + 5] = big_jpeg[sof + 7] = 4000 >> 8;
  big_jpeg[sof + 6] = big_jpeg[sof + 8] = 4000 & 0xff;
  EXPECT_NE(decode_error(big_jpeg, "j.jpg").find("j.jpg: truncated JPEG: the header says 4000x4000 (250000 blocks"),
            std::string::npos)
      << decode_error(big_jpeg, "j.jpg");
}

// The bytes decide the format and the extension must agree: a GIF named .bmp was decoded, a PNG named
// .jpg too.
TEST(ImageFormat, BytesAndExtensionMustAgree) {
  std::vector<uint8_t> png;
  const std::vector<uint8_t> grey(4, 9);
  ASSERT_TRUE(stbi_write_png_to_func(append, &png, 2, 2, 1, grey.data(), 2));
  EXPECT_EQ(image::decode(png, "picture.PNG").shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(image::decode(png, "no-extension").shape(), (Shape{1, 2, 2}));
  EXPECT_NE(decode_error(png, "photo.jpg")
                .find("photo.jpg: the file is a PNG image, but its extension '.jpg' says JPEG; rename it to .png"),
            std::string::npos)
      << decode_error(png, "photo.jpg");
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
  EXPECT_NE(decode_error(gif, "x.bmp").find("x.bmp: cannot decode: the file is a GIF image; expected PNG, JPEG or BMP"),
            std::string::npos)
      << decode_error(gif, "x.bmp");
  const std::string junk("\x1b[31mred\0", 9);
  EXPECT_NE(decode_error({junk.begin(), junk.end()}, "j.png").find("starts with \"\\x1b[31mred\\x00\""),
            std::string::npos)
      << decode_error({junk.begin(), junk.end()}, "j.png");
  EXPECT_NE(decode_error({}, "e.png").find("e.png: cannot decode: the file is empty"), std::string::npos);
}

TEST(Image, WritePngIsAtomic) {
  const testing::ScratchDir dir;
  image::write_png(dir.file("a.png"), integer_image(3, 4, 5));
  EXPECT_EQ(image::read(dir.file("a.png")).values(), integer_image(3, 4, 5).values());
  EXPECT_THROW(image::write_png(dir.file("missing/b.png"), integer_image(1, 2, 2)), Error);
  EXPECT_THROW(image::write_png(dir.file("c.png"), Tensor({4, 2, 2})), Error);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"a.png"}));
}


// A PNG from its parts: signature, IHDR, one IDAT holding `zlib`, IEND (stb_image does not check CRCs,
// so they are left zero).
// A PNG of the given header and IDAT data; `apple` puts a CgBI chunk first (then the IDAT data is raw
// deflate, without zlib's header).
std::vector<uint8_t> png_of(uint32_t width, uint32_t height, uint8_t colour_type, bool interlaced,
                            const std::vector<uint8_t>& zlib, bool apple = false) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const auto chunk = [&](std::string_view type, const std::vector<uint8_t>& data) {
    for (int shift : {24, 16, 8, 0}) png.push_back(static_cast<uint8_t>(data.size() >> shift));
    png.insert(png.end(), type.begin(), type.end());
    png.insert(png.end(), data.begin(), data.end());
    png.insert(png.end(), 4, 0);
  };
  std::vector<uint8_t> ihdr;
  for (uint32_t v : {width, height})
    for (int shift : {24, 16, 8, 0}) ihdr.push_back(static_cast<uint8_t>(v >> shift));
  ihdr.insert(ihdr.end(), {8, colour_type, 0, 0, static_cast<uint8_t>(interlaced)});
  if (apple) chunk("CgBI", {0x50, 0x00, 0x20, 0x06});
  chunk("IHDR", ihdr);
  chunk("IDAT", zlib);
  chunk("IEND", {});
  return png;
}

}  // namespace
}  // namespace convkit

// Debian's libstb exports stb_image_write's zlib compressor, but its header declares it only in the
// implementation part.
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace convkit {
namespace {

std::vector<uint8_t> zlib_of(const std::vector<uint8_t>& raw) {
  int size = 0;
  unsigned char* packed =
      stbi_zlib_compress(const_cast<uint8_t*>(raw.data()), static_cast<int>(raw.size()), &size, 8);
  std::vector<uint8_t> zlib(packed, packed + size);
  std::free(packed);
  return zlib;
}

// Debian 12's stb_image reallocs its IDAT buffer to the size a chunk's length field claims before reading
// it (a 73-byte PNG asked for 1.2 GB; found by the image fuzzer), and inflates the pixel stream into a
// buffer that doubles for as long as the stream goes on (a small PNG claiming 1x1 may inflate to
// gigabytes). convkit walks the chunks against the file's size, and inflates into the size the header
// implies first, Adam7 passes included.
TEST(ImageTruncation, PngChunksAndPixelStreamMustFitTheFileAndTheHeader) {
  const std::vector<uint8_t> long_chunk = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
      0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0xb8, 0x1f, 0x39, 0x49, 0x49, 0x2a, 0x00,
      0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x68, 0xf8, 0xcf, 0xf0, 0xbf, 0x81, 0x01, 0x00, 0x0c,
      0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x18, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
      0x82};
  EXPECT_NE(decode_error(long_chunk, "l.png")
                .find("l.png: truncated PNG: the IDAT chunk at byte 33 says 1227489296 bytes but the file ends"),
            std::string::npos)
      << decode_error(long_chunk, "l.png");

  // A 1x1 grey PNG whose stream inflates to 1 MiB: 1 KiB of file, within deflate's 1032:1.
  const std::vector<uint8_t> bomb = png_of(1, 1, 0, false, zlib_of(std::vector<uint8_t>(1 << 20, 0)));
  EXPECT_NE(decode_error(bomb, "b.png").find("b.png: corrupt PNG: its compressed pixels ("), std::string::npos)
      << decode_error(bomb, "b.png");
  EXPECT_NE(decode_error(bomb, "b.png").find("do not inflate to a stream that ends within 65538 bytes (the "
                                             "header's 1x1 needs 2)"),
            std::string::npos)
      << decode_error(bomb, "b.png");

  // A second IHDR (stb_image refuses it) must not size the buffer: 0x08000004 x 3 RGB would be 1.5 GB.
  std::vector<uint8_t> two_headers = png_of(4, 3, 2, false, zlib_of(std::vector<uint8_t>(39, 1)));
  const std::vector<uint8_t> huge_header = {0, 0, 0, 13, 'I', 'H', 'D', 'R', 8, 0, 0, 4, 0, 0, 0, 3, 8, 2, 0, 0, 0,
                                            0, 0, 0, 0};
  two_headers.insert(two_headers.begin() + 33, huge_header.begin(), huge_header.end());
  EXPECT_NE(decode_error(two_headers, "h.png").find("h.png: cannot decode the PNG image"), std::string::npos)
      << decode_error(two_headers, "h.png");

  // Apple's CgBI chunk before the IHDR (stb_image reads such files): the header is still found, so the
  // same bounds hold. A 3x2 grey image decodes as the plain PNG does; claiming 16000x16000 is refused.
  const std::vector<uint8_t> rows = {0, 1, 2, 3, 0, 4, 5, 6};  // filter byte 0, then 3 pixels, per row
  const std::vector<uint8_t> zlib = zlib_of(rows);
  // Without zlib's 2-byte header; Debian's stb_image needs the bytes after the deflate data (here the
  // Adler-32) to read its last code, and says "bad huffman code" without them.
  const std::vector<uint8_t> deflate(zlib.begin() + 2, zlib.end());
  const Tensor apple = image::decode(png_of(3, 2, 0, false, deflate, true), "a.png");
  EXPECT_EQ(apple.values(), image::decode(png_of(3, 2, 0, false, zlib), "z.png").values());
  EXPECT_EQ(apple.values(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_NE(decode_error(png_of(16000, 16000, 0, false, deflate, true), "a.png")
                .find("a.png: truncated PNG: the header says 16000x16000 (256016000 bytes of filtered pixels) but its "
                      "compressed pixels are"),
            std::string::npos)
      << decode_error(png_of(16000, 16000, 0, false, deflate, true), "a.png");

  // 5x3 grey, Adam7 (PNG spec 8.2): 22 filtered bytes in six non-empty passes (the third starts at row
  // 4). Filter bytes 0; the pixel at (x, y) is 10 * y + x.
  const auto pixel = [](int x, int y) { return static_cast<uint8_t>(10 * y + x); };
  std::vector<uint8_t> raw;
  const int passes[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                            {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};  // x0, y0, dx, dy
  for (const auto& p : passes) {
    for (int y = p[1]; y < 3; y += p[3]) {
      if (p[0] >= 5) continue;
      raw.push_back(0);
      for (int x = p[0]; x < 5; x += p[2]) raw.push_back(pixel(x, y));
    }
  }
  const Tensor interlaced = image::decode(png_of(5, 3, 0, true, zlib_of(raw)), "i.png");
  ASSERT_EQ(interlaced.shape(), (Shape{1, 3, 5}));
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(interlaced[y * 5 + x], pixel(x, y)) << x << "," << y;

  // One pixel short: the stream ends, but before the pixels the header needs.
  raw.pop_back();
  EXPECT_NE(decode_error(png_of(5, 3, 0, true, zlib_of(raw)), "s.png")
                .find("s.png: truncated PNG: its compressed pixels inflate to 21 bytes, but the header's 5x3 needs 22"),
            std::string::npos)
      << decode_error(png_of(5, 3, 0, true, zlib_of(raw)), "s.png");
}
}  // namespace
}  // namespace convkit
