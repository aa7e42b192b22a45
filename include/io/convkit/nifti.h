// Reading and writing single-file NIfTI-1 and NIfTI-2 volumes (.nii, and .nii.gz through zlib) as float32
// Tensors.
//
// Axis order: NIfTI stores x fastest (dims (X, Y, Z, T, ...), Fortran-like), which is C order for the
// reversed dims. A volume is read channels first, as convkit's filters expect: (X) -> (1, X),
// (X, Y) -> (1, Y, X), (X, Y, Z) -> (1, Z, Y, X), and every dim after the third (T, and dims 5-7) is
// folded into the channels: (X, Y, Z, T) -> (T, Z, Y, X). A 3D filter thus runs on each time point
// separately.
//
// The reader accepts either byte order, the datatypes uint8/16/32/64, int8/16/32/64, float32 and
// float64, and applies scl_slope/scl_inter (value * slope + inter) when slope is finite, non-zero and
// the pair is not (1, 0), as nibabel does. Header/image pairs (.hdr/.img) and other datatypes raise
// convkit::Error. So do hostile files: every size is checked against the bytes the
// file holds (for .gz: the header's size bound, inflating at most that many bytes) before anything is
// allocated, and the error names the file and the field.
//
// The writer keeps every header byte of the input (NIfTI version, affine, qform/sform, pixdim, intent,
// descrip, extensions, byte order) except datatype/bitpix (float32), scl_slope/scl_inter (1, 0) and the
// display range cal_min/cal_max (0, 0: unset, since it described the input's values).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/tensor.h"

namespace convkit::nifti {

// A volume's header as read: the file's bytes before the data, and the fields convkit uses.
struct Header {
  std::vector<uint8_t> bytes{};  // bytes [0, vox_offset): the 348- or 540-byte header, extension flag, extensions
  bool big_endian = false;
  int version = 1;               // 1 (348-byte header) or 2 (540-byte header)
  std::vector<int64_t> dims{};   // dim[1..dim[0]], x first
  int datatype = 0;              // NIfTI DT_* code
  double scl_slope = 0.0, scl_inter = 0.0;
};

struct Volume {
  Header header{};
  Tensor data{};  // channels first, as described above
};

// Parses the contents of a .nii or .nii.gz file (gzip is recognised by its magic bytes, not the name).
// `name` prefixes every error message.
Volume parse(std::span<const uint8_t> bytes, std::string_view name = "<memory>");

// Reads the file at `path` and parses it; errors name the path.
Volume read(const std::string& path);

// The uncompressed .nii contents for `data` (shaped as `like` was read) with `like`'s header.
std::vector<uint8_t> serialize(const Tensor& data, const Header& like);

// The file contents for `path`: serialize(data, like), gzip-compressed when `path` ends in ".gz".
std::vector<uint8_t> encode(const Tensor& data, const Header& like, const std::string& path);

// Writes encode(data, like, path) to `path` atomically (files::write_atomically).
void write(const std::string& path, const Tensor& data, const Header& like);

// The channels-first shape a volume of NIfTI dims `dims` (x first) is read as.
Shape channels_shape(std::span<const int64_t> dims);

}  // namespace convkit::nifti
