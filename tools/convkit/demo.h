#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit demo`: walks through the seeds' convolutions on embedded data.
void add_demo_command(CLI::App& app);

}  // namespace convkit::cli
