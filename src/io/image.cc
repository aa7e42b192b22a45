// Image decoding and PNG encoding with stb (Debian libstb: the implementations live in libstb.so, so
// this file only includes the declarations).
#include "convkit/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>

#include "convkit/error.h"
#include "convkit/files.h"
#include "files.h"
#include "png_stream.h"

namespace convkit::image {
namespace {

// stb_image refuses larger sides (STBI_MAX_DIMENSIONS); the writer takes int sizes and strides.
constexpr int64_t kMaxSide = int64_t{1} << 24;

struct StbFree {
  void operator()(stbi_uc* pixels) const { stbi_image_free(pixels); }
};

// `image` as a (C, H, W) view, from (C, H, W) or (1, C, H, W); an Error names `context` otherwise.
ConstTensorView chw_view(const ConstTensorView& image, std::string_view context) {
  const Shape& s = image.shape();
  const bool batched = s.size() == 4 && s[0] == 1;
  if (s.size() != 3 && !batched) fail(context, ": an image must have shape (C, H, W) or (1, C, H, W), but got ", s);
  const Shape chw(s.end() - 3, s.end());
  if (chw[0] != 1 && chw[0] != 3)
    fail(context, ": an image of shape ", s, " has ", chw[0], " channels; expected 1 (grey) or 3 (RGB)");
  if (chw[1] < 1 || chw[2] < 1 || chw[1] > kMaxSide || chw[2] > kMaxSide)
    fail(context, ": an image of shape ", s, " must have height and width in 1..", kMaxSide);
  return {image.data(), chw, Shape(image.strides().end() - 3, image.strides().end())};
}

// The 8-bit samples of a (C, H, W) view, interleaved as H x W x C.
std::vector<uint8_t> samples(const ConstTensorView& chw, Scaling scaling) {
  const Tensor values = Tensor::copy_of(chw);
  float low = 0.0f, scale = 1.0f;
  if (scaling == Scaling::normalize) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (float v : values.values())
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    low = lo;
    scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
  }
  const int64_t channels = chw.dim(0), plane = chw.dim(1) * chw.dim(2);
  std::vector<uint8_t> bytes(static_cast<size_t>(values.numel()));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t p = 0; p < plane; ++p) {
      const float v = (values[c * plane + p] - low) * scale;
      const float clamped = v > 0.0f ? std::min(v, 255.0f) : 0.0f;  // NaN compares false: it becomes 0
      bytes[static_cast<size_t>(p * channels + c)] = static_cast<uint8_t>(std::lround(clamped));
    }
  }
  return bytes;
}

// The largest image decode() accepts: 2^28 samples (16384 x 16384 grey, 9459 x 9459 RGB), 1 GiB as a
// float tensor.
constexpr int64_t kMaxSamples = int64_t{1} << 28;

uint32_t little_endian(std::span<const uint8_t> bytes, size_t at, size_t size) {
  uint32_t value = 0;
  for (size_t i = size; i-- > 0;) value = value << 8 | bytes[at + i];
  return value;
}

