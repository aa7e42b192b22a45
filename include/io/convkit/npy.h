// Reading and writing NumPy .npy files as float32 Tensors.
//
// The reader accepts format versions 1.0, 2.0 and 3.0, C or Fortran order, and the dtypes float16/32/64,
// int8/16/32/64, uint8/16/32/64 and bool in either byte order; every value is converted to float32 and
// Fortran-order data is transposed to C order. Malformed or truncated files raise convkit::Error with a
// one-line message naming the file, what was wrong and what was expected. The writer always produces
// '<f4' in C order with a version 1.0 header padded so the data starts at a multiple of 64 bytes, byte
// for byte what numpy.save writes for a float32 array.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/tensor.h"

namespace convkit::npy {

// Parses the whole contents of a .npy file. `name` prefixes every error message (a path, usually).
Tensor parse(std::span<const uint8_t> bytes, std::string_view name = "<memory>");

// Reads the file at `path` and parses it; errors name the path.
Tensor read(const std::string& path);

// The .npy file contents for `tensor`: '<f4', C order, version 1.0 header (2.0 only if the header
// would exceed 65535 bytes, as numpy does), data starting at a multiple of 64 bytes.
std::vector<uint8_t> serialize(const Tensor& tensor);

// Writes serialize(tensor) to `path` atomically (files::write_atomically, convkit/files.h): on failure
// `path` is left as it was and convkit::Error naming the path is thrown; no temporary file remains, even
// after a SIGKILL. The new file gets the mode 0666 minus the process umask.
void write(const std::string& path, const Tensor& tensor);

}  // namespace convkit::npy
