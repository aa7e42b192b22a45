// The convolution options shared by the subcommands that convolve (`conv`, `filter`): registered on a
// CLI11 subcommand as strings, then turned into a ConvSpec once the tensor shapes are known.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::cli {

struct SpecOptions {
  std::string layout = "channels_first";
  std::string stride, dilation, padding, padding_mode = "zeros", output_padding, output_shape;
  int64_t groups = 1;
  bool transposed = false;
  bool flip = false;

  // Registers --layout, --stride, --dilation, --groups, --padding, --padding-mode, --transposed,
  // --output-padding, --output-shape and --flip on `command`.
  void add_to(CLI::App& command);

  // The spec of the convolution of an input of `input_shape` with a weight of `weight_shape`:
  // rank from the input, channels and kernel from the weight as the layout reads it.
  ConvSpec spec_for(const Shape& input_shape, const Shape& weight_shape, bool has_bias) const;
};

// --accuracy fast|strict (PlanOptions::accuracy) on a subcommand that runs plans; the text is parsed by
// convkit::parse_accuracy(text, "--accuracy") when the command runs.
void add_accuracy_option(CLI::App& command, std::string& accuracy);

// "2" or "2,3,1" -> {2} or {2, 3, 1}; an Error names `argument` when the text is not a list of integers.
std::vector<int64_t> parse_int_list(const std::string& text, const char* argument);

// --padding: valid | same | same_lower | P (every side) | P1,...,Pn (per axis, both sides)
// | b1,...,bn,e1,...,en (ONNX order: all begins, then all ends).
Padding parse_padding(const std::string& text, int rank);

}  // namespace convkit::cli