// stb_image reads missing BMP pixels as zeros: a 54-byte header claiming 8000x8000 would decode to 192 MB
// of zeros. The pixel rows (each padded to 4 bytes) must all be in the file, from the offset the header
// gives. Headers: 14 bytes of file header, then the info header (BITMAPCOREHEADER, 12 bytes, has 16-bit
// sizes; BITMAPINFOHEADER and its V2-V5 extensions, 40-124 bytes, 32-bit sizes, a negative height for
// top-down rows).
void check_bmp(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() < 18) fail(name, ": truncated BMP: the file has ", bytes.size(), " bytes, fewer than its header");
  const uint32_t info_size = little_endian(bytes, 14, 4);
  const bool core = info_size == 12;
  if (bytes.size() < 14 + size_t{info_size})
    fail(name, ": truncated BMP: the file has ", bytes.size(), " bytes, fewer than its ", 14 + size_t{info_size},
         " bytes of headers");
  // (int64_t on both sides: a conditional of uint32_t and int32_t would be unsigned.)
  const auto signed_at = [&](size_t at) { return int64_t{static_cast<int32_t>(little_endian(bytes, at, 4))}; };
  const int64_t width = core ? int64_t{little_endian(bytes, 18, 2)} : signed_at(18);
  const int64_t height = core ? int64_t{little_endian(bytes, 20, 2)} : signed_at(22);
  const uint32_t bits = little_endian(bytes, core ? 24 : 28, 2);
  if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32)
    fail(name, ": BMP with ", bits, " bits per pixel; expected 1, 4, 8, 16, 24 or 32");
  if (width < 1 || height == 0 || height == std::numeric_limits<int32_t>::min())
    fail(name, ": the BMP header says ", width, "x", height, "; expected at least 1x1");
  const int64_t row = (width * bits + 31) / 32 * 4;  // < 2^37: width < 2^31, bits <= 32
  int64_t needed = 0;
  if (__builtin_mul_overflow(row, std::abs(height), &needed)) needed = std::numeric_limits<int64_t>::max();
  const int64_t offset = little_endian(bytes, 10, 4);
  const int64_t present = std::max<int64_t>(0, static_cast<int64_t>(bytes.size()) - offset);
  if (present < needed)
    fail(name, ": truncated BMP: the header says ", width, "x", std::abs(height), " at ", bits, " bits per pixel (",
         needed, " bytes of pixels from byte ", offset, ") but the file has ", present);
}

// stb_image reads missing JPEG data as zeros too. Every 8x8 block of the largest component costs at least
// one bit (a DC code; Huffman codes are 1-16 bits, and stb_image reads no arithmetic coding).
void check_jpeg(std::span<const uint8_t> bytes, int64_t width, int64_t height, std::string_view name) {
  const int64_t blocks = ((width + 7) / 8) * ((height + 7) / 8);
  if (blocks > static_cast<int64_t>(bytes.size()) * 8)
    fail(name, ": truncated JPEG: the header says ", width, "x", height, " (", blocks,
         " blocks of 8x8, at least one bit each) but the file has only ", bytes.size(), " bytes");
}

// The formats decode() reads, known by their first bytes. stb_image reads a few more, but TGA has no
// magic number at all (any bytes might be one) and the rest are rare; naming them gives a clearer error.
struct Format {
  std::string_view name;
  std::string_view magic;
  std::array<std::string_view, 3> extensions;  // lower case; the first is the usual one
};
using namespace std::string_view_literals;
constexpr std::array<Format, 3> kFormats = {{
    {"PNG", "\x89PNG\r\n\x1a\n"sv, {".png"}},
    {"JPEG", "\xff\xd8\xff"sv, {".jpg", ".jpeg", ".jpe"}},
    {"BMP", "BM"sv, {".bmp", ".dib"}},
}};
constexpr std::array<Format, 6> kOtherFormats = {{
    {"GIF", "GIF8"sv, {".gif"}},
    {"TIFF", "II*\0"sv, {".tif", ".tiff"}},
    {"TIFF", "MM\0*"sv, {".tif", ".tiff"}},
    {"Photoshop", "8BPS"sv, {".psd"}},
    {"PGM", "P5"sv, {".pgm"}},
    {"PPM", "P6"sv, {".ppm"}},
}};

const Format* by_magic(std::span<const Format> formats, std::string_view bytes) {
  for (const Format& format : formats)
    if (bytes.starts_with(format.magic)) return &format;
  return nullptr;
}

const Format* by_extension(std::span<const Format> formats, std::string_view extension) {
  if (extension.empty()) return nullptr;  // (unused slots of `extensions` are empty)
  for (const Format& format : formats)
    if (std::find(format.extensions.begin(), format.extensions.end(), extension) != format.extensions.end())
      return &format;
  return nullptr;
}

