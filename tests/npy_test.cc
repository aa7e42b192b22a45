// The .npy reader and writer: round trips, every supported dtype in both byte orders, format versions,
// Fortran order, the exact bytes numpy.save would write, atomic writes, and every error message.
#include "convkit/npy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/error.h"
#include "convkit/tensor.h"

namespace convkit::npy {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<uint8_t>;

// ---- Helpers that build .npy bytes by hand ---------------------------------------------------------------

// The header dict numpy writes, e.g. header_dict("<f4", "(2, 3)").
std::string header_dict(std::string_view descr, std::string_view shape, bool fortran = false) {
  return "{'descr': '" + std::string(descr) + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + std::string(shape) + ", }";
}

// Magic, version `major`.0, header length (uint16 LE for 1.0, uint32 LE otherwise), `header` padded with
// spaces and a newline to a multiple of 64 bytes in all, then `data`.
Bytes npy_file(std::string_view header, const Bytes& data = {}, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string text(header);
  text.append((64 - (prefix + text.size() + 1) % 64) % 64, ' ');
  text += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<uint8_t>(text.size() >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// `bits` as `size` bytes in the given byte order, appended to `out`.
void append_bits(Bytes& out, uint64_t bits, int size, bool big_endian) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * (big_endian ? size - 1 - i : i))));
}

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

Tensor parse_bytes(const Bytes& bytes, std::string_view name = "x.npy") { return parse(bytes, name); }

// The message of the convkit::Error `action` throws ("" and a test failure if it throws none).
std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no convkit::Error thrown";
  return "";
}

std::string parse_error(const Bytes& bytes) {
  return error_of([&] { parse_bytes(bytes); });
}

Tensor random_tensor(Shape shape, std::mt19937& rng) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> values(-100.0f, 100.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = values(rng);
  return t;
}

// Bitwise equality (so NaN payloads and signed zeros count).
void expect_same_bits(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  ASSERT_EQ(actual.numel(), expected.numel());
  for (int64_t i = 0; i < actual.numel(); ++i)
    EXPECT_EQ(std::bit_cast<uint32_t>(actual[i]), std::bit_cast<uint32_t>(expected[i]))
        << "element " << i << ": " << actual[i] << " vs " << expected[i];
}

// A fresh directory under the test temp dir, removed afterwards.
class NpyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "npy_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp " << pattern;
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) names.push_back(entry.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path dir_;
};

// ---- Round trips ---------------------------------------------------------------------------------------

TEST(NpyRoundTrip, RanksZeroToFive) {
  std::mt19937 rng(20261121);
  const std::vector<Shape> shapes = {{}, {7}, {3, 4}, {2, 3, 5}, {2, 1, 3, 4}, {2, 3, 1, 2, 3}};
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(to_string(shape));
    const Tensor t = random_tensor(shape, rng);
    const Bytes bytes = serialize(t);
    EXPECT_EQ(bytes.size() % 64, static_cast<size_t>(t.numel() * 4) % 64);
    expect_same_bits(parse(bytes), t);
  }
}

TEST(NpyRoundTrip, ScalarHasOneElement) {
  const Tensor scalar(Shape{}, 2.5f);
  const Tensor back = parse(serialize(scalar));
  EXPECT_EQ(back.shape(), Shape{});
  ASSERT_EQ(back.numel(), 1);
  EXPECT_EQ(back[0], 2.5f);
}

TEST(NpyRoundTrip, ZeroSizeDimensions) {
  for (const Shape& shape : {Shape{0}, Shape{0, 3}, Shape{4, 0}, Shape{2, 0, 5}}) {
    SCOPED_TRACE(to_string(shape));
    const Tensor back = parse(serialize(Tensor(shape)));
    EXPECT_EQ(back.shape(), shape);
    EXPECT_EQ(back.numel(), 0);
  }
}

TEST(NpyRoundTrip, SpecialFloatValuesKeepTheirBits) {
  const float nan_with_payload = std::bit_cast<float>(0x7fc12345u);
  const Tensor t({6}, {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                       nan_with_payload, -0.0f, std::numeric_limits<float>::denorm_min(),
                       std::numeric_limits<float>::max()});
  expect_same_bits(parse(serialize(t)), t);
}

// ---- serialize's exact bytes -----------------------------------------------------------------------------

