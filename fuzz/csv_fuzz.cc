// libFuzzer target for the CSV signal reader. Any input must either parse or raise convkit::Error; a
// crash, sanitizer report, leak or exception of another type is a bug. Parsed signals must survive a
// serialize/parse round trip with the same names and the same value bits.
//
// Build: make fuzz (CMake option CONVKIT_FUZZ=ON with clang++), which also runs it briefly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "convkit/csv.h"
#include "convkit/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  convkit::csv::Signals signals;
  try {
    signals = convkit::csv::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv");
  } catch (const convkit::Error&) {
    return 0;
  }
  const convkit::Tensor& values = signals.values;
  if (values.rank() != 2 || values.numel() < 1 ||
      (!signals.names.empty() && static_cast<int64_t>(signals.names.size()) != values.dim(0))) {
    std::fprintf(stderr, "parse returned %zu names and values of shape %s\n", signals.names.size(),
                 convkit::to_string(values.shape()).c_str());
    std::abort();
  }
  const convkit::csv::Signals again = convkit::csv::parse(convkit::csv::serialize(signals), "round trip");
  if (again.names != signals.names || again.values.shape() != values.shape() ||
      std::memcmp(again.values.data(), values.data(), static_cast<size_t>(values.numel()) * sizeof(float)) != 0) {
    std::fprintf(stderr, "serialize/parse round trip changed signals of shape %s\n",
                 convkit::to_string(values.shape()).c_str());
    std::abort();
  }
  return 0;
}
