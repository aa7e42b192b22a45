// Images as tensors: decoding PNG, JPEG and BMP files (stb_image) into channels_first float tensors, and
// encoding tensors as 8-bit PNG files (stb_image_write).
//
// An image tensor is (C, H, W) in channels_first order (PyTorch's torchvision.io layout), values as float
// 0..255 (8-bit samples; 16-bit PNGs are reduced to 8 bits by stb_image). C is 1 (grey) or 3 (RGB).
// Alpha is dropped on reading: grey+alpha becomes grey and RGBA becomes RGB, keeping the stored colour
// values as they are (not composited over a background), so a filter sees the colours, not the mask.
// Writers also accept a leading batch axis of 1, (1, C, H, W).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/tensor.h"

namespace convkit::image {

// Decodes an image file's contents: PNG, JPEG or BMP, known by the file's first bytes (a magic number).
// `name` prefixes every error message (a path, usually); when its extension names an image format, the
// bytes must be in that format (a PNG named .jpg is an error). Rejected before anything is decoded: an
// image of more than 2^28 samples (C * H * W), and a header claiming more pixels than the file can hold
// (a BMP's rows must all be present; a PNG cannot be smaller than 1/1032 of its pixel bytes, the most
// deflate compresses; a JPEG has at least one bit per 8x8 block), which stb_image would fill with zeros.
Tensor decode(std::span<const uint8_t> bytes, std::string_view name = "<memory>");

// Reads the file at `path` and decodes it; errors name the path.
Tensor read(const std::string& path);

// How float values become 8-bit samples.
enum class Scaling {
  clamp,      // round to the nearest integer and clamp to 0..255 (NaN -> 0)
  normalize,  // stretch [min, max] of the finite values to [0, 255] over all channels together (one
              // range keeps the colour balance); a constant image becomes 0
};

// The 8-bit samples of `image` (C, H, W) or (1, C, H, W), C = 1 or 3, interleaved as H x W x C.
std::vector<uint8_t> to_bytes(ConstTensorView image, Scaling scaling = Scaling::clamp);

// The PNG file contents for `image` (C, H, W) or (1, C, H, W), C = 1 (grey) or 3 (RGB).
std::vector<uint8_t> encode_png(ConstTensorView image, Scaling scaling = Scaling::clamp);

// Writes encode_png(image, scaling) to `path` atomically (files::write_atomically, convkit/files.h), so a
// failure leaves no partial file; errors name the path.
void write_png(const std::string& path, ConstTensorView image, Scaling scaling = Scaling::clamp);

}  // namespace convkit::image
