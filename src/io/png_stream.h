// Bounds a PNG's compressed pixel stream before stb_image inflates it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace convkit::image {

// Inflates the concatenated IDAT chunks of the PNG `bytes` into a buffer of the size its header implies
// (Adam7 passes included) plus a fixed slack, and fails (an Error naming `name`) when the stream does not
// end within it, is corrupt, or holds fewer bytes than the pixels need. Debian 12's stb_image keeps
// inflating zero bits past the end of an unterminated stream, doubling its buffer without bound; after
// this check it only ever sees streams that end.
void check_png_stream(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace convkit::image
