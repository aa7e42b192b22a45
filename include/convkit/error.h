// The one error type of convkit. Every message names the argument, the value it got and what was
// expected, e.g. "groups=3 does not divide in_channels=64".
#pragma once

#include <cstdint>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace convkit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// Shapes and per-axis values print as [a, b, c].
inline void append(std::ostream& out, std::span<const int64_t> values) {
  out << '[';
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  out << ']';
}
inline void append(std::ostream& out, const std::vector<int64_t>& values) { append(out, std::span(values)); }
template <class T>
void append(std::ostream& out, const T& value) {
  out << value;
}
}  // namespace detail

// Builds a message from streamable parts and throws it: fail("groups=", g, " must be >= 1").
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (detail::append(message, parts), ...);
  throw Error(message.str());
}

}  // namespace convkit
