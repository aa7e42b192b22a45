#include "layer_arguments.h"

#include <algorithm>

#include "convkit/error.h"
#include "convkit/model.h"

namespace convkit::model_io {

std::string shown(const Json& value) {
  // Nested lists and objects show as [...] / {...}, which also keeps dump()'s recursion shallow.
  const auto structured = [](const Json& item) { return item.is_structured(); };
  const bool flat = !value.is_structured() || std::none_of(value.begin(), value.end(), structured);
  std::string text = flat ? value.dump() : value.is_array() ? "[...]" : "{...}";
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
}

std::string joined(const std::vector<std::string_view>& names) {
  std::string text;
  for (std::string_view name : names) text += (text.empty() ? "" : ", ") + std::string(name);
  return text;
}

int64_t size_value(const Json& value, const std::string& what, int64_t min) {
  if (!value.is_number_integer()) fail(what, "=", shown(value), " must be an integer");
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(kMaxModelSize))
    fail(what, "=", shown(value), " exceeds the largest size convkit accepts (", kMaxModelSize, ")");
  const auto number = value.get<int64_t>();
  if (number < min) fail(what, "=", number, " must be ", min == 0 ? ">= 0" : "a positive integer (> 0)");
  if (number > kMaxModelSize)
    fail(what, "=", number, " exceeds the largest size convkit accepts (", kMaxModelSize, ")");
  return number;
}

int64_t Arguments::integer(const char* key, std::optional<int64_t> fallback) const {
  if (!has(key)) return required(key, fallback);
  return size_value(object_.at(key), key, 1);
}

std::vector<int64_t> Arguments::tuple(const char* key, std::optional<int64_t> fallback, bool allow_zero) const {
  if (!has(key)) return std::vector<int64_t>(static_cast<size_t>(rank_), required(key, fallback));
  return tuple(key, std::vector<int64_t>{}, allow_zero);
}

std::vector<int64_t> Arguments::tuple(const char* key, const std::vector<int64_t>& fallback, bool allow_zero) const {
  if (!has(key)) {
    if (fallback.empty()) fail("argument '", key, "' is required");
    return fallback;
  }
  const Json& value = object_.at(key);
  const int64_t min = allow_zero ? 0 : 1;
  if (value.is_number_integer()) return std::vector<int64_t>(static_cast<size_t>(rank_), size_value(value, key, min));
  if (!value.is_array() || value.size() != static_cast<size_t>(rank_))
    fail(key, "=", shown(value), " must be an integer or a list of ", rank_, " integers");
  std::vector<int64_t> values;
  try {
    for (const Json& item : value) values.push_back(size_value(item, key, min));
  } catch (const Error& e) {
    fail(key, "=", shown(value), ": ", e.what());
  }
  return values;
}

bool Arguments::boolean(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!object_.at(key).is_boolean()) fail(key, "=", shown(object_.at(key)), " must be true or false");
  return object_.at(key).get<bool>();
}

std::string Arguments::padding(bool allow_causal) const {
  if (!has("padding")) return "valid";
  const Json& value = object_.at("padding");
  std::string text = value.is_string() ? value.get<std::string>() : "";
  for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (text == "valid" || text == "same" || (allow_causal && text == "causal")) return text;
  fail("padding=", shown(value), " is not recognised; expected \"valid\" or \"same\"",
       allow_causal ? " or \"causal\"" : "");
}

void Arguments::check_data_format() const {
  if (!has("data_format")) return;
  const Json& value = object_.at("data_format");
  if (value != "channels_last")
    fail("data_format=", shown(value),
         " is not supported; a convkit model is channels_last (input_shape ends with the channels)");
}

int64_t Arguments::required(const char* key, std::optional<int64_t> fallback) const {
  if (!fallback) fail("argument '", key, "' is required");
  return *fallback;
}

}  // namespace convkit::model_io
