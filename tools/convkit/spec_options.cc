#include "spec_options.h"

#include <charconv>

#include "convkit/checked.h"
#include "convkit/error.h"

namespace convkit::cli {

void SpecOptions::add_to(CLI::App& command) {
  command.add_option("--layout", layout, "channels_first (PyTorch, ONNX) or channels_last (TensorFlow)")
      ->capture_default_str();
  command.add_option("--stride", stride, "S or S1,...,Sn (default 1)");
  command.add_option("--dilation", dilation, "D or D1,...,Dn (default 1)");
  command.add_option("--groups", groups, "channel groups (in_channels for depthwise)")->capture_default_str();
  command.add_option("--padding", padding,
                     "valid | same | same_lower | P | P1,...,Pn | b1,...,bn,e1,...,en (default: none)");
  command.add_option("--padding-mode", padding_mode, "zeros | reflect | replicate | circular")->capture_default_str();
  command.add_flag("--transposed", transposed, "transposed convolution (the adjoint; 'deconvolution')");
  command.add_option("--output-padding", output_padding, "transposed: extra cells at the end, P or P1,...,Pn");
  command.add_option("--output-shape", output_shape, "transposed: spatial output size S1,...,Sn (ONNX rule)");
  command.add_flag("--flip", flip, "true convolution: reverse the kernel on every axis (scipy.signal.convolve)");
}

void add_accuracy_option(CLI::App& command, std::string& accuracy) {
  command
      .add_option("--accuracy", accuracy,
                  "fast (Winograd and FFT where they win) or strict (direct sums only, within the reference's "
                  "ordering bound; --explain shows each algorithm's error bound)")
      ->capture_default_str();
}

std::vector<int64_t> parse_int_list(const std::string& text, const char* argument) {
  std::vector<int64_t> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    int64_t value = 0;
    const char* first = text.data() + start;
    const char* last = text.data() + comma;
    const auto [end, error] = std::from_chars(first, last, value);
    if (first == last || error != std::errc() || end != last)
      fail(argument, "='", text, "' is not a comma-separated list of integers");
    values.push_back(value);
    start = comma + 1;
  }
  return values;
}

Padding parse_padding(const std::string& text, int rank) {
  if (text.empty()) return {};
  // The words in any case: Keras writes "same"/"valid", tf.nn and ONNX "SAME"/"VALID" (ONNX's
  // auto_pad "SAME_UPPER" is TF's "SAME"; "SAME_LOWER" puts the odd cell first).
  std::string word = text;
  for (char& c : word) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (word == "valid") return Padding::valid();
  if (word == "same" || word == "same_upper") return Padding::same();
  if (word == "same_lower") return Padding::same_lower();
  const bool numeric = text.find_first_not_of("0123456789,-+ ") == std::string::npos;
  if (!numeric)
    fail("--padding='", text, "' is not recognised; expected valid, same (= same_upper), same_lower (in any case) or ",
         "integers: P, P1,...,Pn or b1,...,bn,e1,...,en");
  const auto values = parse_int_list(text, "--padding");
  if (values.size() == 1 || values.size() == static_cast<size_t>(rank)) return Padding::symmetric(values);
  if (values.size() == 2 * static_cast<size_t>(rank)) return Padding::onnx(values);
  fail("--padding='", text, "' has ", values.size(), " values; expected valid, same, same_lower, 1, ", rank,
       " (per axis) or ", 2 * rank, " (all begins, then all ends) values");
}

ConvSpec SpecOptions::spec_for(const Shape& input_shape, const Shape& weight_shape, bool has_bias) const {
  if (input_shape.size() < 3 || input_shape.size() > 5)
    fail("--input of shape ", input_shape, " has rank ", input_shape.size(),
         "; expected 3, 4 or 5 (batch, channels and 1-3 spatial axes)");
  ConvSpec spec;
  spec.rank = static_cast<int>(input_shape.size()) - 2;
  spec.layout = parse_layout(layout, "--layout");
  if (weight_shape.size() != input_shape.size())
    fail("--weight of shape ", weight_shape, " has rank ", weight_shape.size(), "; a ", spec.rank,
         "D convolution expects rank ", input_shape.size());
  const bool first = spec.layout == Layout::channels_first;
  spec.in_channels = first ? input_shape[1] : input_shape.back();
  spec.groups = groups;
  spec.transposed = transposed;
  // conv weight (Cout, Cin/g, k...) / (k..., Cin/g, Cout); transposed (Cin, Cout/g, k...) / (k..., Cout/g, Cin).
  const size_t n = weight_shape.size();
  if (transposed) {
    const int64_t per_group = first ? weight_shape[1] : weight_shape[n - 2];
    spec.out_channels = checked_mul(per_group, groups, "--groups=", groups, " times the ", per_group,
                                    " output channels per group of --weight ", weight_shape,
                                    " makes more than 2^63 - 1 output channels");
  } else {
    spec.out_channels = first ? weight_shape[0] : weight_shape[n - 1];
  }
  spec.kernel = first ? Shape(weight_shape.begin() + 2, weight_shape.end())
                      : Shape(weight_shape.begin(), weight_shape.end() - 2);
  if (!stride.empty()) spec.stride = parse_int_list(stride, "--stride");
  if (!dilation.empty()) spec.dilation = parse_int_list(dilation, "--dilation");
  spec.padding = parse_padding(padding, spec.rank);
  spec.padding_mode = parse_padding_mode(padding_mode, "--padding-mode");
  if (!output_padding.empty()) spec.output_padding = parse_int_list(output_padding, "--output-padding");
  if (!output_shape.empty()) {  // one value applies to every axis, as for the other per-axis options
    spec.output_shape = parse_int_list(output_shape, "--output-shape");
    if (spec.output_shape.size() == 1) spec.output_shape.assign(static_cast<size_t>(spec.rank), spec.output_shape[0]);
  }
  spec.flip = flip;
  spec.bias = has_bias;
  return spec;
}

}  // namespace convkit::cli
