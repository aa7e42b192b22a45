// CSV signals: parsing (header, comments, blanks, CRLF), errors with line numbers, and round trips.
#include "convkit/csv.h"

#include <gtest/gtest.h>

#include <cstring>

#include "convkit/error.h"
#include "scratch_dir.h"
#include "test_support.h"

namespace convkit {
namespace {

std::string error_of(std::string_view text) {
  try {
    csv::parse(text, "s.csv");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Csv, ColumnsBecomeChannels) {
  const csv::Signals s = csv::parse("# a comment\nx, y\n1, 10\n\n2,20\r\n+3 ,\t-3e1\n");
  EXPECT_EQ(s.names, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(s.values.shape(), (Shape{2, 3}));
  EXPECT_EQ(s.values.values(), (std::vector<float>{1, 2, 3, 10, 20, -30}));
  const csv::Signals bare = csv::parse("0.5\n1.5");  // no header, no final newline
  EXPECT_TRUE(bare.names.empty());
  EXPECT_EQ(bare.values.values(), (std::vector<float>{0.5f, 1.5f}));
  const csv::Signals special = csv::parse("nan,inf,-inf,1e-50\n");
  EXPECT_TRUE(std::isnan(special.values[0]));
  EXPECT_EQ(special.values[1], INFINITY);
  EXPECT_EQ(special.values[2], -INFINITY);
  EXPECT_EQ(special.values[3], 0.0f);  // rounded to float as numpy.float32 does
}

// Found by fuzz/csv_fuzz.cc: a line of only "\r\v" was read as a header that serialize could not write.
TEST(Csv, LinesOfOnlyBlanksAreSkipped) {
  const csv::Signals s = csv::parse(std::string_view("#\r\x11" "0.5\r\n\r\v\n+1.25\r\n"));
  EXPECT_TRUE(s.names.empty());
  EXPECT_EQ(s.values.values(), (std::vector<float>{1.25f}));
  EXPECT_EQ(csv::parse(csv::serialize(s)).values.values(), s.values.values());
  EXPECT_EQ(csv::parse("\f a\v,\tb \r\n1,2\n").names, (std::vector<std::string>{"a", "b"}));
}

TEST(Csv, ErrorsNameTheLine) {
  EXPECT_NE(error_of("a,b\n1,2\n3\n").find("s.csv:3: has 1 fields; expected 2"), std::string::npos);
  EXPECT_NE(error_of("1,2\n3,x\n").find("s.csv:2: field 2 'x' is not a number"), std::string::npos);
  EXPECT_NE(error_of("1,2,3\n1,,2\n").find("s.csv:2: field 2 '' is not a number"), std::string::npos);
  EXPECT_NE(error_of("x,y\n").find("no data lines"), std::string::npos);
  EXPECT_NE(error_of("").find("no data lines"), std::string::npos);
}

// Excel's "CSV UTF-8" starts with a byte order mark: it made the first row a header of text and so
// lost it.
TEST(Csv, ByteOrderMarkIsSkipped) {
  const csv::Signals s = csv::parse("\xEF\xBB\xBF" "1,2\n3,4\n");
  EXPECT_TRUE(s.names.empty());
  EXPECT_EQ(s.values.values(), (std::vector<float>{1, 3, 2, 4}));
  EXPECT_EQ(csv::parse("\xEF\xBB\xBF" "a,b\n1,2\n").names, (std::vector<std::string>{"a", "b"}));
}

// NUL and ESC bytes from the file were printed raw: ESC drives the terminal and NUL cut the message.
TEST(Csv, ControlBytesInMessagesAreEscaped) {
  const std::string message = error_of(std::string_view("a,b\n1,\x1b[31mred\0!\n", 17));
  EXPECT_NE(message.find("s.csv:2: field 2 '\\x1b[31mred\\x00!' is not a number"), std::string::npos) << message;
  EXPECT_NE(error_of("a,b\n1,caf\xC3\xA9\n").find("'caf\xC3\xA9'"), std::string::npos);  // UTF-8 stays readable
}

TEST(Csv, SerializeRoundTripsBitForBit) {
  std::mt19937 rng(testing::kSeed);
  Tensor values = testing::random_tensor({3, 50}, rng);
  values[7] = 1e-30f;
  values[8] = -3.4e38f;
  values[9] = NAN;
  const csv::Signals again = csv::parse(csv::serialize({{"x", "y", "z"}, values}));
  EXPECT_EQ(again.names, (std::vector<std::string>{"x", "y", "z"}));
  ASSERT_EQ(again.values.shape(), values.shape());
  EXPECT_EQ(std::memcmp(again.values.data(), values.data(), sizeof(float) * 150), 0);
  EXPECT_EQ(csv::serialize({{}, Tensor({2, 1}, std::vector<float>{1.5f, -2})}), "1.5,-2\n");
  EXPECT_THROW(csv::serialize({{"a,b"}, Tensor({1, 1})}), Error);
  EXPECT_THROW(csv::serialize({{"1", "2"}, Tensor({2, 1})}), Error);  // would read back as data
  EXPECT_THROW(csv::serialize({{"x"}, Tensor({2, 1})}), Error);
  // Found by fuzz/csv_fuzz.cc: a byte order mark after blanks or comment lines became part of the first
  // name, which then could not be written back.
  EXPECT_EQ(csv::parse("#c\n\r\v\xEF\xBB\xBF x\n1\n").names, std::vector<std::string>{"x"});
  EXPECT_TRUE(csv::parse("\xEF\xBB\xBF#x\n1\n").names.empty());
  EXPECT_THROW(csv::serialize({{"\xEF\xBB\xBFx"}, Tensor({1, 1})}), Error);
  EXPECT_THROW(csv::serialize({{}, Tensor({4})}), Error);
}

TEST(Csv, FilesAreWrittenAtomically) {
  const testing::ScratchDir dir;
  csv::write(dir.file("s.csv"), {{"v"}, Tensor({1, 2}, std::vector<float>{4, 5})});
  EXPECT_EQ(csv::read(dir.file("s.csv")).values.values(), (std::vector<float>{4, 5}));
  EXPECT_THROW(csv::write(dir.file("no/s.csv"), {{}, Tensor({1, 1})}), Error);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"s.csv"}));
}

}  // namespace
}  // namespace convkit
