#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit summary`: shapes, parameters, MACs and receptive fields of a Keras-like model or of one layer.
void add_summary_command(CLI::App& app);

}  // namespace convkit::cli
