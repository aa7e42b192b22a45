#include "demo_learning.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "draw/scene.h"
#include "kernel_recovery.h"
#include "loss_plot.h"

namespace convkit::cli {

void demonstrate_learning(const std::string& dir) {
  const KernelRecoveryOptions options;  // g = [1, -2, 3, 0.5], 50 steps on 8 signals of 64 samples
  const auto start = std::chrono::steady_clock::now();
  const KernelRecoveryResult r = recover_kernel(options);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "\nFilters that learn (seed 002): a cross-correlation layer fitted by gradient descent to a true\n"
            << "convolution y = x * g learns g reversed (" << options.steps << " steps, " << options.signals
            << " signals of " << options.length << " samples)\n"
            << "  tap   true g   learned   g reversed\n";
  const size_t k = r.true_kernel.size();
  for (size_t q = 0; q < k; ++q)
    std::printf("  %3zu %8.4f %9.4f %12.4f\n", q, static_cast<double>(r.true_kernel[q]),
                static_cast<double>(r.learned_kernel[q]), static_cast<double>(r.true_kernel[k - 1 - q]));
  std::fflush(stdout);
  const std::string plot = dir + "/learn-kernel-loss.png";
  draw::write(loss_figure(r.loss, kKernelRecoveryPlot), plot);
  std::printf("  loss %.3e -> %.3e in %.0f ms; loss curve written to %s\n", r.loss.front(), r.loss.back(), ms,
              plot.c_str());
  std::fflush(stdout);
}

}  // namespace convkit::cli
