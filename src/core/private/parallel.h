// The engine's one way to run a loop on several threads (src/cpu and src/reference), on the pool of
// thread_pool.h. parallel_for keeps the first exception any iteration throws (std::bad_alloc,
// convkit::Error), skips the iterations not yet started, and rethrows it to the caller once every thread
// has finished, so an error inside a loop never reaches std::terminate.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>

#include "thread_pool.h"

namespace convkit::cpu {

// guided: iterations handed out in contiguous chunks of (iterations left) / (2 x threads), at least one
// (OpenMP's schedule(guided)): few hand-outs, neighbouring iterations on one thread, and no thread waited
// for -- a thread the OS has descheduled (a busy machine, another process's threads) or that wakes late
// holds at most its current chunk, the others take the rest. dynamic: one iteration at a time, for items
// of uneven cost. Either way the results may not depend on which thread computes what.
enum class Schedule { guided, dynamic };

// The first exception thrown by the calls run() makes, possibly from several threads.
class FirstError {
 public:
  template <class F>
  void run(F&& f) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (...) {
      const std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  void rethrow_if_any() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

// body(state, i) for i in [0, count) on up to `threads` threads (1: on the calling thread), each thread
// with its own state = make_state(), made once per thread before its first iteration. When the pool is
// busy (another thread's loop, or this loop is nested in one) every iteration runs on the calling thread:
// the results are the same, since they may not depend on which thread computes what.
template <class MakeState, class Body>
void parallel_for(int threads, int64_t count, Schedule schedule, MakeState make_state, Body body) {
  const int workers = static_cast<int>(std::min<int64_t>(std::min(threads, kMaxWorkers), count));
  const auto run_inline = [&] {
    auto state = make_state();
    for (int64_t i = 0; i < count; ++i) body(state, i);
  };
  if (workers <= 1) return run_inline();
  FirstError error;
  std::atomic<int64_t> next{0};
  // The next chunk [begin, end), or begin >= count when none is left. `next` may pass count by the chunks
  // of the threads that found nothing (at most workers x count, far from overflow).
  auto claim = [&](int64_t& begin, int64_t& end) {
    const int64_t seen = next.load(std::memory_order_relaxed);
    if (seen >= count) return false;
    const int64_t chunk = schedule == Schedule::dynamic ? 1 : std::max<int64_t>(1, (count - seen) / (2 * workers));
    begin = next.fetch_add(chunk, std::memory_order_relaxed);
    end = std::min(count, begin + chunk);
    return begin < count;
  };
  auto share = [&](int) {
    std::optional<decltype(make_state())> state;  // made on the first chunk: a late thread may find none
    for (int64_t begin = 0, end = 0; claim(begin, end);) {
      if (!state) error.run([&] { state.emplace(make_state()); });
      if (!state) return;
      for (int64_t i = begin; i < end; ++i) error.run([&] { body(*state, i); });
    }
  };
  if (!try_run_on_pool(workers, TaskRef(share))) return run_inline();
  error.rethrow_if_any();
}

// body(i) for i in [0, count) on up to `threads` threads, guided.
template <class Body>
void parallel_for(int threads, int64_t count, Body body) {
  struct NoState {};
  parallel_for(threads, count, Schedule::guided, [] { return NoState{}; }, [&](NoState&, int64_t i) { body(i); });
}

}  // namespace convkit::cpu
