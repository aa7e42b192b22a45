// Running the convkit binary from tests: exit status, stdout+stderr, and a scratch directory.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "scratch_dir.h"

namespace convkit::testing {

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs `convkit <arguments>` (arguments are passed to the shell as written).
inline CommandResult run_cli(const std::string& arguments) {
  const std::string command = std::string(CONVKIT_CLI_PATH) + " " + arguments + " 2>&1";
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace convkit::testing
