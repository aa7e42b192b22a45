// NumPy .npy reader and writer. Format reference:
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
// File layout: magic "\x93NUMPY", major and minor version bytes, the header length (uint16 LE for
// version 1.0, uint32 LE for 2.0 and 3.0), the header (a Python dict literal with exactly the keys
// 'descr', 'fortran_order' and 'shape', padded with spaces and ending in '\n'), then the raw data.
#include "convkit/npy.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "convkit/error.h"
#include "convkit/files.h"
#include "files.h"
#include "float_narrowing.h"

namespace convkit::npy {
namespace {

constexpr std::array<uint8_t, 6> kMagic = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kAlignment = 64;  // numpy pads the header so the data starts at a multiple of this
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

std::string_view as_chars(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// ---- Element decoding -------------------------------------------------------------------------------

enum class Kind { kFloat, kSigned, kUnsigned, kBool };

// The `Size`-byte unsigned integer at `p`, stored little- or big-endian (independent of the host).
template <int Size, bool BigEndian>
uint64_t load_bits(const uint8_t* p) {
  uint64_t bits = 0;
  for (int i = 0; i < Size; ++i) bits |= uint64_t{p[i]} << (8 * (BigEndian ? Size - 1 - i : i));
  return bits;
}

// IEEE 754 binary16 to binary32, exactly (every half value is representable as a float).
float half_to_float(uint16_t half) {
  const uint32_t sign = (uint32_t{half} & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // infinity or NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);  // normal
  } else if (mantissa != 0) {
    // Subnormal: mantissa * 2^-24. Shift the leading 1 up to the implicit bit position.
    int shift = 0;
    uint32_t m = mantissa;
    while ((m & 0x400u) == 0) {
      m <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(127 - 15 + 1 - shift) << 23) | ((m & 0x3ffu) << 13);
  } else {
    bits = sign;  // signed zero
  }
  return std::bit_cast<float>(bits);
}

template <Kind K, int Size>
float to_float(uint64_t bits) {
  if constexpr (K == Kind::kFloat && Size == 2) {
    return half_to_float(static_cast<uint16_t>(bits));
  } else if constexpr (K == Kind::kFloat && Size == 4) {
    return std::bit_cast<float>(static_cast<uint32_t>(bits));
  } else if constexpr (K == Kind::kFloat && Size == 8) {
    return io::narrow_to_float(std::bit_cast<double>(bits));
  } else if constexpr (K == Kind::kSigned) {
    constexpr int kUnused = 64 - 8 * Size;  // sign-extend (well defined in C++20)
    return static_cast<float>(static_cast<int64_t>(bits << kUnused) >> kUnused);
  } else if constexpr (K == Kind::kUnsigned) {
    return static_cast<float>(bits);
  } else {
    static_assert(K == Kind::kBool && Size == 1);
    return bits != 0 ? 1.0f : 0.0f;
  }
}

using Decoder = void (*)(const uint8_t* source, float* target, int64_t count);

template <Kind K, int Size, bool BigEndian>
void decode(const uint8_t* source, float* target, int64_t count) {
  for (int64_t i = 0; i < count; ++i, source += Size) target[i] = to_float<K, Size>(load_bits<Size, BigEndian>(source));
}

struct DtypeInfo {
  std::string_view code;  // descr without the byte order character, e.g. "f4"
  const char* name;       // numpy's name, e.g. "float32"
  int size;               // bytes per element
  Decoder little;
  Decoder big;
};

template <Kind K, int Size>
constexpr DtypeInfo dtype(std::string_view code, const char* name) {
  return {code, name, Size, &decode<K, Size, false>, &decode<K, Size, true>};
}

constexpr std::array kDtypes = {
    dtype<Kind::kFloat, 4>("f4", "float32"),    dtype<Kind::kFloat, 8>("f8", "float64"),
    dtype<Kind::kFloat, 2>("f2", "float16"),    dtype<Kind::kSigned, 1>("i1", "int8"),
    dtype<Kind::kSigned, 2>("i2", "int16"),     dtype<Kind::kSigned, 4>("i4", "int32"),
    dtype<Kind::kSigned, 8>("i8", "int64"),     dtype<Kind::kUnsigned, 1>("u1", "uint8"),
    dtype<Kind::kUnsigned, 2>("u2", "uint16"),  dtype<Kind::kUnsigned, 4>("u4", "uint32"),
    dtype<Kind::kUnsigned, 8>("u8", "uint64"),  dtype<Kind::kBool, 1>("b1", "bool"),
};

constexpr const char* kSupportedDtypes =
    "supported are f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 and b1 with byte order '<', '>' or '=' "
    "('|' for the one-byte types), e.g. '<f4'";

struct Dtype {
  const DtypeInfo* info;
  Decoder decoder;
};

Dtype parse_dtype(std::string_view descr, std::string_view name) {
  std::string_view code = descr;
  char order = '=';  // numpy reads a descr without a byte order character as native
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    order = code[0];
    code.remove_prefix(1);
  }
  for (const DtypeInfo& info : kDtypes) {
    if (info.code != code) continue;
    if (order == '|' && info.size != 1)
      fail(name, ": unsupported dtype '", escaped(descr), "': byte order '|' (not applicable) is only valid for ",
           "one-byte types; ", kSupportedDtypes);
    const bool big = order == '>' || (order == '=' && std::endian::native == std::endian::big);
    return {&info, big ? info.big : info.little};
  }
  fail(name, ": unsupported dtype '", escaped(descr), "'; ", kSupportedDtypes);
}

// ---- Header parsing -----------------------------------------------------------------------------------

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A strict parser for the header's Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Keys in any order, single or double quotes, any whitespace, optional trailing commas.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  Header parse() {
    Header header;
    std::array<bool, 3> seen{};
    skip_space();
    expect('{', "'{' starting the header dict");
    skip_space();
    while (!at('}')) {
      if (!at('\'') && !at('"')) error("expected a quoted key ('descr', 'fortran_order' or 'shape') or '}'");
      const std::string key = parse_string();
      const int slot = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : -1;
      if (slot < 0)
        fail(name_, ": header has unknown key '", escaped(key), "'; expected exactly the keys 'descr', ",
             "'fortran_order' and 'shape'");
      if (seen[static_cast<size_t>(slot)]) fail(name_, ": header has duplicate key '", key, "'");
      seen[static_cast<size_t>(slot)] = true;
      skip_space();
      expect(':', "':' after the key");
      skip_space();
      if (slot == 0) header.descr = parse_descr();
      if (slot == 1) header.fortran_order = parse_bool();
      if (slot == 2) header.shape = parse_shape();
      skip_space();
      if (at(',')) {
        ++pos_;
        skip_space();
      } else if (!at('}')) {
        error("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error("expected only spaces and a newline after the closing '}'");
    static constexpr std::array<const char*, 3> kKeys = {"descr", "fortran_order", "shape"};
    for (size_t i = 0; i < kKeys.size(); ++i)
      if (!seen[i])
        fail(name_, ": header is missing key '", kKeys[i], "'; expected the keys 'descr', 'fortran_order' and ",
             "'shape' (header: \"", quoted_header(), "\")");
    return header;
  }

 private:
  // The header without its padding, escaped and shortened, for error messages.
  std::string quoted_header() const {
    const size_t end = text_.find_last_not_of(" \t\n\r\f");
    return escaped(text_.substr(0, end == std::string_view::npos ? 0 : end + 1), 120);
  }

  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  static bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r' ||
            text_[pos_] == '\f'))
      ++pos_;
  }

