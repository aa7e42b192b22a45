#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit bench`: times every layer of a suite in each layout and thread count, as a fraction of the
// machine's measured FMA peak and bandwidth, optionally against oneDNN and XNNPACK (see docs/benchmarks.md).
void add_bench_command(CLI::App& app);

}  // namespace convkit::cli
