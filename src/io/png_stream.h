// Bounds a PNG's compressed pixel stream before stb_image inflates it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace convkit::image {

// Walks the chunks of the PNG `bytes` against the file's size, refuses compressed pixels shorter than
// 1/1032 of what the header implies (deflate's largest ratio), then inflates the concatenated IDAT chunks
// into a buffer of the size the header implies (Adam7 passes included) plus a fixed slack, and fails (an Error naming `name`) when the stream does not
// end within it, is corrupt, or holds fewer bytes than the pixels need. Debian 12's stb_image keeps
// inflating zero bits past the end of an unterminated stream, doubling its buffer without bound; after
// this check it only ever sees streams that end.
void check_png_stream(std::span<const uint8_t> bytes, std::string_view name);

}  // namespace convkit::image
