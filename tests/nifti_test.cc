// NIfTI-1/NIfTI-2 reader and writer: every datatype in both byte orders and both versions, scaling, the
// axis order, round trips (.nii and .nii.gz) keeping the header, and every kind of hostile file.
#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

#include "convkit/error.h"
#include "convkit/nifti.h"
#include "nifti_support.h"
#include "scratch_dir.h"

namespace convkit {
namespace {

using namespace testing::nifti_files;
using testing::ScratchDir;

std::vector<double> ramp(size_t n, bool with_negatives) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i) * 3.0 - (with_negatives ? 20.0 : 0.0);
  return v;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    nifti::parse(bytes, "vol.nii");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Nifti, EveryDatatypeBothByteOrdersBothVersions) {
  for (const Layout* layout : {&kNifti1, &kNifti2})
  for (const Type& type : kTypes)
    for (const bool big : {false, true}) {
      const std::vector<double> values = ramp(24, type.is_signed);
      const nifti::Volume volume = nifti::parse(make_volume(*layout, {4, 3, 2}, type, values, big), "vol.nii");
      EXPECT_EQ(volume.header.version, layout == &kNifti1 ? 1 : 2);
      EXPECT_EQ(volume.data.shape(), (Shape{1, 2, 3, 4})) << type.code;  // (X, Y, Z) -> (1, Z, Y, X)
      EXPECT_EQ(volume.header.big_endian, big);
      EXPECT_EQ(volume.header.datatype, type.code);
      for (size_t i = 0; i < values.size(); ++i)
        ASSERT_EQ(volume.data.data()[i], static_cast<float>(values[i])) << type.code << " big=" << big << " i=" << i;
      // x fastest: voxel (x=1, y=2, z=1) is file value 1 + 4 * (2 + 3 * 1).
      EXPECT_EQ(volume.data.at({0, 1, 2, 1}), static_cast<float>(values[1 + 4 * (2 + 3 * 1)]));
    }
}

TEST(Nifti, FourthAndLaterDimsAreChannels) {
  const nifti::Volume volume = nifti::parse(make_nifti({3, 2, 2, 5}, kTypes[3], ramp(60, false), false), "v");
  EXPECT_EQ(volume.data.shape(), (Shape{5, 2, 2, 3}));
  EXPECT_EQ(volume.data.at({4, 0, 0, 0}), 3.0f * 48);
  EXPECT_EQ(nifti::channels_shape(std::vector<int64_t>{7}), (Shape{1, 7}));
  EXPECT_EQ(nifti::channels_shape(std::vector<int64_t>{7, 6}), (Shape{1, 6, 7}));
  EXPECT_EQ(nifti::channels_shape(std::vector<int64_t>{4, 3, 2, 5, 2}), (Shape{10, 2, 3, 4}));
}

TEST(Nifti, ScalingAppliesUnlessSlopeIsZeroOrIdentity) {
  const std::vector<double> values = ramp(6, true);
  const auto read = [&](float slope, float inter) {
    return nifti::parse(make_nifti({6}, kTypes[1], values, true, slope, inter), "v").data;
  };
  const Tensor scaled = read(2.5f, -1.0f), zero = read(0.0f, 7.0f), identity = read(1.0f, 0.0f),
               nan_slope = read(std::nanf(""), 3.0f);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(scaled.data()[i], static_cast<float>(values[i] * 2.5 - 1.0));
    EXPECT_EQ(zero.data()[i], static_cast<float>(values[i]));
    EXPECT_EQ(identity.data()[i], static_cast<float>(values[i]));
    EXPECT_EQ(nan_slope.data()[i], static_cast<float>(values[i]));
  }
}

TEST(Nifti, RoundTripKeepsTheHeaderInBothByteOrdersAndVersions) {
  for (const Layout* layout : {&kNifti1, &kNifti2})
  for (const bool big : {false, true}) {
    const std::vector<uint8_t> original = make_volume(*layout, {4, 3, 2, 2}, kTypes[1], ramp(48, true), big, 0.5, 3.0);
    const nifti::Volume volume = nifti::parse(original, "v");
    EXPECT_EQ(volume.data.at({1, 0, 0, 1}), static_cast<float>((3.0 * 25 - 20.0) * 0.5 + 3.0));  // scaled
    const std::vector<uint8_t> written = nifti::serialize(volume.data, volume.header);
    expect_header_kept(original, written, big, *layout);
    const nifti::Volume again = nifti::parse(written, "again");
    EXPECT_EQ(again.header.big_endian, big);
    EXPECT_EQ(again.data.values(), volume.data.values());
  }
}

