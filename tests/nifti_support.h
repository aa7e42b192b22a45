// Test support: single-file NIfTI-1 volumes written byte by byte from nifti1.h's layout (independent
// of the reader's own constants on purpose).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace convkit::testing::nifti_files {

// nifti1.h byte offsets.
constexpr int kDim = 40, kDatatype = 70, kBitpix = 72, kPixdim = 76, kVoxOffset = 108, kSclSlope = 112,
              kSclInter = 116, kDescrip = 148, kQformCode = 252, kSformCode = 254, kSrowX = 280, kMagic = 344;

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

// A single-file NIfTI-1 volume of dims (x first) holding `values` (in file order) as `type`.
inline std::vector<uint8_t> make_nifti(const std::vector<int>& dims, const Type& type, const std::vector<double>& values,
                                bool big, float slope = 0.0f, float inter = 0.0f) {
  std::vector<uint8_t> b(352 + values.size() * static_cast<size_t>(type.bytes));
  put(b, 0, 348, 4, big);
  put(b, kDim, dims.size(), 2, big);
  for (size_t i = 0; i < dims.size(); ++i) put(b, kDim + 2 * (i + 1), static_cast<uint64_t>(dims[i]), 2, big);
  put(b, kDatatype, static_cast<uint64_t>(type.code), 2, big);
  put(b, kBitpix, static_cast<uint64_t>(8 * type.bytes), 2, big);
  for (int i = 0; i < 8; ++i) put_f32(b, kPixdim + 4 * i, i == 0 ? 1.0f : 0.5f * static_cast<float>(i), big);
  put_f32(b, kVoxOffset, 352.0f, big);
  put_f32(b, kSclSlope, slope, big);
  put_f32(b, kSclInter, inter, big);
  std::memcpy(b.data() + kDescrip, "convkit test", 12);
  put(b, kQformCode, 1, 2, big);
  put(b, kSformCode, 2, 2, big);
  for (int i = 0; i < 12; ++i) put_f32(b, kSrowX + 4 * i, 0.25f * static_cast<float>(i + 1), big);
  std::memcpy(b.data() + kMagic, "n+1\0", 4);
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    uint64_t bits = 0;
    if (type.code == 16) bits = std::bit_cast<uint32_t>(static_cast<float>(v));
    else if (type.code == 64) bits = std::bit_cast<uint64_t>(v);
    else if (type.is_signed) bits = static_cast<uint64_t>(static_cast<int64_t>(v));
    else bits = static_cast<uint64_t>(v);
    put(b, 352 + i * static_cast<size_t>(type.bytes), bits, type.bytes, big);
  }
  return b;
}

// A written volume keeps every header byte but datatype/bitpix (float32) and scl_slope/scl_inter (1, 0).
inline void expect_header_kept(const std::vector<uint8_t>& original, const std::vector<uint8_t>& written, bool big) {
  ASSERT_GE(written.size(), 352u);
  std::vector<uint8_t> expected(original.begin(), original.begin() + 352);
  put(expected, kDatatype, 16, 2, big);
  put(expected, kBitpix, 32, 2, big);
  put_f32(expected, kSclSlope, 1.0f, big);
  put_f32(expected, kSclInter, 0.0f, big);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), written.begin()));
}

}  // namespace convkit::testing::nifti_files
