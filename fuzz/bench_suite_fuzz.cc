// libFuzzer target for the benchmark suite reader (bench/layers.json, `convkit bench --suite`). Any
// input must either parse or raise convkit::Error; a crash, a sanitizer report or an exception of
// another type is a bug. A suite that parses must hold layers whose specs are valid in both layouts
// for their stated inputs (output_shape() computes without an error).
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/suite.h"
#include "convkit/error.h"
#include "convkit/shape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convkit::cli::BenchSuite suite;
  try {
    suite = convkit::cli::parse_suite(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  } catch (const convkit::Error&) {
    return 0;
  }
  for (const convkit::cli::BenchLayer& layer : suite.layers) {
    for (convkit::Layout layout : {convkit::Layout::channels_first, convkit::Layout::channels_last}) {
      try {
        convkit::output_shape(layer.spec(layout), layer.input_shape(layout));
      } catch (const convkit::Error& e) {
        std::fprintf(stderr, "bench_suite_fuzz: layer %s was accepted but its spec fails: %s\n", layer.name.c_str(),
                     e.what());
        std::abort();
      }
    }
  }
  return 0;
}
