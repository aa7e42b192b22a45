// "Did you mean": the command line checked against the names CLI11 knows, before CLI11 parses it (CLI11
// reports a mistyped command as "A subcommand is required" and a mistyped option only after "--x is
// required", without naming the likely word).
#pragma once

#include <CLI/CLI.hpp>

namespace convkit::cli {

// Walks argv through `app`'s subcommands and options; an unknown command or option is a convkit::Error
// naming it and the closest known name ("unknown command 'filtr'; did you mean 'filter'?"), or the
// choices when none is close. Arguments after "--" and option values are not checked.
void check_names(CLI::App& app, int argc, const char* const* argv);

}  // namespace convkit::cli
