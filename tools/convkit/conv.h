#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit conv`: the exact operation on .npy arrays.
void add_conv_command(CLI::App& app);

}  // namespace convkit::cli
