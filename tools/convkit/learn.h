#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// `convkit learn kernel|activity`: filters that learn, trained with convkit's backward passes.
void add_learn_command(CLI::App& app);

}  // namespace convkit::cli
