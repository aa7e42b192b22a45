// Timing of several implementations of the same layer, robust to a noisy shared machine: three rounds in
// which each implementation in turn makes one untimed run and then a third of its repetitions, so a burst
// of load from another process is spread over all of them; the median of each one's samples.
#pragma once

#include <functional>
#include <span>
#include <vector>

namespace convkit::cli {

// wall: elapsed time (what a user waits for). cpu: CPU time of the whole process, which excludes the time
// other processes hold the cores: on a shared, loaded machine it still measures the work, but it is only
// the elapsed time when one thread runs (with more threads it adds their times up).
enum class TimingClock { wall, cpu };

struct TimingOptions {
  double min_seconds = 0.3;  // each implementation runs for at least this long in total ...
  int min_repetitions = 5;   // ... and at least this many times (after the warm-up)
  TimingClock clock = TimingClock::wall;
};

struct Timing {
  double median_ms = 0;
  double min_ms = 0;
  double max_ms = 0;
  int repetitions = 0;
};

// Times each of `runs` (interleaved as described above); one Timing per run, in order.
std::vector<Timing> measure(std::span<const std::function<void()>> runs, const TimingOptions& options);

// The median of `samples` (the mean of the two middle ones for an even count); 0 for none.
double median(std::vector<double> samples);

}  // namespace convkit::cli