TEST(NpySerialize, ExactByteLayout) {
  const Tensor t({2, 3}, {0.0f, 1.0f, 2.0f, 3.0f, -4.5f, 5.0f});
  const Bytes bytes = serialize(t);
  ASSERT_EQ(bytes.size(), 128u + 6 * 4);
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 6), (Bytes{0x93, 'N', 'U', 'M', 'P', 'Y'}));
  EXPECT_EQ(bytes[6], 1);  // version 1.0
  EXPECT_EQ(bytes[7], 0);
  const size_t header_length = bytes[8] | (size_t{bytes[9]} << 8);
  EXPECT_EQ(header_length, 118u);
  EXPECT_EQ((10 + header_length) % 64, 0u);
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_length));
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(header, dict + std::string(118 - dict.size() - 1, ' ') + "\n");
  // The data: little-endian float32 in C order.
  const Bytes data(bytes.begin() + 128, bytes.end());
  Bytes expected_data;
  for (float v : t.values()) append_bits(expected_data, std::bit_cast<uint32_t>(v), 4, false);
  EXPECT_EQ(data, expected_data);
}

TEST(NpySerialize, ShapeTextForScalarsAndVectors) {
  const auto header_of = [](const Bytes& bytes) {
    const size_t length = bytes[8] | (size_t{bytes[9]} << 8);
    return std::string(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(length));
  };
  EXPECT_THAT(header_of(serialize(Tensor(Shape{}))), HasSubstr("'shape': (), }"));
  EXPECT_THAT(header_of(serialize(Tensor(Shape{5}))), HasSubstr("'shape': (5,), }"));
  EXPECT_THAT(header_of(serialize(Tensor(Shape{0, 3}))), HasSubstr("'shape': (0, 3), }"));
}

TEST(NpySerialize, HeaderAlwaysEndsWithNewlineAndAlignsData) {
  // Includes a shape whose dict lands exactly on a 64-byte boundary (numpy then pads a full 64 bytes).
  for (size_t rank = 0; rank < 64; ++rank) {
    const Shape shape(rank, rank % 3 == 0 ? 0 : 1);
    const Bytes bytes = serialize(Tensor(shape));
    SCOPED_TRACE(to_string(shape));
    const size_t length = bytes[8] | (size_t{bytes[9]} << 8);
    EXPECT_EQ((10 + length) % 64, 0u);
    EXPECT_EQ(bytes[10 + length - 1], '\n');
    EXPECT_EQ(parse(bytes).shape(), shape);
  }
}

TEST(NpySerialize, PadsAFull64BytesWhenTheHeaderIsAlreadyAligned) {
  // numpy's rule: 64 - (unpadded % 64) spaces. For 36 single-digit extents, magic + version + length (10)
  // + dict (161) + 20 spaces of growth room for the first extent + the newline is exactly 192 bytes.
  const Bytes bytes = serialize(Tensor(Shape(36, 1)));
  const size_t length = bytes[8] | (size_t{bytes[9]} << 8);
  EXPECT_EQ(10 + length, 256u);
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(length));
  EXPECT_EQ(header.find_last_not_of(" \n"), 160u);  // the dict's closing '}'
  EXPECT_EQ(header.substr(161), std::string(20 + 64, ' ') + "\n");
}

TEST(NpySerialize, RejectsATensorWithoutValues) {
  EXPECT_THAT(error_of([] { serialize(Tensor()); }), HasSubstr("default-constructed"));
}

// ---- Every dtype, both byte orders ------------------------------------------------------------------------

struct DtypeCase {
  std::string code;
  int size;
  std::vector<uint64_t> bits;    // the stored values' bit patterns
  std::vector<float> expected;  // what they read as
};

