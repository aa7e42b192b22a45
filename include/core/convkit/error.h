// The one error type of convkit. Every message names the argument, the value it got and what was
// expected, e.g. "groups=3 does not divide in_channels=64".
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace convkit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// A message lists at most this many values of a shape or list: a 200,000-dimension shape read from a
// file must not make a 600 KB message.
inline constexpr size_t kMaxListedValues = 16;

// Shapes and per-axis values print as [a, b, c], long ones as [a, b, ..., p, ... (200000 values)].
inline void append(std::ostream& out, std::span<const int64_t> values) {
  const size_t listed = std::min(values.size(), kMaxListedValues);
  out << '[';
  for (size_t i = 0; i < listed; ++i) out << (i ? ", " : "") << values[i];
  if (listed < values.size()) out << ", ... (" << values.size() << " values)";
  out << ']';
}
inline void append(std::ostream& out, const std::vector<int64_t>& values) { append(out, std::span(values)); }
template <class T>
void append(std::ostream& out, const T& value) {
  out << value;
}

// The byte length of the printable UTF-8 character `text` starts with, or 0 for a control character
// (C0, DEL or C1) or a byte that does not start a well-formed sequence (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF).
inline size_t printable_character(std::string_view text) {
  const auto byte = [&](size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
  const unsigned lead = byte(0);
  if (lead >= 0x20 && lead < 0x7f) return 1;
  size_t length = 0;
  unsigned low = 0x80, high = 0xbf;  // the range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    if (lead == 0xc2) low = 0xa0;  // U+0080..U+009F are the C1 controls
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t i = 2; i < length; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  return length;
}
}  // namespace detail

// Text read from an input file, made safe to print in a message: control characters and bytes that are
// not well-formed UTF-8 escaped (\n, \t, \r, \\, otherwise \xNN, e.g. NUL as \x00 and ESC as \x1b), so a
// message stays one line and cannot drive the terminal; cut after `limit` characters with "...".
inline std::string escaped(std::string_view text, size_t limit = 200) {
  std::string out;
  size_t characters = 0;
  for (size_t i = 0; i < text.size(); ++characters) {
    if (characters == limit) return out + "...";
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = c == '\\' ? 0 : detail::printable_character(text.substr(i));
    if (length > 0) {
      out += text.substr(i, length);
      i += length;
      continue;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default: out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    }
    ++i;
  }
  return out;
}

// Builds a message from streamable parts and throws it: fail("groups=", g, " must be >= 1").
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (detail::append(message, parts), ...);
  throw Error(message.str());
}

}  // namespace convkit
