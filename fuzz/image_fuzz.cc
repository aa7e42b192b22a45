// libFuzzer target for image decoding (PNG, JPEG, BMP and the other formats stb_image reads). Any input
// must either decode or raise convkit::Error; a crash, a sanitizer report, an exception of another
// type, or memory or time that grows with what a header claims rather than with the bytes given
// (libFuzzer's -rss_limit_mb, -malloc_limit_mb and -timeout) is a bug. A decoded image must be
// (C, H, W) with C = 1 or 3 and 8-bit sample values, and must survive a PNG round trip exactly.
// The first byte picks the file name's extension (the reader checks that bytes and extension agree),
// the rest are the file's bytes.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <span>

#include "convkit/error.h"
#include "convkit/image.h"

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "image_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* const names[] = {"fuzz.png", "fuzz.jpg", "fuzz.bmp", "fuzz.gif", "fuzz.pgm", "fuzz"};
  const char* name = names[data[0] % std::size(names)];
  convkit::Tensor image;
  try {
    image = convkit::image::decode(std::span<const uint8_t>(data + 1, size - 1), name);
  } catch (const convkit::Error&) {
    return 0;
  }
  const convkit::Shape& s = image.shape();
  if (s.size() != 3 || (s[0] != 1 && s[0] != 3) || s[1] < 1 || s[2] < 1) bug("decoded shape is not (1|3, H, W)");
  for (int64_t i = 0; i < image.numel(); ++i)
    if (!(image[i] >= 0.0f && image[i] <= 255.0f && image[i] == static_cast<float>(static_cast<int>(image[i]))))
      bug("a decoded sample is not an integer in 0..255");
  const convkit::Tensor again = convkit::image::decode(convkit::image::encode_png(image), "round trip.png");
  if (again.shape() != image.shape()) bug("PNG round trip changed the shape");
  for (int64_t i = 0; i < image.numel(); ++i)
    if (again[i] != image[i]) bug("PNG round trip changed a sample");
  return 0;
}