TEST(Nifti, GzipRoundTripAndPlainFile) {
  for (const Layout* layout : {&kNifti1, &kNifti2}) {
  ScratchDir dir;
  const std::vector<uint8_t> original = make_volume(*layout, {5, 4, 3}, kTypes[4], ramp(60, true), false);
  const nifti::Volume volume = nifti::parse(original, "v");
  for (const std::string name : {"out.nii.gz", "out.nii"}) {
    nifti::write(dir.file(name), volume.data, volume.header);
    std::ifstream in(dir.file(name), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    ASSERT_GE(bytes.size(), 2u);
    EXPECT_EQ(bytes[0] == 0x1f && bytes[1] == 0x8b, name.ends_with(".gz")) << name;
    const nifti::Volume again = nifti::read(dir.file(name));
    EXPECT_EQ(again.data.values(), volume.data.values());
    expect_header_kept(original, nifti::serialize(again.data, again.header), false, *layout);
  }
  }
}

TEST(Nifti, SerializeRefusesAnotherShape) {
  const nifti::Volume volume = nifti::parse(make_nifti({4, 3}, kTypes[3], ramp(12, false), false), "v");
  EXPECT_THROW(nifti::serialize(Tensor({1, 2, 4}), volume.header), Error);
}

TEST(Nifti, HostileHeadersAreClearErrors) {
  const std::vector<uint8_t> good = make_nifti({4, 3, 2}, kTypes[3], ramp(24, false), false);
  const auto with = [&](auto change) {
    std::vector<uint8_t> b = good;
    change(b);
    return error_of(b);
  };
  const auto expect_in = [](const std::string& message, const std::string& fragment) {
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_NE(message.find("vol.nii"), std::string::npos) << message;
  };
  expect_in(error_of(std::vector<uint8_t>(good.begin(), good.begin() + 200)), "a NIfTI-1 header is 348");
  expect_in(error_of(std::vector<uint8_t>(good.begin(), good.begin() + 400)),
            "the header says 4x3x2 float32 (96 bytes from byte 352) but the file has 400");
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  expect_in(error_of(longer), "more than the 448 the header implies");
  expect_in(with([](auto& b) { put(b, 0, 349, 4, false); }), "sizeof_hdr is 349");
  expect_in(with([](auto& b) { put(b, 0, 540, 4, false); }), "NIfTI-2");
  expect_in(with([](auto& b) { std::memcpy(b.data() + kMagic, "ni1\0", 4); }), ".hdr/.img pair");
  expect_in(with([](auto& b) { std::memcpy(b.data() + kMagic, "abcd", 4); }), "magic");
  expect_in(with([](auto& b) { put(b, kDim, 0, 2, false); }), "dim[0] is 0; expected a rank of 1 to 7");
  expect_in(with([](auto& b) { put(b, kDim, 8, 2, false); }), "dim[0] is 8");
  expect_in(with([](auto& b) { put(b, kDim + 4, static_cast<uint64_t>(-3), 2, false); }), "dim[2] is -3");
  expect_in(with([](auto& b) { put(b, kDatatype, 128, 2, false); }), "datatype 128 is not supported");
  expect_in(with([](auto& b) { put(b, kBitpix, 16, 2, false); }), "bitpix is 16");
  expect_in(with([](auto& b) { put_f32(b, kVoxOffset, 100.0f, false); }), "vox_offset is 100");
  expect_in(with([](auto& b) { put_f32(b, kVoxOffset, 352.5f, false); }), "vox_offset is 352.5");
  expect_in(with([](auto& b) { put_f32(b, kVoxOffset, std::nanf(""), false); }), "vox_offset is nan");
  expect_in(with([](auto& b) { put_f32(b, kVoxOffset, 1e9f, false); }), "the header says 4x3x2 float32 (96 bytes from byte 1000000000) but the file has 448");
  // 32767^7 voxels: refused from the file's size before anything is multiplied out or allocated.
  expect_in(with([](auto& b) {
              put(b, kDim, 7, 2, false);
              for (int i = 1; i <= 7; ++i) put(b, kDim + 2 * i, 32767, 2, false);
            }),
            "dims 32767x32767x32767x32767x32767x32767x32767 of float32 overflow 64-bit byte counts");
  // Large but representable: compared with the file's size, not allocated.
  expect_in(with([](auto& b) {
              put(b, kDim, 4, 2, false);
              for (int i = 1; i <= 4; ++i) put(b, kDim + 2 * i, 32767, 2, false);
            }),
            "the header says 32767x32767x32767x32767 float32 (4611123094243246084 bytes from byte 352) but the file has "
            "448");
}

// NIfTI-2: int64 dims past NIfTI-1's 32767, and its own hostile fields.
TEST(Nifti, Nifti2DimsAndHostileHeaders) {
  const nifti::Volume wide = nifti::parse(make_volume(kNifti2, {40000}, kTypes[0], std::vector<double>(40000, 7.0), true), "w");
  EXPECT_EQ(wide.data.shape(), (Shape{1, 40000}));
  EXPECT_EQ(wide.data.data()[39999], 7.0f);

  const std::vector<uint8_t> good = make_volume(kNifti2, {4, 3, 2}, kTypes[3], ramp(24, false), false);
  const auto with = [&](auto change) {
    std::vector<uint8_t> b = good;
    change(b);
    return error_of(b);
  };
  const auto expect_in = [](const std::string& message, const std::string& fragment) {
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  };
  expect_in(error_of(std::vector<uint8_t>(good.begin(), good.begin() + 400)), "400 bytes; a NIfTI-2 header is 540");
  expect_in(error_of(std::vector<uint8_t>(good.begin(), good.begin() + 3)), "3 bytes; a NIfTI header starts");
  expect_in(with([](auto& b) { std::memcpy(b.data() + 4, "ni2\0", 4); }), ".hdr/.img pair");
  expect_in(with([](auto& b) { std::memcpy(b.data() + 4, "n+1\0", 4); }), "magic is not \"n+2\\0\"");
  expect_in(with([](auto& b) { put(b, kNifti2.vox_offset, 540, 8, false); }), "vox_offset is 540; expected a whole number of bytes >= 544");
  expect_in(with([](auto& b) { put(b, kNifti2.vox_offset, static_cast<uint64_t>(-8), 8, false); }), "vox_offset is -8");
  expect_in(with([](auto& b) { put(b, kNifti2.dim + 16, static_cast<uint64_t>(-5), 8, false); }), "dim[2] is -5");
  expect_in(with([](auto& b) { put(b, kNifti2.dim + 8, uint64_t{1} << 40, 8, false); put(b, kNifti2.dim + 16, uint64_t{1} << 40, 8, false); }),
            "overflow 64-bit byte counts");
  expect_in(with([](auto& b) { put(b, kNifti2.dim + 8, uint64_t{1} << 40, 8, false); }),
            "the header says 1099511627776x3x2 float32 (26388279066624 bytes from byte 544) but the file has 640");
}

// Gzips `bytes` into `path` (zlib's own gzip writer, independent of the code under test).
void gzip_to(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::string read_error(const std::string& path) {
  try {
    nifti::read(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Nifti, HostileGzipStreams) {
  ScratchDir dir;
  const std::vector<uint8_t> good = make_nifti({4, 3, 2}, kTypes[3], ramp(24, false), true);
  gzip_to(dir.file("good.nii.gz"), good);
  EXPECT_EQ(nifti::read(dir.file("good.nii.gz")).data.values(), nifti::parse(good, "v").data.values());

  std::vector<uint8_t> longer = good;
  longer.resize(good.size() + 10);
  gzip_to(dir.file("longer.nii.gz"), longer);
  EXPECT_NE(read_error(dir.file("longer.nii.gz")).find("holds more than the 448 bytes"), std::string::npos)
      << read_error(dir.file("longer.nii.gz"));

  gzip_to(dir.file("shorter.nii.gz"), std::vector<uint8_t>(good.begin(), good.end() - 8));
  EXPECT_NE(read_error(dir.file("shorter.nii.gz")).find("but the gzip stream inflates to 440 bytes"), std::string::npos)
      << read_error(dir.file("shorter.nii.gz"));

  gzip_to(dir.file("header.nii.gz"), std::vector<uint8_t>(good.begin(), good.begin() + 100));
  EXPECT_NE(read_error(dir.file("header.nii.gz")).find("inflates to 100 bytes"), std::string::npos);

  // A cut compressed stream.
  {
    std::ifstream in(dir.file("good.nii.gz"), std::ios::binary);
    std::vector<char> gz{std::istreambuf_iterator<char>(in), {}};
    std::ofstream(dir.file("cut.nii.gz"), std::ios::binary).write(gz.data(), static_cast<std::streamsize>(gz.size() / 2));
  }
  EXPECT_NE(read_error(dir.file("cut.nii.gz")).find("cut.nii.gz"), std::string::npos);

  gzip_to(dir.file("nifti2.nii.gz"), std::vector<uint8_t>(good.begin(), good.begin() + 2));
  EXPECT_NE(read_error(dir.file("nifti2.nii.gz")).find("inflates to 2 bytes; a NIfTI header starts"), std::string::npos)
      << read_error(dir.file("nifti2.nii.gz"));
  const std::vector<uint8_t> v2 = make_volume(kNifti2, {4, 3, 2}, kTypes[3], ramp(24, false), true);
  gzip_to(dir.file("v2.nii.gz"), std::vector<uint8_t>(v2.begin(), v2.begin() + 500));
  EXPECT_NE(read_error(dir.file("v2.nii.gz")).find("inflates to 500 bytes; a NIfTI-2 header is 540"), std::string::npos)
      << read_error(dir.file("v2.nii.gz"));

  // A header claiming 1 GiB in a stream of a few hundred bytes: refused before inflating or allocating.
  std::vector<uint8_t> huge = good;
  put(huge, kDim + 2, 1024, 2, true);
  put(huge, kDim + 4, 1024, 2, true);
  put(huge, kDim + 6, 256, 2, true);
  gzip_to(dir.file("huge.nii.gz"), huge);
  EXPECT_NE(read_error(dir.file("huge.nii.gz")).find("but a gzip stream of"), std::string::npos)
      << read_error(dir.file("huge.nii.gz"));
}

}  // namespace
}  // namespace convkit
