// Allocations that fail with a convkit::Error saying what needed how much memory ("out of memory: the
// spatial staging rows need 12.3 GB") instead of a bare std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <string_view>

#include "convkit/error.h"

namespace convkit::cpu {

// 1536 -> "1.5 KB", 12.3e9 -> "12.3 GB" (powers of 1000, as `ls -h --si` and /usr/bin/time's readers expect).
inline std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
  size_t unit = 0;
  while (bytes >= 1000 && unit + 1 < std::size(kUnits)) bytes /= 1000, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, unit ? "%.1f %s" : "%.0f %s", bytes, kUnits[unit]);
  return text;
}

[[noreturn]] inline void fail_out_of_memory(std::string_view what, double bytes) {
  fail("out of memory: ", what, " needs ", format_bytes(bytes));
}

// allocate() (which allocates `count` elements of `element_bytes` for `what`), with its std::bad_alloc
// (or a size beyond the address space) reported as fail_out_of_memory.
template <class Allocate>
auto allocating(std::string_view what, int64_t count, std::size_t element_bytes, Allocate&& allocate) {
  const double bytes = static_cast<double>(count) * static_cast<double>(element_bytes);
  if (count < 0 || bytes >= static_cast<double>(PTRDIFF_MAX)) fail_out_of_memory(what, bytes);
  try {
    return allocate();
  } catch (const std::bad_alloc&) {
    fail_out_of_memory(what, bytes);
  }
}

}  // namespace convkit::cpu
