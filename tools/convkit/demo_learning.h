#pragma once

#include <string>

namespace convkit::cli {

// The learning step of `convkit demo` (seed 002): a convolution layer trained by gradient descent, with
// convkit's backward plans, to reproduce a hidden true convolution with kernel g learns g reversed.
// Prints the kernels side by side and writes the loss curve to `dir`/learn-kernel-loss.png (dir exists).
void demonstrate_learning(const std::string& dir);

}  // namespace convkit::cli
