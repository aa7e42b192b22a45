// The data files the CLI ships (bench/layers.json), found from any working directory: beside an
// installed binary (share/convkit, relative to its bin/), in the source tree of a build-tree binary,
// or in the install prefix configured at build time.
#pragma once

#include <string>
#include <string_view>

namespace convkit::cli {

// The path of `relative` (e.g. "bench/layers.json") in the first data directory holding it; a
// convkit::Error naming `argument` and every place looked in when none does.
std::string find_data_file(std::string_view relative, std::string_view argument);

}  // namespace convkit::cli
