// Whole-file reading, shared by the image and CSV readers (internal header; atomic writing is public, in
// convkit/files.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace convkit::io {

// The contents of the file at `path`; convkit::Error naming the path when it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

}  // namespace convkit::io
