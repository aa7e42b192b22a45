#include "convkit/spec.h"

#include <array>
#include <sstream>

#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {
namespace {

template <class Enum, size_t N>
Enum parse_name(std::string_view text, std::string_view argument, const std::array<Enum, N>& values) {
  std::string accepted;
  for (Enum value : values) {
    if (to_string(value) == text) return value;
    accepted += (accepted.empty() ? "" : ", ") + std::string(to_string(value));
  }
  fail(argument, "='", text, "' is not recognised; expected one of ", accepted);
}

}  // namespace

Padding Padding::onnx(const std::vector<int64_t>& pads) {
  if (pads.size() % 2 != 0)
    fail("pads=", pads, " has an odd number of values; ONNX order is all begins then all ends");
  const auto half = static_cast<std::ptrdiff_t>(pads.size() / 2);
  return explicit_pads({pads.begin(), pads.begin() + half}, {pads.begin() + half, pads.end()});
}

std::string_view to_string(Layout layout) {
  return layout == Layout::channels_first ? "channels_first" : "channels_last";
}

std::string_view to_string(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::zeros: return "zeros";
    case PaddingMode::reflect: return "reflect";
    case PaddingMode::replicate: return "replicate";
    case PaddingMode::circular: return "circular";
  }
  return "?";
}

std::string_view to_string(PaddingKind kind) {
  switch (kind) {
    case PaddingKind::explicit_pads: return "explicit";
    case PaddingKind::valid: return "valid";
    case PaddingKind::same: return "same";
    case PaddingKind::same_lower: return "same_lower";
  }
  return "?";
}

Layout parse_layout(std::string_view text, std::string_view argument) {
  return parse_name(text, argument, std::array{Layout::channels_first, Layout::channels_last});
}

PaddingMode parse_padding_mode(std::string_view text, std::string_view argument) {
  return parse_name(text, argument,
                    std::array{PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate, PaddingMode::circular});
}

std::string describe(const ConvSpec& spec) {
  std::ostringstream out;
  out << (spec.transposed ? "conv_transpose" : "conv") << spec.rank << "d " << spec.in_channels << "->"
      << spec.out_channels << " kernel=";
  detail::append(out, per_axis(spec.kernel, spec.rank, 1, "kernel"));
  out << " stride=";
  detail::append(out, per_axis(spec.stride, spec.rank, 1, "stride"));
  out << " dilation=";
  detail::append(out, per_axis(spec.dilation, spec.rank, 1, "dilation"));
  out << " padding=";
  if (spec.padding.kind == PaddingKind::explicit_pads) {
    detail::append(out, per_axis(spec.padding.begin, spec.rank, 0, "padding begin"));
    out << '/';
    detail::append(out, per_axis(spec.padding.end, spec.rank, 0, "padding end"));
  } else {
    out << to_string(spec.padding.kind);
  }
  if (spec.padding_mode != PaddingMode::zeros) out << " mode=" << to_string(spec.padding_mode);
  if (spec.groups != 1) out << " groups=" << spec.groups;
  if (spec.transposed && !spec.output_padding.empty()) {
    out << " output_padding=";
    detail::append(out, spec.output_padding);
  }
  if (!spec.output_shape.empty()) {
    out << " output_shape=";
    detail::append(out, spec.output_shape);
  }
  if (spec.flip) out << " flip";
  out << (spec.bias ? " bias " : " ") << to_string(spec.layout);
  return out.str();
}

}  // namespace convkit
