#include "timing.h"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace convkit::cli {
namespace {

// Implementations take turns in this many rounds, each running a batch of repetitions after one untimed
// run. Turns per repetition would be fairer to load bursts, but each implementation's thread pool
// (OpenMP for oneDNN, pthreadpool for XNNPACK; convkit's own spins 50 us) spins for milliseconds after a parallel run
// and would steal the cores from the next implementation's threads.
constexpr int kRounds = 3;

double now_seconds(TimingClock clock) {
  if (clock == TimingClock::wall)
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  const auto middle = samples.begin() + static_cast<std::ptrdiff_t>(samples.size() / 2);
  std::nth_element(samples.begin(), middle, samples.end());
  if (samples.size() % 2) return *middle;
  return (*middle + *std::max_element(samples.begin(), middle)) / 2;
}

std::vector<Timing> measure(std::span<const std::function<void()>> runs, const TimingOptions& options) {
  std::vector<std::vector<double>> samples(runs.size());  // milliseconds
  std::vector<double> total_seconds(runs.size(), 0.0);
  const int min_repetitions = std::max(1, options.min_repetitions);
  for (int round = 1; round <= kRounds; ++round) {
    // This round's share of the repetitions and of the time, per implementation.
    const auto repetitions = static_cast<size_t>((min_repetitions * round + kRounds - 1) / kRounds);
    const double seconds_due = options.min_seconds * round / kRounds;
    for (size_t i = 0; i < runs.size(); ++i) {
      runs[i]();  // untimed: caches, lazily created state, and the previous implementation's idle threads
      while (samples[i].size() < repetitions || total_seconds[i] < seconds_due) {
        const double start = now_seconds(options.clock);
        runs[i]();
        const double seconds = now_seconds(options.clock) - start;
        samples[i].push_back(seconds * 1e3);
        total_seconds[i] += seconds;
      }
    }
  }
  std::vector<Timing> timings;
  for (const auto& s : samples)
    timings.push_back({median(s), *std::min_element(s.begin(), s.end()), *std::max_element(s.begin(), s.end()),
                       static_cast<int>(s.size())});
  return timings;
}

}  // namespace convkit::cli
