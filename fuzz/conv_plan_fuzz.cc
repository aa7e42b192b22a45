// libFuzzer target for the path a `convkit conv` command takes after its files are read: the option
// strings of the CLI (SpecOptions, exactly as `--stride 2,1` etc. arrive), the spec they make, the
// output shape, a ConvPlan (optionally a forced algorithm) and its run on small tensors, compared with
// the reference engine. The input is text, one `key=value` per line, so a corpus entry reads like the
// command it stands for:
//
//   x=1,1,8,8            input shape (the layout decides where the channels are)
//   w=1,1,3,3            weight shape
//   bias=1               with a bias
//   stride=9223372036854775807
//   dilation=... padding=... padding_mode=... output_padding=... output_shape=... groups=... layout=...
//   transposed=1 flip=1 algorithm=winograd
//
// Every option and size the fuzzer makes up must either give the reference's result or raise
// convkit::Error. A crash, a sanitizer report (signed overflow included), an exception of another type,
// a result that differs from the reference, or memory or time growing with a number instead of the
// data (libFuzzer's -rss_limit_mb, -malloc_limit_mb and -timeout) is a bug.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "spec_options.h"

namespace {

// The tensors stay small so that one input runs in microseconds; larger shapes are skipped, not bugs.
constexpr int64_t kMaxOperandElements = 1024;
constexpr int64_t kMaxOutputElements = 4096;
constexpr int64_t kMaxMultiplications = int64_t{1} << 20;

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "conv_plan_fuzz: %s\n", what.c_str());
  std::abort();
}

struct Case {
  std::string x, w, algorithm;
  bool bias = false;
  convkit::cli::SpecOptions options;
};

bool flag(std::string_view value) { return value == "1" || value == "true"; }

Case parse_case(std::string_view text) {
  Case c;
  while (!text.empty()) {
    const size_t newline = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(std::min(newline + 1, text.size()));
    const size_t equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, equals);
    const std::string value(line.substr(equals + 1));
    auto& o = c.options;
    if (key == "x") c.x = value;
    else if (key == "w") c.w = value;
    else if (key == "bias") c.bias = flag(value);
    else if (key == "algorithm") c.algorithm = value;
    else if (key == "layout") o.layout = value;
    else if (key == "stride") o.stride = value;
    else if (key == "dilation") o.dilation = value;
    else if (key == "padding") o.padding = value;
    else if (key == "padding_mode") o.padding_mode = value;
    else if (key == "output_padding") o.output_padding = value;
    else if (key == "output_shape") o.output_shape = value;
    else if (key == "transposed") o.transposed = flag(value);
    else if (key == "flip") o.flip = flag(value);
    else if (key == "groups") std::from_chars(value.data(), value.data() + value.size(), o.groups);
  }
  return c;
}

// A shape of at most kMaxOperandElements elements, or nothing (the case is skipped).
std::optional<convkit::Shape> small_shape(const std::string& text) {
  convkit::Shape shape;
  try {
    shape = convkit::cli::parse_int_list(text, "shape");
  } catch (const convkit::Error&) {
    return std::nullopt;
  }
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 1 || d > kMaxOperandElements) return std::nullopt;
    count *= d;
    if (count > kMaxOperandElements) return std::nullopt;
  }
  return shape;
}

// Small integers, so that the direct algorithms are exact and the others close.
convkit::Tensor values(convkit::Shape shape, int seed) {
  convkit::Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>((i * 7 + seed * 3) % 7 - 3);
  return t;
}

void run(const Case& c) {
  const auto x_shape = small_shape(c.x), w_shape = small_shape(c.w);
  if (!x_shape || !w_shape) return;
  const convkit::ConvSpec spec = c.options.spec_for(*x_shape, *w_shape, c.bias);
  const convkit::Shape y_shape = convkit::output_shape(spec, *x_shape);
  const int64_t out_elements = convkit::element_count(y_shape);
  const int64_t taps_per_output = convkit::element_count(*w_shape) / std::max<int64_t>(spec.out_channels, 1);
  if (out_elements > kMaxOutputElements || out_elements * taps_per_output > kMaxMultiplications) return;

  const convkit::Tensor x = values(*x_shape, 1), w = values(*w_shape, 2);
  const std::optional<convkit::Tensor> b =
      c.bias ? std::optional(values(convkit::bias_shape(spec), 3)) : std::nullopt;
  const auto b_view = b ? std::optional<convkit::ConstTensorView>(b->view()) : std::nullopt;
  convkit::PlanOptions plan_options;
  plan_options.algorithm = c.algorithm;
  const convkit::ConvPlan plan(spec, w, b_view, plan_options);
  const convkit::Tensor y = plan.run(x);
  const convkit::Tensor expected = convkit::reference::convolution(spec, x, w, b_view);
  if (y.shape() != expected.shape() || y.shape() != y_shape)
    bug(plan.algorithm() + " gave shape " + convkit::to_string(y.shape()) + ", the reference " +
        convkit::to_string(expected.shape()) + ", output_shape() " + convkit::to_string(y_shape));
  float largest = 1.0f;
  for (int64_t i = 0; i < expected.numel(); ++i) largest = std::max(largest, std::fabs(expected[i]));
  for (int64_t i = 0; i < expected.numel(); ++i)
    if (!(std::fabs(y[i] - expected[i]) <= 1e-4f * largest))
      bug(plan.algorithm() + " differs from the reference at element " + std::to_string(i) + ": " +
          std::to_string(y[i]) + " vs " + std::to_string(expected[i]) + " for " + convkit::describe(spec));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    run(parse_case(std::string_view(reinterpret_cast<const char*>(data), size)));
  } catch (const convkit::Error&) {
  }
  return 0;
}