std::vector<DtypeCase> dtype_cases() {
  const auto f32 = [](float v) { return uint64_t{std::bit_cast<uint32_t>(v)}; };
  const auto f64 = [](double v) { return std::bit_cast<uint64_t>(v); };
  const auto i = [](int64_t v) { return static_cast<uint64_t>(v); };
  return {
      {"f2", 2, {0x3e00, 0xc080, 0x0000, 0x6400}, {1.5f, -2.25f, 0.0f, 1024.0f}},
      {"f4", 4, {f32(1.5f), f32(-2.25f), f32(0.1f), f32(3e38f)}, {1.5f, -2.25f, 0.1f, 3e38f}},
      {"f8", 8, {f64(1.5), f64(-2.25), f64(0.1), f64(-1e-300)}, {1.5f, -2.25f, 0.1f, -0.0f}},
      {"i1", 1, {i(-128), i(-1), i(0), i(127)}, {-128.0f, -1.0f, 0.0f, 127.0f}},
      {"i2", 2, {i(-32768), i(-2), i(300), i(32767)}, {-32768.0f, -2.0f, 300.0f, 32767.0f}},
      {"i4", 4,
       {i(std::numeric_limits<int32_t>::min()), i(-3), i(70000), i(std::numeric_limits<int32_t>::max())},
       {-2147483648.0f, -3.0f, 70000.0f, 2147483648.0f}},
      {"i8", 8,
       {i(std::numeric_limits<int64_t>::min()), i(-4), i(int64_t{1} << 40), i(std::numeric_limits<int64_t>::max())},
       {-9223372036854775808.0f, -4.0f, 1099511627776.0f, 9223372036854775808.0f}},
      {"u1", 1, {0, 1, 200, 255}, {0.0f, 1.0f, 200.0f, 255.0f}},
      {"u2", 2, {0, 1, 40000, 65535}, {0.0f, 1.0f, 40000.0f, 65535.0f}},
      {"u4", 4, {0, 5, 3000000000u, 4294967295u}, {0.0f, 5.0f, 3000000000.0f, 4294967296.0f}},
      {"u8", 8, {0, 6, uint64_t{1} << 63, ~uint64_t{0}}, {0.0f, 6.0f, 9223372036854775808.0f, 18446744073709551616.0f}},
      {"b1", 1, {0, 1, 1, 0}, {0.0f, 1.0f, 1.0f, 0.0f}},
  };
}

TEST(NpyDtypes, EveryDtypeInBothByteOrders) {
  for (const DtypeCase& c : dtype_cases()) {
    std::vector<char> orders = {'<', '>', '='};
    if (c.size == 1) orders.push_back('|');
    for (char order : orders) {
      const std::string descr = order + c.code;
      SCOPED_TRACE(descr);
      const bool big = order == '>' || (order == '=' && std::endian::native == std::endian::big);
      Bytes data;
      for (uint64_t bits : c.bits) append_bits(data, bits, c.size, big);
      const Tensor t = parse_bytes(npy_file(header_dict(descr, "(2, 2)"), data));
      EXPECT_EQ(t.shape(), (Shape{2, 2}));
      EXPECT_EQ(t.values(), c.expected);
    }
  }
}

TEST(NpyDtypes, BigAndLittleEndianBytesDiffer) {
  // 0x0102 stored big-endian is 258; the same bytes read little-endian are 513.
  const Bytes data = {0x01, 0x02};
  EXPECT_EQ(parse_bytes(npy_file(header_dict(">u2", "()"), data))[0], 258.0f);
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<u2", "()"), data))[0], 513.0f);
}

TEST(NpyDtypes, BoolNonZeroBytesAreTrue) {
  const Tensor t = parse_bytes(npy_file(header_dict("|b1", "(3,)"), Bytes{0, 2, 255}));
  EXPECT_EQ(t.values(), (std::vector<float>{0.0f, 1.0f, 1.0f}));
}

