#include "convkit/csv.h"

#include <cstdio>
#include <optional>

#include "convkit/error.h"
#include "convkit/files.h"
#include "files.h"
#include "text_number.h"

namespace convkit::csv {
namespace {

constexpr std::string_view kBlanks = " \t\r\v\f";  // around fields; a line of only these is blank

std::string_view trimmed(std::string_view text) {
  const size_t first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

// The comma-separated fields of one line, each trimmed.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trimmed(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return fields;
    start = comma + 1;
  }
}

// A field for error messages: quoted, escaped, long ones cut.
std::string quoted(std::string_view field) {
  std::string text(1, '\'');  // built by appending: "'" + std::string trips GCC 12's bogus -Wrestrict
  text += escaped(field, 40);
  text += '\'';
  return text;
}

}  // namespace

Signals parse(std::string_view text, std::string_view name) {
  Signals result;
  std::vector<float> rows;  // row-major samples, transposed to (C, L) at the end
  size_t columns = 0;
  int64_t line_number = 0;
  bool first = true;
  for (size_t start = 0; start < text.size();) {
    const size_t newline = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, newline - start);
    start = newline + 1;
    ++line_number;
    // Excel's "CSV UTF-8" starts with a byte order mark; left in, it would make the first field text.
    // Skipped before the first header or data line (after blanks too), so no first name starts with one.
    while (first && trimmed(line).starts_with("\xEF\xBB\xBF")) line = trimmed(line).substr(3);
    if (trimmed(line).empty() || trimmed(line).front() == '#') continue;
    const std::vector<std::string_view> fields = fields_of(line);
    if (first) {
      first = false;
      columns = fields.size();
      bool header = false;
      for (std::string_view field : fields) header = header || !io::parse_float(field);
      if (header) {
        for (std::string_view field : fields) result.names.emplace_back(field);
        continue;
      }
    }
    if (fields.size() != columns)
      fail(name, ":", line_number, ": has ", fields.size(), " fields; expected ", columns, " as on the first line");
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::optional<float> value = io::parse_float(fields[i]);
      if (!value) fail(name, ":", line_number, ": field ", i + 1, " ", quoted(fields[i]), " is not a number");
      rows.push_back(*value);
    }
  }
  if (rows.empty()) fail(name, ": has no data lines; expected one line of numbers per sample, one column per channel");
  const auto channels = static_cast<int64_t>(columns), length = static_cast<int64_t>(rows.size() / columns);
  result.values = Tensor({channels, length});
  for (int64_t t = 0; t < length; ++t)
    for (int64_t c = 0; c < channels; ++c) result.values[c * length + t] = rows[static_cast<size_t>(t * channels + c)];
  return result;
}

Signals read(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

std::string serialize(const Signals& signals) {
  const Tensor& values = signals.values;
  if (values.rank() != 2 || values.dim(0) < 1 || values.dim(1) < 1)
    fail("csv::serialize: signals must have shape (C, L) with C, L >= 1, but got ", values.shape());
  const int64_t channels = values.dim(0), length = values.dim(1);
  if (!signals.names.empty() && static_cast<int64_t>(signals.names.size()) != channels)
    fail("csv::serialize: ", signals.names.size(), " column names given for ", channels, " channels");
  std::string text;
  for (size_t c = 0; c < signals.names.size(); ++c) {
    const std::string& column = signals.names[c];
    if (column.find_first_of(",\n") != std::string::npos || trimmed(column) != column ||
        (c == 0 && (column.starts_with('#') || column.starts_with("\xEF\xBB\xBF"))))
      fail("csv::serialize: column name ", quoted(column),
           " cannot be written (it has a comma, a newline, surrounding blanks, or a leading '#' or byte order mark)");
    text += (c ? "," : "") + column;
  }
  if (!signals.names.empty()) {
    // parse() takes the first line for a header only when it is not blank and not all numbers.
    bool header = false;
    for (std::string_view field : fields_of(text)) header = header || !io::parse_float(field);
    if (trimmed(text).empty() || !header)
      fail("csv::serialize: column names '", text, "' would read back as data; give at least one non-numeric name");
    text += '\n';
  }
  char number_text[32];
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      std::snprintf(number_text, sizeof number_text, "%s%.9g", c ? "," : "",
                    static_cast<double>(values[c * length + t]));
      text += number_text;
    }
    text += '\n';
  }
  return text;
}

void write(const std::string& path, const Signals& signals) {
  const std::string text = serialize(signals);
  files::write_atomically(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace convkit::csv
