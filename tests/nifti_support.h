// Test support: single-file NIfTI-1 and NIfTI-2 volumes written byte by byte from nifti1.h's and
// nifti2.h's layouts (independent of the reader's own constants on purpose).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace convkit::testing::nifti_files {

// nifti1.h byte offsets (the NIfTI-1 names the tests use directly).
constexpr int kDim = 40, kDatatype = 70, kBitpix = 72, kPixdim = 76, kVoxOffset = 108, kSclSlope = 112,
              kSclInter = 116, kCalMax = 124, kCalMin = 128, kDescrip = 148, kQformCode = 252, kSformCode = 254,
              kSrowX = 280, kMagic = 344;

// One header version's layout: offsets, and the widths of its integer (dim, vox_offset, codes) and
// real fields.
struct Layout {
  int header_size, data_at, dim, dim_bytes, datatype, bitpix, pixdim, vox_offset, scl_slope, scl_inter, cal_max,
      cal_min, descrip, qform_code, sform_code, code_bytes, srow_x, magic, real_bytes;
  const char* magic_text;
  int magic_bytes;
};
constexpr Layout kNifti1{.header_size = 348, .data_at = 352, .dim = kDim, .dim_bytes = 2, .datatype = kDatatype,
                         .bitpix = kBitpix, .pixdim = kPixdim, .vox_offset = kVoxOffset, .scl_slope = kSclSlope,
                         .scl_inter = kSclInter, .cal_max = kCalMax, .cal_min = kCalMin, .descrip = kDescrip,
                         .qform_code = kQformCode, .sform_code = kSformCode, .code_bytes = 2, .srow_x = kSrowX,
                         .magic = kMagic, .real_bytes = 4, .magic_text = "n+1\0", .magic_bytes = 4};
// nifti2.h: int64 dims and vox_offset, float64 reals, int32 codes, the magic right after sizeof_hdr.
constexpr Layout kNifti2{.header_size = 540, .data_at = 544, .dim = 16, .dim_bytes = 8, .datatype = 12, .bitpix = 14,
                         .pixdim = 104, .vox_offset = 168, .scl_slope = 176, .scl_inter = 184, .cal_max = 192,
                         .cal_min = 200, .descrip = 240, .qform_code = 344, .sform_code = 348, .code_bytes = 4,
                         .srow_x = 400, .magic = 4, .real_bytes = 8, .magic_text = "n+2\0\r\n\032\n", .magic_bytes = 8};

struct Type {
  int code, bytes;
  bool is_float, is_signed;
};
constexpr Type kTypes[] = {{2, 1, false, false},  {4, 2, false, true},  {8, 4, false, true},  {16, 4, true, true},
                           {64, 8, true, true},   {256, 1, false, true}, {512, 2, false, false}, {768, 4, false, false},
                           {1024, 8, false, true}, {1280, 8, false, false}};

inline void put(std::vector<uint8_t>& b, size_t at, uint64_t bits, int size, bool big) {
  for (int i = 0; i < size; ++i) 
    b.at(at + static_cast<size_t>(big ? size - 1 - i : i)) = static_cast<uint8_t>(bits >> (8 * i));
}
inline void put_f32(std::vector<uint8_t>& b, size_t at, float v, bool big) { put(b, at, std::bit_cast<uint32_t>(v), 4, big); }
inline void put_real(std::vector<uint8_t>& b, size_t at, double v, const Layout& l, bool big) {
  if (l.real_bytes == 8) put(b, at, std::bit_cast<uint64_t>(v), 8, big);
  else put_f32(b, at, static_cast<float>(v), big);
}

// A single-file volume of dims (x first) holding `values` (in file order) as `type`, NIfTI-1 or NIfTI-2.
inline std::vector<uint8_t> make_volume(const Layout& l, const std::vector<int>& dims, const Type& type,
                                        const std::vector<double>& values, bool big, double slope = 0.0,
                                        double inter = 0.0) {
  const auto at = [](int offset) { return static_cast<size_t>(offset); };
  std::vector<uint8_t> b(at(l.data_at) + values.size() * static_cast<size_t>(type.bytes));
  put(b, 0, static_cast<uint64_t>(l.header_size), 4, big);
  put(b, at(l.dim), dims.size(), l.dim_bytes, big);
  for (size_t i = 0; i < dims.size(); ++i)
    put(b, at(l.dim) + static_cast<size_t>(l.dim_bytes) * (i + 1), static_cast<uint64_t>(dims[i]), l.dim_bytes, big);
  put(b, at(l.datatype), static_cast<uint64_t>(type.code), 2, big);
  put(b, at(l.bitpix), static_cast<uint64_t>(8 * type.bytes), 2, big);
  for (int i = 0; i < 8; ++i)
    put_real(b, at(l.pixdim + l.real_bytes * i), i == 0 ? 1.0 : 0.5 * i, l, big);
  if (l.real_bytes == 8) put(b, at(l.vox_offset), static_cast<uint64_t>(l.data_at), 8, big);
  else put_f32(b, at(l.vox_offset), static_cast<float>(l.data_at), big);
  put_real(b, at(l.scl_slope), slope, l, big);
  put_real(b, at(l.scl_inter), inter, l, big);
  put_real(b, at(l.cal_max), 900.0, l, big);
  put_real(b, at(l.cal_min), -5.0, l, big);
  std::memcpy(b.data() + l.descrip, "convkit test", 12);
  put(b, at(l.qform_code), 1, l.code_bytes, big);
  put(b, at(l.sform_code), 2, l.code_bytes, big);
  for (int i = 0; i < 12; ++i) put_real(b, at(l.srow_x + l.real_bytes * i), 0.25 * (i + 1), l, big);
  std::memcpy(b.data() + l.magic, l.magic_text, static_cast<size_t>(l.magic_bytes));
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    uint64_t bits = 0;
    if (type.code == 16) bits = std::bit_cast<uint32_t>(static_cast<float>(v));
    else if (type.code == 64) bits = std::bit_cast<uint64_t>(v);
    else if (type.is_signed) bits = static_cast<uint64_t>(static_cast<int64_t>(v));
    else bits = static_cast<uint64_t>(v);
    put(b, at(l.data_at) + i * static_cast<size_t>(type.bytes), bits, type.bytes, big);
  }
  return b;
}

inline std::vector<uint8_t> make_nifti(const std::vector<int>& dims, const Type& type, const std::vector<double>& values,
                                       bool big, float slope = 0.0f, float inter = 0.0f) {
  return make_volume(kNifti1, dims, type, values, big, slope, inter);
}

// A written volume keeps every header byte but datatype/bitpix (float32), scl_slope/scl_inter (1, 0) and
// cal_max/cal_min (0, 0).
inline void expect_header_kept(const std::vector<uint8_t>& original, const std::vector<uint8_t>& written, bool big,
                               const Layout& l = kNifti1) {
  const auto data_at = static_cast<size_t>(l.data_at);
  ASSERT_GE(written.size(), data_at);
  std::vector<uint8_t> expected(original.begin(), original.begin() + l.data_at);
  put(expected, static_cast<size_t>(l.datatype), 16, 2, big);
  put(expected, static_cast<size_t>(l.bitpix), 32, 2, big);
  put_real(expected, static_cast<size_t>(l.scl_slope), 1.0, l, big);
  put_real(expected, static_cast<size_t>(l.scl_inter), 0.0, l, big);
  put_real(expected, static_cast<size_t>(l.cal_max), 0.0, l, big);
  put_real(expected, static_cast<size_t>(l.cal_min), 0.0, l, big);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), written.begin()));
}

}  // namespace convkit::testing::nifti_files