TEST(NpyDtypes, HalfSpecialValues) {
  const std::vector<uint64_t> bits = {0x0001, 0x03ff, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x8001};
  Bytes data;
  for (uint64_t b : bits) append_bits(data, b, 2, false);
  const Tensor t = parse_bytes(npy_file(header_dict("<f2", "(9,)"), data));
  EXPECT_EQ(t[0], std::ldexp(1.0f, -24));          // smallest subnormal
  EXPECT_EQ(t[1], std::ldexp(1023.0f, -24));       // largest subnormal
  EXPECT_EQ(t[2], std::ldexp(1.0f, -14));          // smallest normal
  EXPECT_EQ(t[3], 65504.0f);                       // largest finite
  EXPECT_EQ(t[4], std::numeric_limits<float>::infinity());
  EXPECT_EQ(t[5], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(std::bit_cast<uint32_t>(t[6]), 0x80000000u);  // -0
  EXPECT_EQ(t[7], 0.333251953125f);
  EXPECT_EQ(t[8], -std::ldexp(1.0f, -24));

  Bytes nan;
  append_bits(nan, 0x7e00, 2, false);
  EXPECT_TRUE(std::isnan(parse_bytes(npy_file(header_dict("<f2", "()"), nan))[0]));
}

TEST(NpyDtypes, Float64OutOfFloatRangeRoundsLikeIeee) {
  Bytes data;
  const double flt_max = std::numeric_limits<float>::max();
  for (double v : {1e300, -1e300, flt_max + 0x1p102, -(flt_max + 0x1p102), 0x1.ffffffp127,
                   std::numeric_limits<double>::quiet_NaN()})
    append_bits(data, std::bit_cast<uint64_t>(v), 8, false);
  const Tensor t = parse_bytes(npy_file(header_dict("<f8", "(6,)"), data));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(t[0], inf);
  EXPECT_EQ(t[1], -inf);
  EXPECT_EQ(t[2], std::numeric_limits<float>::max());  // less than half an ulp above FLT_MAX
  EXPECT_EQ(t[3], -std::numeric_limits<float>::max());
  EXPECT_EQ(t[4], inf);  // exactly half an ulp above: ties to even, which is 2^128
  EXPECT_TRUE(std::isnan(t[5]));
}

// ---- Versions and header syntax ------------------------------------------------------------------------

Bytes floats(std::initializer_list<float> values) {
  Bytes data;
  for (float v : values) append_bits(data, std::bit_cast<uint32_t>(v), 4, false);
  return data;
}

TEST(NpyVersions, Version2And3Headers) {
  for (int major : {2, 3}) {
    SCOPED_TRACE(major);
    const Bytes bytes = npy_file(header_dict("<f4", "(3,)"), floats({1, 2, 3}), major);
    EXPECT_EQ(bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (bytes[11] << 24), 116);
    const Tensor t = parse_bytes(bytes);
    EXPECT_EQ(t.shape(), Shape{3});
    EXPECT_EQ(t.values(), (std::vector<float>{1, 2, 3}));
  }
}

TEST(NpyVersions, Version2HeaderLongerThan64KiB) {
  std::string header = header_dict("<f4", "(2,)");
  header.insert(header.size() - 1, std::string(70000, ' '));  // whitespace inside the dict
  const Tensor t = parse_bytes(npy_file(header, floats({4, 5}), 2));
  EXPECT_EQ(t.values(), (std::vector<float>{4, 5}));
}

TEST(NpyHeader, KeysInAnyOrderQuotesAndWhitespace) {
  const std::vector<std::string> headers = {
      "{'shape': (2, 2), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 2)}",
      "{ 'fortran_order' :False,'shape':(2,2,),'descr':'<f4' , }",
      "{\n\t'descr'\t:\t'<f4',\r\n 'fortran_order': False,\n 'shape': (\n 2 ,\n 2\n ),\n}",
      "  {'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2L), }",  // Python 2 longs
  };
  for (const std::string& header : headers) {
    SCOPED_TRACE(header);
    const Tensor t = parse_bytes(npy_file(header, floats({1, 2, 3, 4})));
    EXPECT_EQ(t.shape(), (Shape{2, 2}));
    EXPECT_EQ(t.values(), (std::vector<float>{1, 2, 3, 4}));
  }
}

TEST(NpyHeader, ShapeForms) {
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<f4", "()"), floats({1}))).shape(), Shape{});
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<f4", "( )"), floats({1}))).shape(), Shape{});
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<f4", "(5,)"), floats({1, 2, 3, 4, 5}))).shape(), Shape{5});
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<f4", "(1, 2,)"), floats({1, 2}))).shape(), (Shape{1, 2}));
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<f4", "(0, 3)"))).shape(), (Shape{0, 3}));
  // A zero extent empties the array whatever the other extents are.
  EXPECT_EQ(parse_bytes(npy_file(header_dict("<f4", "(0, 4611686018427387904)"))).numel(), 0);
}

TEST(NpyHeader, HeaderWithoutNewlineOrPadding) {
  // Not what numpy writes, but valid: the header is just the dict.
  const std::string dict = header_dict("<f4", "(1,)");
  Bytes bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<uint8_t>(dict.size()), 0};
  bytes.insert(bytes.end(), dict.begin(), dict.end());
  const Bytes data = floats({7});
  bytes.insert(bytes.end(), data.begin(), data.end());
  EXPECT_EQ(parse_bytes(bytes).values(), (std::vector<float>{7}));
}

// ---- Fortran order ------------------------------------------------------------------------------------