  [[noreturn]] void error(const std::string& what) const {
    const std::string got = pos_ < text_.size() ? "'" + escaped(text_.substr(pos_, 1)) + "'" : "the end of the header";
    fail(name_, ": malformed header at byte ", pos_, ": ", what, ", got ", got, " (header: \"", quoted_header(),
         "\")");
  }

  void expect(char c, const char* what) {
    if (!at(c)) error(std::string("expected ") + what);
    ++pos_;
  }

  // A quoted string without escapes (none of the valid keys or descrs need any).
  std::string parse_string() {
    const char quote = text_[pos_];
    const size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') error("escape sequences are not supported in header strings");
      if (text_[pos_] == '\n') error("unterminated string");
      ++pos_;
    }
    if (pos_ == text_.size()) error("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  std::string parse_descr() {
    if (at('['))
      fail(name_, ": unsupported dtype: structured dtypes (a list as 'descr') are not supported; ",
           kSupportedDtypes);
    if (!at('\'') && !at('"')) error("expected a quoted dtype string like '<f4' as the value of 'descr'");
    return parse_string();
  }

  bool parse_bool() {
    const size_t start = pos_;
    while (pos_ < text_.size() && is_word_char(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (word == "True") return true;
    if (word == "False") return false;
    pos_ = start;
    error("expected True or False as the value of 'fortran_order'");
  }

  Shape parse_shape() {
    if (!at('(')) error("expected a tuple like (3, 4), (5,) or () as the value of 'shape'");
    ++pos_;
    skip_space();
    Shape shape;
    bool trailing_comma = false;
    while (!at(')')) {
      shape.push_back(parse_dim(shape.size()));
      skip_space();
      trailing_comma = at(',');
      if (trailing_comma) {
        ++pos_;
        skip_space();
      } else if (!at(')')) {
        error("expected ',' or ')' after a dimension in the shape tuple");
      }
    }
    if (shape.size() == 1 && !trailing_comma) error("expected ',' before ')': a one-dimensional shape is written (5,)");
    ++pos_;
    return shape;
  }

  // A decimal integer (Python 2 files may append 'L'); negative values and int64 overflow are errors.
  int64_t parse_dim(size_t index) {
    const size_t start = pos_;
    const bool negative = at('-');
    if (negative || at('+')) ++pos_;
    if (pos_ == text_.size() || text_[pos_] < '0' || text_[pos_] > '9')
      error("expected a non-negative integer dimension in the shape tuple");
    int64_t value = 0;
    bool overflow = false;
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
      const int digit = text_[pos_] - '0';
      if (value > (kInt64Max - digit) / 10) overflow = true;
      if (!overflow) value = value * 10 + digit;
    }
    if (at('L') || at('l')) ++pos_;
    if (pos_ < text_.size() && is_word_char(text_[pos_])) error("expected a decimal integer dimension in the shape tuple");
    const std::string_view digits = text_.substr(start, pos_ - start);
    if (overflow)
      fail(name_, ": shape dimension ", index, " is ", escaped(digits), ", which does not fit in int64");
    if (negative && value != 0)
      fail(name_, ": shape dimension ", index, " is ", escaped(digits), "; dimensions must be >= 0");
    return value;
  }

  std::string_view text_;
  std::string_view name_;
  size_t pos_ = 0;
};

// ---- Writing helpers ------------------------------------------------------------------------------------

std::vector<uint8_t> serialize_for(const Tensor& tensor, std::string_view context) {
  const Shape& shape = tensor.shape();
  int64_t count = 1;
  for (int64_t extent : shape) {
    if (extent < 0) fail(context, ": cannot serialize a tensor with shape ", shape, ": it has a negative extent");
    if (extent != 0 && count > kInt64Max / extent)
      fail(context, ": cannot serialize a tensor with shape ", shape, ": its element count overflows int64");
    count *= extent;
  }
  if (count != tensor.numel())
    fail(context, ": cannot serialize a tensor with ", tensor.numel(), " values for shape ", shape, " which holds ",
         count, " (a default-constructed Tensor has no values; a scalar is Tensor(Shape{}))");

  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dict += ',';
  dict += "), }";
  // Like numpy (>= 1.24), leave room for the first extent to grow to 21 digits, so the header can be
  // rewritten in place when data is appended.
  if (!shape.empty()) dict.append(21 - std::to_string(shape[0]).size(), ' ');

  // Exactly numpy's padding: spaces then '\n' so that magic + version + length + header is a multiple of
  // 64 (a full 64 spaces when it already is). Version 2.0 only when the header does not fit in a uint16.
  int major = 1;
  size_t prefix = kMagic.size() + 2 + 2;
  size_t padded = 0;
  for (;;) {
    const size_t unpadded = dict.size() + 1;
    padded = unpadded + (kAlignment - (prefix + unpadded) % kAlignment);
    if (major == 2 || padded <= std::numeric_limits<uint16_t>::max()) break;
    major = 2;
    prefix = kMagic.size() + 2 + 4;
  }
  const size_t data_bytes = static_cast<size_t>(count) * sizeof(float);

  // Filled by offset into a vector of the final size (reserve + insert trips a bogus GCC 12
  // -Wstringop-overflow at -O2).
  std::vector<uint8_t> out(prefix + padded + data_bytes);
  std::fill_n(out.begin(), prefix + padded, ' ');
  std::copy(kMagic.begin(), kMagic.end(), out.begin());
  out[6] = static_cast<uint8_t>(major);
  out[7] = 0;
  for (size_t i = 0; i < prefix - 8; ++i) out[8 + i] = static_cast<uint8_t>(padded >> (8 * i));
  std::copy(dict.begin(), dict.end(), out.begin() + static_cast<std::ptrdiff_t>(prefix));
  const size_t data_start = prefix + padded;
  out[data_start - 1] = '\n';
  uint8_t* target = out.data() + data_start;
  if constexpr (std::endian::native == std::endian::little) {
    if (data_bytes > 0) std::memcpy(target, tensor.data(), data_bytes);
  } else {
    for (int64_t i = 0; i < count; ++i) {
      const auto bits = std::bit_cast<uint32_t>(tensor[i]);
      for (int b = 0; b < 4; ++b) *target++ = static_cast<uint8_t>(bits >> (8 * b));
    }
  }
  return out;
}

}  // namespace

