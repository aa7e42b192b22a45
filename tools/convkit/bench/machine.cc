#include "machine.h"

#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <cstdint>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>

#include "convkit/error.h"

namespace convkit::cli {
namespace {

// The peak loops: kAccumulators independent chains of acc = acc * a + b, enough to cover the FMA
// latency (4 cycles) times the FMA ports (2) with room to spare, all in registers. a and b keep the
// values near 1 (the fixed point b / (1 - a)), so no overflow or denormal slows the units down.
constexpr int kAccumulators = 24;
constexpr float kA = 0.999999f, kB = 1e-6f;

__attribute__((target("avx512f,fma"))) float fma_loop_avx512(int64_t iterations) {
  __m512 acc[kAccumulators];
  for (int j = 0; j < kAccumulators; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(kA), b = _mm512_set1_ps(kB);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int j = 0; j < kAccumulators; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  for (int j = 1; j < kAccumulators; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  return lanes[0];
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iterations) {
  __m256 acc[kAccumulators / 2];  // 16 ymm registers: leave room for a and b
  for (int j = 0; j < kAccumulators / 2; ++j) acc[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256 a = _mm256_set1_ps(kA), b = _mm256_set1_ps(kB);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAccumulators / 2; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  for (int j = 1; j < kAccumulators / 2; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  return lanes[0];
}

// One ISA's peak loop and the floating-point operations one iteration performs.
struct PeakLoop {
  const char* isa;
  float (*run)(int64_t iterations);
  double flops_per_iteration;
};

PeakLoop best_peak_loop() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
    return {"avx512f", fma_loop_avx512, kAccumulators * 16 * 2.0};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {"avx2+fma", fma_loop_avx2, kAccumulators / 2 * 8 * 2.0};
  return {"none", nullptr, 0.0};
}

// The rate of `threads` OpenMP threads that start together, each running `work(thread)` (which returns
// the units of work it did): the sum over threads of work / the thread's CPU time. CPU time, not wall
// time, so that a machine shared with other processes still shows what a core does while it runs.
template <class Work>
double parallel_rate(int threads, const Work& work) {
  const auto cpu_seconds = [] {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  };
  double rate = 0;
#pragma omp parallel num_threads(threads) reduction(+ : rate)
  {
#pragma omp barrier
    const double start = cpu_seconds();
    const double done = work(omp_get_thread_num());
    rate = done / (cpu_seconds() - start);
  }
  return rate;
}

// The best of several runs: the limit is what the machine can do, so noise only ever lowers a sample.
template <class Sample>
double best_of(int runs, const Sample& sample) {
  double best = 0;
  for (int r = 0; r < runs; ++r) best = std::max(best, sample());
  return best;
}

double fma_peak_gflops(const PeakLoop& loop, int threads) {
  if (!loop.run) return 0;
  std::atomic<float> sink{0};  // the loops' results go somewhere, so they are not optimised away
  int64_t iterations = 1 << 14;
  const auto flops = [&](int) {
    sink.store(loop.run(iterations), std::memory_order_relaxed);
    return loop.flops_per_iteration * static_cast<double>(iterations);
  };
  while (flops(0) / parallel_rate(1, flops) < 0.01) iterations *= 2;  // one run >= 10 ms
  return best_of(5, [&] { return parallel_rate(threads, flops) / 1e9; });
}

// Bytes in the last-level cache (sysconf; 32 MB when the system does not say).
std::size_t last_level_cache_bytes() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  const long bytes = std::max(l3, l2);
  return bytes > 0 ? static_cast<std::size_t>(bytes) : std::size_t{32} << 20;
}

// The STREAM triad a = b + s * c over three arrays of twice the last-level cache each (at least
// 64 MB, at most 256 MB), first touched by the threads that use them.
class Triad {
 public:
  Triad()
      : n_(std::clamp(2 * last_level_cache_bytes(), std::size_t{64} << 20, std::size_t{256} << 20) / sizeof(float)),
        a_(new float[n_]), b_(new float[n_]), c_(new float[n_]) {}

  double gbs(int threads) {
    const auto count = static_cast<int64_t>(n_);
    // Thread t owns elements [t * n / threads, (t + 1) * n / threads) and touches them first.
    const auto chunk = [&](int t) { return std::pair(count * t / threads, count * (t + 1) / threads); };
    parallel_rate(threads, [&](int t) {
      for (auto [i, end] = chunk(t); i < end; ++i) a_[i] = b_[i] = c_[i] = 1.0f;
      return 0.0;
    });
    return best_of(3, [&] {
      return parallel_rate(threads, [&](int t) {
        const auto [begin, end] = chunk(t);
        for (int64_t i = begin; i < end; ++i) a_[i] = b_[i] + 0.5f * c_[i];
        return 3.0 * sizeof(float) * static_cast<double>(end - begin);
      }) / 1e9;
    });
  }

 private:
  std::size_t n_;
  std::unique_ptr<float[]> a_, b_, c_;
};

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
  }
  return "unknown CPU";
}

}  // namespace

const ThreadLimits& Machine::at(int threads) const {
  for (const auto& l : limits)
    if (l.threads == threads) return l;
  fail("machine limits: threads=", threads, " was not probed");
}

Machine probe_machine(std::span<const int> thread_counts) {
  const PeakLoop loop = best_peak_loop();
  Machine machine{cpu_model_name(), loop.isa, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), {}};
  Triad triad;
  for (int threads : thread_counts)
    machine.limits.push_back({threads, fma_peak_gflops(loop, threads), triad.gbs(threads)});
  return machine;
}

}  // namespace convkit::cli
