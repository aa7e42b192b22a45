// The PNG layout read here (PNG specification, W3C 2003, sections 5 and 8): an 8-byte signature, then
// chunks of length (4 bytes, big-endian), type (4), data, CRC (4); IHDR first (width, height, bit depth,
// colour type, compression, filter, interlace); the zlib stream is the concatenation of all IDAT data.
// Apple's "CgBI" PNGs put a CgBI chunk before the IHDR and carry raw deflate without the zlib header;
// stb_image reads them too (it skips CgBI chunks and takes the first other chunk as the header, which
// must be the only IHDR), so the header is found here the same way.
#include "png_stream.h"

#include <stb_image.h>

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include "convkit/error.h"

namespace convkit::image {
namespace {

uint32_t big_endian(std::span<const uint8_t> bytes, size_t at) {
  return uint32_t{bytes[at]} << 24 | uint32_t{bytes[at + 1]} << 16 | uint32_t{bytes[at + 2]} << 8 | bytes[at + 3];
}

struct Header {
  int64_t width = 0, height = 0, depth = 0, channels = 0;
  bool interlaced = false;
};

// Samples per pixel by colour type: 0 grey, 2 RGB, 3 palette index, 4 grey + alpha, 6 RGBA.
int64_t channels_of(uint8_t colour_type) {
  static constexpr std::array<int64_t, 7> kChannels = {1, 0, 3, 1, 2, 0, 4};
  return colour_type < kChannels.size() ? kChannels[colour_type] : 0;
}

// Filtered bytes of a w x h (sub)image: each row starts with a filter-type byte.
int64_t filtered_bytes(const Header& h, int64_t width, int64_t height) {
  if (width == 0 || height == 0) return 0;
  return height * (1 + (width * h.channels * h.depth + 7) / 8);
}

// The inflated size the header implies: one image, or Adam7's seven passes (spec section 8.2), each
// with its own rows and filter bytes; an empty pass contributes nothing.
int64_t inflated_size(const Header& h) {
  if (!h.interlaced) return filtered_bytes(h, h.width, h.height);
  struct Pass { int64_t x0, y0, dx, dy; };
  static constexpr std::array<Pass, 7> kAdam7 = {
      {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}};
  int64_t total = 0;
  for (const Pass& p : kAdam7) {
    const int64_t w = std::max<int64_t>(0, (h.width - p.x0 + p.dx - 1) / p.dx);
    const int64_t rows = std::max<int64_t>(0, (h.height - p.y0 + p.dy - 1) / p.dy);
    total += filtered_bytes(h, w, rows);
  }
  return total;
}

}  // namespace

void check_png_stream(std::span<const uint8_t> bytes, std::string_view name) {
  constexpr size_t kSignature = 8;
  Header header;
  bool have_header = false, headerless_deflate = false, before_header = true;
  std::vector<uint8_t> stream;
  for (size_t at = kSignature; at + 8 <= bytes.size();) {
    const size_t length = big_endian(bytes, at);
    const std::string_view type(reinterpret_cast<const char*>(bytes.data() + at + 4), 4);
    if (length > bytes.size() - at - 8) fail(name, ": truncated PNG: the ", escaped(type), " chunk at byte ", at,
                                             " says ", length, " bytes but the file ends before them");
    const std::span<const uint8_t> data = bytes.subspan(at + 8, length);
    if (type == "CgBI") {
      headerless_deflate = true;
    } else if (before_header) {  // stb_image's header: the first chunk that is not CgBI, an IHDR or an error
      before_header = false;
      if (type == "IHDR" && length >= 13) {
        header = {big_endian(data, 0), big_endian(data, 4), data[8], channels_of(data[9]), data[12] == 1};
        have_header = true;
      }
    }
    if (type == "IDAT") stream.insert(stream.end(), data.begin(), data.end());
    if (type == "IEND") break;
    at += 8 + length + 4;  // data, then the CRC
  }
  // stb_image reports a missing or malformed IHDR and a missing IDAT itself, with its own words.
  if (!have_header || header.channels == 0 || header.depth == 0 || stream.empty()) return;
  const int64_t needed = inflated_size(header);
  // Deflate expands at most 1032:1 (a 258-byte match in two one-bit codes), so a stream shorter than
  // 1/1032 of what the header needs cannot hold the pixels: refused before the buffer below is allocated.
  if (needed / 1032 > static_cast<int64_t>(stream.size()))
    fail(name, ": truncated PNG: the header says ", header.width, "x", header.height, " (", needed,
         " bytes of filtered pixels) but its compressed pixels are ", stream.size(), " bytes, less than 1/1032 of "
         "them (the most deflate compresses)");
  // stb_image accepts a stream longer than the pixels need; allow a quarter more and 64 KiB.
  const int64_t capacity = needed + needed / 4 + (int64_t{1} << 16);
  if (capacity > std::numeric_limits<int>::max() || stream.size() > size_t{std::numeric_limits<int>::max()})
    fail(name, ": the PNG header says ", header.width, "x", header.height, " (", needed,
         " bytes of filtered pixels); convkit decodes at most 2 GiB");
  std::vector<char> pixels(static_cast<size_t>(capacity));
  const auto* in = reinterpret_cast<const char*>(stream.data());
  const int size = static_cast<int>(stream.size());
  const int inflated = headerless_deflate
                           ? stbi_zlib_decode_noheader_buffer(pixels.data(), static_cast<int>(capacity), in, size)
                           : stbi_zlib_decode_buffer(pixels.data(), static_cast<int>(capacity), in, size);
  if (inflated < 0)
    fail(name, ": corrupt PNG: its compressed pixels (", stream.size(), " bytes) do not inflate to a stream that "
         "ends within ", capacity, " bytes (the header's ", header.width, "x", header.height, " needs ", needed, ")");
  if (inflated < needed)
    fail(name, ": truncated PNG: its compressed pixels inflate to ", inflated, " bytes, but the header's ",
         header.width, "x", header.height, " needs ", needed);
}

}  // namespace convkit::image
