// Checked int64 arithmetic for everything that computes a size (output sizes, pads, element counts,
// MAC counts): a result that does not fit in int64 is a convkit::Error with the caller's message
// (naming the argument and its values), never a wrapped-around size.
#pragma once

#include <cstdint>

#include "convkit/error.h"

namespace convkit {

// a + b, or fail(message...) when the sum does not fit in int64.
template <class... Parts>
int64_t checked_add(int64_t a, int64_t b, const Parts&... message) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) fail(message...);
  return sum;
}

// a * b, or fail(message...) when the product does not fit in int64.
template <class... Parts>
int64_t checked_mul(int64_t a, int64_t b, const Parts&... message) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) fail(message...);
  return product;
}

// A formula of several steps with one message: each step records whether it overflowed, and the
// caller checks once, e.g.  Checked c; x = c.add(c.mul(a, b), d); if (c.overflowed) fail(...);
struct Checked {
  bool overflowed = false;
  int64_t add(int64_t a, int64_t b) {
    int64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum)) overflowed = true;
    return sum;
  }
  int64_t sub(int64_t a, int64_t b) {
    int64_t difference = 0;
    if (__builtin_sub_overflow(a, b, &difference)) overflowed = true;
    return difference;
  }
  int64_t mul(int64_t a, int64_t b) {
    int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product)) overflowed = true;
    return product;
  }
};

}  // namespace convkit
