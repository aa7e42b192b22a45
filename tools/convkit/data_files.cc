#include "data_files.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "convkit/error.h"

// Set by tools/convkit/CMakeLists.txt: the data directory relative to the installed binary's
// directory ("../share/convkit"), the source tree (for binaries run from the build tree) and the
// configured install location (CMAKE_INSTALL_FULL_DATADIR/convkit).
#if !defined(CONVKIT_RELATIVE_DATA_DIR) || !defined(CONVKIT_SOURCE_DATA_DIR) || !defined(CONVKIT_DATA_DIR)
#error "CONVKIT_RELATIVE_DATA_DIR, CONVKIT_SOURCE_DATA_DIR and CONVKIT_DATA_DIR must be defined"
#endif

namespace convkit::cli {

std::string find_data_file(std::string_view relative, std::string_view argument) {
  namespace fs = std::filesystem;
  std::vector<fs::path> directories;
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (!error) directories.push_back(executable.parent_path() / CONVKIT_RELATIVE_DATA_DIR);
  directories.emplace_back(CONVKIT_SOURCE_DATA_DIR);
  directories.emplace_back(CONVKIT_DATA_DIR);
  std::string looked;
  for (const fs::path& directory : directories) {
    const fs::path candidate = (directory / relative).lexically_normal();
    if (fs::is_regular_file(candidate, error)) return candidate.string();
    looked += (looked.empty() ? "" : ", ") + candidate.string();
  }
  fail("no ", relative, " found (looked in ", looked, "); give ", argument, " FILE");
}

}  // namespace convkit::cli
