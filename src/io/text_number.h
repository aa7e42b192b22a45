// Reading one number from text, shared by the CSV and kernel text readers (internal header).
#pragma once

#include <charconv>
#include <limits>
#include <optional>
#include <string_view>

namespace convkit::io {

// The whole of `text` as a float, or nothing when it is not a number within double's range. The
// syntax is C strtod's without hex ("1", "-2.5e3", "nan", "inf", "infinity") plus an optional leading
// '+', which std::from_chars does not take. Like numpy.loadtxt(dtype=float32) the text is read as a
// double and then rounded to float, so values beyond float's range become +-inf or 0.
inline std::optional<float> parse_float(std::string_view text) {
  if (text.size() > 1 && text[0] == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  static_assert(std::numeric_limits<float>::is_iec559, "IEEE rounding of double to float (overflow to inf)");
  return static_cast<float>(value);
}

}  // namespace convkit::io