Tensor parse(std::span<const uint8_t> bytes, std::string_view name) {
  // Preamble: magic, version, header length.
  const size_t magic_seen = std::min(bytes.size(), kMagic.size());
  if (!std::equal(kMagic.begin(), kMagic.begin() + static_cast<std::ptrdiff_t>(magic_seen), bytes.begin()) ||
      bytes.empty())
    fail(name, ": not a .npy file: expected the magic string \"\\x93NUMPY\" at the start, got \"",
         escaped(as_chars(bytes.first(magic_seen))), "\"");
  if (bytes.size() < kMagic.size() + 2)
    fail(name, ": truncated preamble: file is ", bytes.size(), " bytes, expected at least ", kMagic.size() + 2,
         " (magic and version)");
  const int major = bytes[6];
  const int minor = bytes[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    fail(name, ": unsupported .npy format version ", major, ".", minor, "; expected 1.0, 2.0 or 3.0");
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = kMagic.size() + 2 + length_bytes;
  if (bytes.size() < header_start)
    fail(name, ": truncated preamble: file is ", bytes.size(), " bytes, version ", major, ".0 needs at least ",
         header_start, " (magic, version and header length)");
  size_t header_length = 0;
  for (size_t i = 0; i < length_bytes; ++i) header_length |= size_t{bytes[8 + i]} << (8 * i);
  const size_t after_preamble = bytes.size() - header_start;
  if (header_length > after_preamble)
    fail(name, ": truncated header: the header length field says ", header_length, " bytes, but the file has only ",
         after_preamble, " after the ", header_start, "-byte preamble");

  // Header dict.
  const Header header = HeaderParser(as_chars(bytes.subspan(header_start, header_length)), name).parse();
  const Dtype dtype = parse_dtype(header.descr, name);

  // Sizes, checked before anything is allocated. With a zero extent the array is empty whatever the other
  // extents are, but the product of the non-zero extents must still fit in int64 (strides are computed
  // from it).
  int64_t nonzero_product = 1;
  bool empty = false;
  for (int64_t extent : header.shape) {
    if (extent == 0) {
      empty = true;
    } else {
      if (nonzero_product > kInt64Max / extent)
        fail(name, ": shape ", header.shape, " has too many elements: the product of its dimensions overflows int64");
      nonzero_product *= extent;
    }
  }
  const int64_t count = empty ? 0 : nonzero_product;
  const int64_t item_size = dtype.info->size;
  if (count > kInt64Max / item_size)
    fail(name, ": shape ", header.shape, " of ", dtype.info->name, " is too large: its byte size overflows int64");
  const auto needed = static_cast<uint64_t>(count * item_size);
  const size_t data_start = header_start + header_length;
  const uint64_t available = bytes.size() - data_start;
  if (available < needed)
    fail(name, ": truncated data: shape ", header.shape, " of ", dtype.info->name, " needs ", needed,
         " bytes, file has ", available, " after the header");
  if (available > needed)
    fail(name, ": trailing data: shape ", header.shape, " of ", dtype.info->name, " needs ", needed,
         " bytes, file has ", available, " after the header (", available - needed, " extra)");

  // Data.
  const uint8_t* source = bytes.data() + data_start;
  Tensor result(header.shape);
  if (!header.fortran_order || header.shape.size() < 2) {
    dtype.decoder(source, result.data(), count);
    return result;
  }
  // Fortran order: decode in file order, then walk the C-order result keeping the offset of the same
  // element in the column-major source up to date. Extent-1 axes do not affect either layout and are
  // dropped first, so every remaining axis has extent >= 2 and the walk is amortised O(1) per element.
  std::vector<float> column_major(static_cast<size_t>(count));
  dtype.decoder(source, column_major.data(), count);
  Shape extents, strides;  // the kept axes in C order, with their column-major strides
  int64_t stride = 1;
  for (int64_t extent : header.shape) {
    if (extent != 1) {
      extents.push_back(extent);
      strides.push_back(stride);
    }
    stride *= extent;  // a product of non-zero extents (checked above) or 0: no overflow
  }
  Shape index(extents.size(), 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    result[i] = column_major[static_cast<size_t>(offset)];
    for (size_t axis = extents.size(); axis-- > 0;) {
      offset += strides[axis];
      if (++index[axis] < extents[axis]) break;
      offset -= strides[axis] * extents[axis];
      index[axis] = 0;
    }
  }
  return result;
}

Tensor read(const std::string& path) { return parse(io::read_file(path), path); }

std::vector<uint8_t> serialize(const Tensor& tensor) { return serialize_for(tensor, "npy::serialize"); }

void write(const std::string& path, const Tensor& tensor) {
  files::write_atomically(path, serialize_for(tensor, path));
}

}  // namespace convkit::npy
