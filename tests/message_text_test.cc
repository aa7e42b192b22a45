// Text from input files in error messages (convkit/error.h): escaped so a message stays one line and
// cannot drive the terminal, and cut so a hostile file cannot make a huge message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "convkit/error.h"

namespace convkit {
namespace {

std::string message_of(const std::vector<int64_t>& shape) {
  try {
    fail("shape ", shape);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MessageText, ControlCharactersAndMalformedUtf8AreEscaped) {
  EXPECT_EQ(escaped(std::string_view("a\0b\x1b[0m\n\t\r\\", 11)), "a\\x00b\\x1b[0m\\n\\t\\r\\\\");
  EXPECT_EQ(escaped("\x7f"), "\\x7f");
  EXPECT_EQ(escaped("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(escaped("\xC2\x9B" "31m"), "\\xc2\\x9b31m");  // U+009B, the C1 control sequence introducer
  EXPECT_EQ(escaped("\xC0\xAF \xED\xA0\x80 \xF4\x90\x80\x80 \xC3"),  // overlong, surrogate, > U+10FFFF, cut
            "\\xc0\\xaf \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 \\xc3");
}

TEST(MessageText, LongTextAndShapesAreCut) {
  EXPECT_EQ(escaped(std::string(500, 'x')), std::string(200, 'x') + "...");
  EXPECT_EQ(escaped("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xC3\xA9...");  // characters, not bytes
  EXPECT_EQ(escaped("abc", 3), "abc");
  EXPECT_EQ(message_of({1, 2, 3}), "shape [1, 2, 3]");
  std::vector<int64_t> shape(200000, 7);
  EXPECT_EQ(message_of(shape), "shape [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, ... (200000 values)]");
  shape.resize(16);
  EXPECT_EQ(message_of(shape), "shape [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]");
}

}  // namespace
}  // namespace convkit
