#include "convkit/kernel_text.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "convkit/error.h"
#include "files.h"
#include "text_number.h"

namespace convkit::kernel_text {
namespace {

constexpr int kMaxRank = 3;

// A finite float from a token, or an Error naming where it was.
float kernel_value(std::string_view token, std::string_view name, int64_t line) {
  const std::optional<float> value = io::parse_float(token);
  const std::string shown = escaped(token, 40);
  if (!value) fail(name, ":", line, ": '", shown, "' is not a number");
  if (!std::isfinite(*value)) fail(name, ":", line, ": '", shown, "' is not a finite float; kernel values must be");
  return *value;
}

// The numbers of one row: separated by blanks and/or one comma; a trailing comma is allowed.
std::vector<float> row_values(std::string_view line, std::string_view name, int64_t line_number) {
  std::vector<float> values;
  auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  size_t i = 0;
  while (i < line.size()) {
    const size_t start = i;
    while (i < line.size() && !is_blank(line[i]) && line[i] != ',') ++i;
    if (i == start)
      fail(name, ":", line_number, ": two commas in a row; expected numbers separated by blanks or one comma");
    values.push_back(kernel_value(line.substr(start, i - start), name, line_number));
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i < line.size() && line[i] == ',') ++i;
    while (i < line.size() && is_blank(line[i])) ++i;
  }
  return values;
}

Tensor parse_plain(std::string_view text, std::string_view name) {
  std::vector<float> values;
  size_t width = 0;            // numbers per row, from the first row
  int64_t first_row_line = 0;  // for messages
  int64_t slices = 0, rows_per_slice = 0, rows_in_slice = 0;
  auto end_slice = [&](int64_t line) {
    if (rows_in_slice == 0) return;
    if (slices == 1) rows_per_slice = rows_in_slice;
    if (rows_in_slice != rows_per_slice)
      fail(name, ":", line, ": slice ", slices, " has ", rows_in_slice, " rows; expected ", rows_per_slice,
           " as slice 1 (blank lines separate the slices of a 3D kernel)");
    rows_in_slice = 0;
  };
  int64_t line_number = 0;
  for (size_t start = 0; start <= text.size();) {
    const size_t newline = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, newline - start);
    start = newline + 1;
    ++line_number;
    const bool comment = line.find('#') != std::string_view::npos;
    line = line.substr(0, line.find('#'));
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      if (!comment) end_slice(line_number - 1);  // a blank line ends a slice; a comment line does not
      continue;
    }
    const std::vector<float> row = row_values(line.substr(line.find_first_not_of(" \t\r")), name, line_number);
    if (width == 0) width = row.size(), first_row_line = line_number;
    if (row.size() != width)
      fail(name, ":", line_number, ": has ", row.size(), " numbers; expected ", width, " as on line ", first_row_line);
    if (rows_in_slice++ == 0) ++slices;
    values.insert(values.end(), row.begin(), row.end());
  }
  end_slice(line_number);
  if (values.empty()) fail(name, ": no kernel values; expected rows of numbers or nested JSON arrays");
  const auto w = static_cast<int64_t>(width);
  Shape shape = slices > 1           ? Shape{slices, rows_per_slice, w}
                : rows_per_slice > 1 ? Shape{rows_per_slice, w}
                                     : Shape{w};
  return Tensor(std::move(shape), std::move(values));
}

// "[1][2]": where a JSON element is, for messages.
std::string json_path(const std::vector<size_t>& index) {
  std::string path;
  for (size_t i : index) {
    path += '[';
    path += std::to_string(i);
    path += ']';
  }
  return path.empty() ? "the top level" : path;
}

// Appends the numbers of `node` (expected to have `shape` from `depth` on) in row-major order.
void collect_json(const nlohmann::json& node, const Shape& shape, size_t depth, std::vector<size_t>& index,
                  std::vector<float>& values, std::string_view name) {
  if (depth == shape.size()) {
    if (!node.is_number())
      fail(name, ": JSON kernel: ", json_path(index), " is ", node.type_name(), "; expected a number (", shape.size(),
           " levels of arrays, as the first elements have)");
    const double value = node.get<double>();
    if (!std::isfinite(static_cast<float>(value)))
      fail(name, ": JSON kernel: ", json_path(index), " = ", value, " is not a finite float; kernel values must be");
    values.push_back(static_cast<float>(value));
    return;
  }
  if (!node.is_array() || static_cast<int64_t>(node.size()) != shape[depth])
    fail(name, ": JSON kernel: ", json_path(index), " is ", node.is_array() ? "an array of " : node.type_name(),
         node.is_array() ? std::to_string(node.size()) : "", "; expected an array of ", shape[depth],
         " elements as the first one at this depth has (kernel shape ", shape, ")");
  index.push_back(0);
  for (const nlohmann::json& child : node) {
    collect_json(child, shape, depth + 1, index, values, name);
    ++index.back();
  }
  index.pop_back();
}

Tensor parse_json(std::string_view text, std::string_view name) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": not valid JSON: ", e.what());
  }
  Shape shape;  // from the first element at each depth; collect_json checks every other one against it
  for (const nlohmann::json* node = &root; node->is_array(); node = &(*node)[0]) {
    if (node->empty()) fail(name, ": JSON kernel: an empty array; expected nested arrays of numbers");
    if (shape.size() == kMaxRank)
      fail(name, ": JSON kernel is nested more than ", kMaxRank, " levels deep; expected a 1D, 2D or 3D kernel");
    shape.push_back(static_cast<int64_t>(node->size()));
  }
  std::vector<float> values;
  std::vector<size_t> index;
  collect_json(root, shape, 0, index, values, name);
  return Tensor(std::move(shape), std::move(values));
}

}  // namespace

Tensor parse(std::string_view text, std::string_view name) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // a UTF-8 byte order mark (Windows editors)
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') return parse_json(text, name);
  return parse_plain(text, name);
}

Tensor read(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

}  // namespace convkit::kernel_text