// The format of `bytes`, which the extension of `name`, when it names an image format, must agree with:
// a GIF named .bmp or a PNG named .jpg is an error, not decoded as whatever its bytes are.
const Format& agreed_format(std::span<const uint8_t> bytes, std::string_view name) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::string extension = std::filesystem::path(name).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const Format* format = by_magic(kFormats, text);
  const Format* named = by_extension(kFormats, extension);
  if (!named) named = by_extension(kOtherFormats, extension);
  if (!format) {
    if (const Format* other = by_magic(kOtherFormats, text))
      fail(name, ": cannot decode: the file is a ", other->name, " image; expected PNG, JPEG or BMP");
    if (text.empty()) fail(name, ": cannot decode: the file is empty; expected a PNG, JPEG or BMP image");
    fail(name, ": cannot decode: not a PNG, JPEG or BMP image (the file starts with \"", escaped(text, 16), "\")");
  }
  if (named && named != format)
    fail(name, ": the file is a ", format->name, " image, but its extension '", extension, "' says ", named->name,
         "; rename it to ", format->extensions[0]);
  return *format;
}

// Rejects, before stb_image allocates anything, an image larger than kMaxSamples or than its file can
// hold.
void check_size(std::span<const uint8_t> bytes, const Format& format, int width, int height, int channels,
                std::string_view name) {
  if (format.name == "BMP") {
    check_bmp(bytes, name);
    height = std::abs(height);  // checked above: not INT32_MIN; negative for top-down rows
  }
  if (width < 1 || height < 1)
    fail(name, ": the ", format.name, " header says ", width, "x", height, "; expected at least 1x1");
  // < 2^50: PNG sides are < 2^24 (stb_image checks), JPEG sides < 2^16, and a BMP's pixels are in its
  // file (< 2^31 bytes, checked above).
  const int64_t samples = int64_t{width} * height * channels;
  if (samples > kMaxSamples)
    fail(name, ": the ", format.name, " header says ", width, "x", height, " with ", channels, " channels (", samples,
         " samples); convkit decodes at most ", kMaxSamples, " (e.g. 16384 x 16384 grey)");
  if (format.name == "PNG") check_png_stream(bytes, name);
  if (format.name == "JPEG") check_jpeg(bytes, width, height, name);
}

void write_to_vector(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

Tensor decode(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail(name, ": an image file of ", bytes.size(), " bytes is too large (stb_image reads at most 2 GiB)");
  const Format& format = agreed_format(bytes, name);
  const int length = static_cast<int>(bytes.size());
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(bytes.data(), length, &width, &height, &stored))
    fail(name, ": cannot decode the ", format.name, " image: ", stbi_failure_reason());
  // Grey (+alpha) -> 1 channel, RGB(A) -> 3: stb_image drops the alpha channel in the conversion.
  const int channels = stored >= 3 ? 3 : 1;
  check_size(bytes, format, width, height, channels, name);
  const std::unique_ptr<stbi_uc, StbFree> pixels(
      stbi_load_from_memory(bytes.data(), length, &width, &height, &stored, channels));
  if (!pixels) fail(name, ": cannot decode the ", format.name, " image: ", stbi_failure_reason());
  Tensor image({channels, height, width});
  const int64_t plane = int64_t{height} * width;
  for (int64_t p = 0; p < plane; ++p)
    for (int c = 0; c < channels; ++c) image[c * plane + p] = pixels.get()[p * channels + c];
  return image;
}

Tensor read(const std::string& path) { return decode(io::read_file(path), path); }

std::vector<uint8_t> to_bytes(ConstTensorView image, Scaling scaling) {
  return samples(chw_view(image, "image::to_bytes"), scaling);
}

std::vector<uint8_t> encode_png(ConstTensorView image, Scaling scaling) {
  const ConstTensorView chw = chw_view(image, "image::encode_png");
  const std::vector<uint8_t> pixels = samples(chw, scaling);
  const int channels = static_cast<int>(chw.dim(0)), height = static_cast<int>(chw.dim(1));
  const int width = static_cast<int>(chw.dim(2));
  std::vector<uint8_t> png;
  if (!stbi_write_png_to_func(write_to_vector, &png, width, height, channels, pixels.data(), width * channels))
    fail("image::encode_png: stb_image_write could not encode an image of shape ", image.shape());
  return png;
}

void write_png(const std::string& path, ConstTensorView image, Scaling scaling) {
  chw_view(image, path);  // shape errors name the path
  files::write_atomically(path, encode_png(image, scaling));
}

}  // namespace convkit::image
