#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit draw`: a conv-arithmetic diagram of any convolution, or the gallery of the classic cases.
void add_draw_command(CLI::App& app);

}  // namespace convkit::cli
