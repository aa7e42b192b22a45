// One layer's JSON arguments with Keras's defaults and checks, shared by the convolution layers
// (model_json.cc) and the others (keras_layers.cc).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace convkit::model_io {

using Json = nlohmann::json;

// A JSON value for a message: compact, escaped (so a message stays one line), and cut when long.
std::string shown(const Json& value);

// "a, b, c".
std::string joined(const std::vector<std::string_view>& names);

// An integer in [min, kMaxModelSize]; anything else is an Error naming `what`.
int64_t size_value(const Json& value, const std::string& what, int64_t min);

class Arguments {
 public:
  Arguments(const Json& object, int rank) : object_(object), rank_(rank) {}

  // Present and not null (Keras writes null for an argument left at its default, e.g. strides=None).
  bool has(const char* key) const { return object_.contains(key) && !object_.at(key).is_null(); }
  const Json& at(const char* key) const { return object_.at(key); }

  // filters, groups, depth_multiplier, units: a positive integer.
  int64_t integer(const char* key, std::optional<int64_t> fallback) const;

  // keras.src.utils.argument_validation.standardize_tuple: an int (every axis) or a list of exactly
  // `rank` ints, each > 0 (>= 0 with allow_zero).
  std::vector<int64_t> tuple(const char* key, std::optional<int64_t> fallback, bool allow_zero = false) const;
  // The same with a per-axis default.
  std::vector<int64_t> tuple(const char* key, const std::vector<int64_t>& fallback, bool allow_zero = false) const;

  bool boolean(const char* key, bool fallback) const;

  // keras.src.utils.argument_validation.standardize_padding: "valid" or "same" (case-insensitive),
  // plus "causal" for Conv1D.
  std::string padding(bool allow_causal) const;

  // data_format: Keras's default (image_data_format() = "channels_last") is the only one a model file
  // can use, since its input_shape is channels-last.
  void check_data_format() const;

  int rank() const { return rank_; }

 private:
  int64_t required(const char* key, std::optional<int64_t> fallback) const;

  const Json& object_;
  int rank_;
};

}  // namespace convkit::model_io