// The Fortran-order bytes of the C-order values 0, 1, 2, ... of `shape`.
Bytes fortran_bytes(const Shape& shape) {
  const int64_t count = element_count(shape);
  std::vector<float> column_major(static_cast<size_t>(count));
  Shape index(shape.size(), 0);
  for (int64_t c = 0; c < count; ++c) {
    int64_t offset = 0, stride = 1;
    for (size_t axis = 0; axis < shape.size(); ++axis) {
      offset += index[axis] * stride;
      stride *= shape[axis];
    }
    column_major[static_cast<size_t>(offset)] = static_cast<float>(c);
    next_index(index, shape);
  }
  Bytes data;
  for (float v : column_major) append_bits(data, std::bit_cast<uint32_t>(v), 4, false);
  return data;
}

std::string shape_text(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

TEST(NpyFortran, RankTwo) {
  // [[0, 1, 2], [3, 4, 5]] stored column by column.
  const Tensor t = parse_bytes(npy_file(header_dict("<f4", "(2, 3)", true), floats({0, 3, 1, 4, 2, 5})));
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.values(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(NpyFortran, RankThreeAndHigher) {
  for (const Shape& shape : {Shape{2, 3, 4}, Shape{4, 1, 3, 2}, Shape{3, 2, 1, 2, 2}, Shape{1, 5}, Shape{5, 1},
                             Shape{7}, Shape{}, Shape{2, 0, 3}}) {
    SCOPED_TRACE(to_string(shape));
    const Tensor t = parse_bytes(npy_file(header_dict("<f4", shape_text(shape), true), fortran_bytes(shape)));
    EXPECT_EQ(t.shape(), shape);
    ASSERT_EQ(t.numel(), element_count(shape));
    for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t[i], static_cast<float>(i));
  }
}

TEST(NpyFortran, RankThreeByHand) {
  // Shape (2, 2, 2): element (i, j, k) is at Fortran offset i + 2j + 4k.
  const Tensor t = parse_bytes(npy_file(header_dict("<f4", "(2, 2, 2)", true), floats({0, 4, 2, 6, 1, 5, 3, 7})));
  EXPECT_EQ(t.values(), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(t.at({1, 0, 1}), 5.0f);
}

TEST(NpyFortran, BigEndianInt16) {
  Bytes data;
  for (int64_t v : {0, 3, 1, 4, 2, -5}) append_bits(data, static_cast<uint64_t>(v), 2, true);
  const Tensor t = parse_bytes(npy_file(header_dict(">i2", "(2, 3)", true), data));
  EXPECT_EQ(t.values(), (std::vector<float>{0, 1, 2, 3, 4, -5}));
}

// ---- Files ------------------------------------------------------------------------------------------------

TEST_F(NpyFiles, WriteThenRead) {
  std::mt19937 rng(7);
  const Tensor t = random_tensor({3, 4, 5}, rng);
  const std::string path = dir_ / "t.npy";
  write(path, t);
  expect_same_bits(read(path), t);
  EXPECT_EQ(entries(), std::vector<std::string>{"t.npy"});  // no temporary file left behind
  // The file holds exactly serialize()'s bytes.
  std::ifstream in(path, std::ios::binary);
  const Bytes on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, serialize(t));
}

TEST_F(NpyFiles, WriteReplacesAnExistingFile) {
  const std::string path = dir_ / "t.npy";
  write(path, Tensor({2}, {1, 2}));
  write(path, Tensor({3}, {4, 5, 6}));
  EXPECT_EQ(read(path).values(), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(entries(), std::vector<std::string>{"t.npy"});
}

TEST_F(NpyFiles, WriteGivesTheUsualFileMode) {
  const std::string path = dir_ / "t.npy";
  const mode_t mask = ::umask(022);  // this test is single-threaded; restore the mask afterwards
  write(path, Tensor(Shape{1}, 1.0f));
  ::umask(mask);
  const auto permissions = std::filesystem::status(path).permissions();
  using std::filesystem::perms;
  EXPECT_EQ(permissions & perms::all, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
}

TEST_F(NpyFiles, WriteIntoAMissingDirectoryThrowsAndLeavesNothing) {
  const std::string path = dir_ / "missing" / "t.npy";
  const std::string message = error_of([&] { write(path, Tensor({2}, {1, 2})); });
  EXPECT_THAT(message, HasSubstr(path));
  EXPECT_THAT(message, HasSubstr("No such file or directory"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "missing"));
  EXPECT_TRUE(entries().empty());
}

TEST_F(NpyFiles, WritingOverADirectoryFailsAndLeavesNothing) {
  const std::filesystem::path target = dir_ / "t.npy";
  std::filesystem::create_directories(target / "child");
  const std::string message = error_of([&] { write(target, Tensor({2}, {1, 2})); });
  EXPECT_THAT(message, HasSubstr(target.string() + ": cannot write: it is a directory"));
  EXPECT_EQ(entries(), std::vector<std::string>{"t.npy"});
  EXPECT_TRUE(std::filesystem::is_directory(target / "child"));
}

TEST_F(NpyFiles, ReadErrorsNameThePath) {
  const std::string missing = dir_ / "nope.npy";
  EXPECT_THAT(error_of([&] { read(missing); }), HasSubstr(missing + ": cannot open for reading: No such file"));
  EXPECT_THAT(error_of([&] { read(dir_); }), HasSubstr(dir_.string() + ": cannot read: it is a directory"));
  const std::string bad = dir_ / "bad.npy";
  std::ofstream(bad) << "hello";
  EXPECT_THAT(error_of([&] { read(bad); }), HasSubstr(bad + ": not a .npy file"));
}

// ---- Errors -----------------------------------------------------------------------------------------------

TEST(NpyErrors, NotANpyFile) {
  EXPECT_THAT(parse_error({}), HasSubstr("x.npy: not a .npy file: expected the magic string"));
  EXPECT_THAT(parse_error(bytes_of("PK\x03\x04 zip file")), HasSubstr("x.npy: not a .npy file"));
  EXPECT_THAT(parse_error(bytes_of("\x93NUMPX\x01\x00")), HasSubstr("got \"\\x93NUMPX\""));
}

TEST(NpyErrors, DefaultNameIsMemory) {
  EXPECT_THAT(error_of([] { parse(Bytes{}); }), HasSubstr("<memory>: not a .npy file"));
}

TEST(NpyErrors, TruncatedPreamble) {
  EXPECT_THAT(parse_error(bytes_of("\x93NUM")), HasSubstr("x.npy: truncated preamble: file is 4 bytes"));
  EXPECT_THAT(parse_error(bytes_of(std::string_view("\x93NUMPY\x01\x00\x10", 9))),
              HasSubstr("x.npy: truncated preamble: file is 9 bytes, version 1.0 needs at least 10"));
  EXPECT_THAT(parse_error(bytes_of(std::string_view("\x93NUMPY\x02\x00\x10\x00", 10))),
              HasSubstr("version 2.0 needs at least 12"));
}

TEST(NpyErrors, UnsupportedVersion) {
  Bytes bytes = npy_file(header_dict("<f4", "()"), floats({1}));
  bytes[6] = 4;
  EXPECT_THAT(parse_error(bytes), HasSubstr("x.npy: unsupported .npy format version 4.0; expected 1.0, 2.0 or 3.0"));
  bytes[6] = 1;
  bytes[7] = 1;
  EXPECT_THAT(parse_error(bytes), HasSubstr("version 1.1"));
}

TEST(NpyErrors, HeaderLengthBeyondTheFile) {
  Bytes bytes = npy_file(header_dict("<f4", "()"), floats({1}));
  bytes[8] = 0xff;
  bytes[9] = 0xff;
  EXPECT_THAT(parse_error(bytes), HasSubstr("x.npy: truncated header: the header length field says 65535 bytes, "
                                            "but the file has only 122 after the 10-byte preamble"));
  Bytes v2 = npy_file(header_dict("<f4", "()"), floats({1}), 2);
  v2[11] = 0x80;
  EXPECT_THAT(parse_error(v2), HasSubstr("the header length field says 2147483764 bytes"));
}

TEST(NpyErrors, MissingKey) {
  const std::string message = parse_error(npy_file("{'descr': '<f4', 'fortran_order': False}", floats({1})));
  EXPECT_THAT(message, HasSubstr("x.npy: header is missing key 'shape'"));
  EXPECT_THAT(message, HasSubstr("expected the keys 'descr', 'fortran_order' and 'shape'"));
  EXPECT_THAT(parse_error(npy_file("{}")), HasSubstr("missing key 'descr'"));
}

TEST(NpyErrors, DuplicateKey) {
  EXPECT_THAT(parse_error(npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}")),
              HasSubstr("x.npy: header has duplicate key 'descr'"));
}

TEST(NpyErrors, UnknownKey) {
  EXPECT_THAT(
      parse_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'order': 'C'}", floats({1}))),
      HasSubstr("x.npy: header has unknown key 'order'; expected exactly the keys 'descr', 'fortran_order' and "
                "'shape'"));
}

TEST(NpyErrors, MalformedDict) {
  const auto message = [](const std::string& header) { return parse_error(npy_file(header)); };
  EXPECT_THAT(message("['descr']"), HasSubstr("x.npy: malformed header at byte 0: expected '{' starting the header "
                                              "dict, got '['"));
  EXPECT_THAT(message("{'descr' '<f4'}"), HasSubstr("malformed header at byte 9: expected ':' after the key, got '''"));
  EXPECT_THAT(message("{'descr': '<f4' 'shape': ()}"),
              HasSubstr("expected ',' or '}' after the value of 'descr', got '''"));
  EXPECT_THAT(message("{'descr': '<f4"), HasSubstr("unterminated string"));
  EXPECT_THAT(message("{'descr': '<f4',"), HasSubstr("expected a quoted key"));
  EXPECT_THAT(message("{descr: '<f4'}"), HasSubstr("expected a quoted key ('descr', 'fortran_order' or 'shape') or "
                                                   "'}', got 'd'"));
  EXPECT_THAT(message("{'descr': '<f4',,}"), HasSubstr("expected a quoted key"));
  EXPECT_THAT(message("{'descr': '\\x3cf4'}"), HasSubstr("escape sequences are not supported"));
  EXPECT_THAT(message(header_dict("<f4", "()") + " x"),
              HasSubstr("expected only spaces and a newline after the closing '}', got 'x'"));
  EXPECT_THAT(message("{'descr': 4, 'fortran_order': False, 'shape': ()}"),
              HasSubstr("expected a quoted dtype string like '<f4' as the value of 'descr', got '4'"));
  EXPECT_THAT(message("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}"),
              HasSubstr("expected True or False as the value of 'fortran_order', got '0'"));
  EXPECT_THAT(message("{'descr': '<f4', 'fortran_order': Truee, 'shape': ()}"),
              HasSubstr("expected True or False"));
  // The whole (short) header is quoted, with control characters escaped, on one line.
  const std::string quoted = message("{'descr':\n'<f4' 'x'}");
  EXPECT_THAT(quoted, HasSubstr("(header: \"{'descr':\\n'<f4' 'x'}"));
  EXPECT_EQ(quoted.find('\n'), std::string::npos);
}

TEST(NpyErrors, MalformedShapeTuple) {
  const auto message = [](const std::string& shape) { return parse_error(npy_file(header_dict("<f4", shape))); };
  EXPECT_THAT(message("[2, 3]"), HasSubstr("expected a tuple like (3, 4), (5,) or () as the value of 'shape', got '['"));
  EXPECT_THAT(message("(5)"), HasSubstr("expected ',' before ')': a one-dimensional shape is written (5,)"));
  EXPECT_THAT(message("(,)"), HasSubstr("expected a non-negative integer dimension in the shape tuple, got ','"));
  EXPECT_THAT(message("(2,,3)"), HasSubstr("expected a non-negative integer dimension"));
  EXPECT_THAT(message("(2 3)"), HasSubstr("expected ',' or ')' after a dimension in the shape tuple, got '3'"));
  EXPECT_THAT(message("(2.0,)"), HasSubstr("expected a decimal integer dimension"));
  EXPECT_THAT(message("(0x10,)"), HasSubstr("expected a decimal integer dimension"));
  EXPECT_THAT(message("(2, 3"),  // the dict's own ", }" follows
              HasSubstr("expected a non-negative integer dimension in the shape tuple, got '}'"));
  EXPECT_THAT(parse_error(npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3")),
              HasSubstr("expected ',' or ')' after a dimension in the shape tuple, got the end of the header"));
}

TEST(NpyErrors, NegativeDimension) {
  EXPECT_THAT(parse_error(npy_file(header_dict("<f4", "(2, -3)"))),
              HasSubstr("x.npy: shape dimension 1 is -3; dimensions must be >= 0"));
}

TEST(NpyErrors, DimensionBeyondInt64) {
  EXPECT_THAT(parse_error(npy_file(header_dict("<f4", "(9223372036854775808,)"))),
              HasSubstr("x.npy: shape dimension 0 is 9223372036854775808, which does not fit in int64"));
  // The largest int64 itself parses, and then does not fit the file.
  EXPECT_THAT(parse_error(npy_file(header_dict("<u1", "(9223372036854775807,)"))),
              HasSubstr("needs 9223372036854775807 bytes, file has 0 after the header"));
}

TEST(NpyErrors, ElementCountOverflow) {
  EXPECT_THAT(parse_error(npy_file(header_dict("<f4", "(4294967296, 4294967296)"))),
              HasSubstr("x.npy: shape [4294967296, 4294967296] has too many elements: the product of its dimensions "
                        "overflows int64"));
  EXPECT_THAT(parse_error(npy_file(header_dict("<f8", "(4611686018427387904,)"))),
              HasSubstr("x.npy: shape [4611686018427387904] of float64 is too large: its byte size overflows int64"));
  // With a zero extent the others must still multiply within int64.
  EXPECT_THAT(parse_error(npy_file(header_dict("<f4", "(0, 4294967296, 4294967296)"))),
              HasSubstr("too many elements"));
}

TEST(NpyErrors, TruncatedData) {
  EXPECT_THAT(parse_error(npy_file(header_dict("<f4", "(3, 4)"), Bytes(20, 0))),
              HasSubstr("x.npy: truncated data: shape [3, 4] of float32 needs 48 bytes, file has 20 after the header"));
  EXPECT_THAT(parse_error(npy_file(header_dict("<f4", "()"))),
              HasSubstr("shape [] of float32 needs 4 bytes, file has 0 after the header"));
  // A huge declared size is rejected before anything is allocated.
  EXPECT_THAT(parse_error(npy_file(header_dict("<i8", "(1000000000000,)"), Bytes(8, 0))),
              HasSubstr("shape [1000000000000] of int64 needs 8000000000000 bytes, file has 8 after the header"));
}

// A 200,000-dimension header made a 600 KB message: shapes list at most 16 values.
TEST(NpyErrors, LongShapesAreCutInMessages) {
  std::string shape = "(";
  for (int i = 0; i < 200000; ++i) shape += "1, ";
  const std::string message = parse_error(npy_file(header_dict("<f4", shape + ")"), Bytes(8, 0), 2));
  EXPECT_THAT(message, HasSubstr("shape [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ... (200000 values)] of "
                                 "float32 needs 4 bytes, file has 8"));
  EXPECT_LT(message.size(), 300u);
}

TEST(NpyErrors, TrailingData) {
  EXPECT_THAT(parse_error(npy_file(header_dict("<i2", "(2,)"), Bytes(7, 0))),
              HasSubstr("x.npy: trailing data: shape [2] of int16 needs 4 bytes, file has 7 after the header (3 extra)"));
}

TEST(NpyErrors, UnsupportedDtypes) {
  for (const std::string descr : {"<c8", "<c16", "|S5", "<U3", "|O", "<M8[ns]", "|V4", "<f16", "<i3", "", "f"}) {
    SCOPED_TRACE(descr);
    const std::string message = parse_error(npy_file(header_dict(descr, "()"), Bytes(4, 0)));
    EXPECT_THAT(message, HasSubstr("x.npy: unsupported dtype '" + descr + "'"));
    EXPECT_THAT(message, HasSubstr("supported are f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 and b1"));
  }
  EXPECT_THAT(parse_error(npy_file(header_dict("|f4", "()"), Bytes(4, 0))),
              HasSubstr("byte order '|' (not applicable) is only valid for one-byte types"));
  EXPECT_THAT(parse_error(npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}", Bytes(4, 0))),
              HasSubstr("x.npy: unsupported dtype: structured dtypes (a list as 'descr') are not supported"));
  // A version 3.0 header is UTF-8: well-formed characters are shown, anything else is escaped.
  EXPECT_THAT(parse_error(npy_file(header_dict("<f\xc3\xa9", "()"), Bytes(4, 0), 3)),
              HasSubstr("unsupported dtype '<f\xc3\xa9'"));
  EXPECT_THAT(parse_error(npy_file(header_dict("<f\xc3\x1b", "()"), Bytes(4, 0), 3)),
              HasSubstr("unsupported dtype '<f\\xc3\\x1b'"));
}

TEST(NpyDtypes, DescrWithoutByteOrderIsNative) {
  const Tensor t = parse_bytes(npy_file(header_dict("u2", "()"), std::endian::native == std::endian::little
                                                                      ? Bytes{0x01, 0x02}
                                                                      : Bytes{0x02, 0x01}));
  EXPECT_EQ(t[0], 513.0f);
}

}  // namespace
}  // namespace convkit::npy
