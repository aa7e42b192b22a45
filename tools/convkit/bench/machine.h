// What the machine can do, measured at start-up: the fp32 FMA peak (a register-only loop of
// independent fused multiply-adds, the widest ISA the CPU has) and the streaming memory bandwidth (a
// STREAM triad over buffers much larger than the last-level cache), for each thread count benchmarked.
// The bench states every layer as a fraction of these two limits.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace convkit::cli {

struct ThreadLimits {
  int threads = 1;
  double fma_gflops = 0;     // fp32 GFLOP/s, 2 per FMA lane
  double bandwidth_gbs = 0;  // GB/s (1e9 bytes), counted as STREAM does: 3 x 4 bytes per triad element
};

struct Machine {
  std::string cpu;  // "model name" of /proc/cpuinfo
  std::string isa;  // the ISA of the peak loop: "avx512f", "avx2+fma" or "scalar"
  int hardware_threads = 1;
  std::vector<ThreadLimits> limits;  // one per thread count probed, in the order asked
  // The limits measured with `threads` threads (an Error if that count was not probed).
  const ThreadLimits& at(int threads) const;
};

// Measures the peak and the bandwidth for each of `thread_counts` (takes about a second).
Machine probe_machine(std::span<const int> thread_counts);

}  // namespace convkit::cli
