#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit filter`: named or custom kernels on images, CSV signals and .npy arrays.
void add_filter_command(CLI::App& app);

}  // namespace convkit::cli
