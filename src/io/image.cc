// Image decoding and PNG encoding with stb (Debian libstb: the implementations live in libstb.so, so
// this file only includes the declarations).
#include "convkit/image.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "convkit/error.h"
#include "files.h"

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

void write_to_vector(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

Tensor decode(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    fail(name, ": an image file of ", bytes.size(), " bytes is too large (stb_image reads at most 2 GiB)");
  const int length = static_cast<int>(bytes.size());
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(bytes.data(), length, &width, &height, &stored))
    fail(name, ": cannot decode the image: ", stbi_failure_reason(), " (expected PNG, JPEG or BMP)");
  // Grey (+alpha) -> 1 channel, RGB(A) -> 3: stb_image drops the alpha channel in the conversion.
  const int channels = stored >= 3 ? 3 : 1;
  const std::unique_ptr<stbi_uc, StbFree> pixels(
      stbi_load_from_memory(bytes.data(), length, &width, &height, &stored, channels));
  if (!pixels) fail(name, ": cannot decode the image: ", stbi_failure_reason());
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
  io::write_file_atomically(path, encode_png(image, scaling));
}

}  // namespace convkit::image
