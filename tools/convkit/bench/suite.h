// The benchmark's layer suite (bench/layers.json): real layers of real models, each described once in
// channels-first terms and turned into a ConvSpec for either layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::cli {

// One layer as the suite file states it: input (N, C, spatial...); padding in ONNX `pads` order (all
// begins, then all ends); weights (Cout, Cin/g, k...), transposed (Cin, Cout/g, k...).
struct BenchLayer {
  std::string name;
  std::string source;
  Shape input{};  // channels-first
  int64_t out_channels = 0;
  std::vector<int64_t> kernel{}, stride{}, dilation{}, padding{}, output_padding{};
  int64_t groups = 1;
  bool transposed = false;
  bool bias = true;  // optional in the file; layers of trained models carry one (PyTorch's default bias=True)

  int rank() const { return static_cast<int>(input.size()) - 2; }
  // The layer as a ConvSpec in `layout` (same numbers, the layout only moves the channel axis).
  ConvSpec spec(Layout layout) const;
  // The input shape in `layout`: (N, C, spatial...) or (N, spatial..., C).
  Shape input_shape(Layout layout) const;
};

struct BenchSuite {
  std::string note;
  std::vector<BenchLayer> layers;
};

// Reads and validates a suite file; every layer's spec is checked against its input shape, so an
// Error names the file, the layer and the field before anything runs.
BenchSuite read_suite(const std::string& path);
// The same from text; `origin` names the text in messages.
BenchSuite parse_suite(const std::string& text, const std::string& origin);

}  // namespace convkit::cli
