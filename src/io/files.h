// Whole-file reading and atomic writing, shared by the image and CSV readers/writers (internal header).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace convkit::io {

// The contents of the file at `path`; convkit::Error naming the path when it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

// Writes `bytes` to `path` atomically, as npy::write does: a temporary file next to it
// (path + ".tmp-XXXXXX") is written, closed and renamed over `path`. On failure the temporary file is
// removed, `path` is left as it was, and convkit::Error naming the path is thrown. The new file gets
// the mode 0666 minus the process umask.
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace convkit::io
