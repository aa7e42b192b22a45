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

// fixed: thread t runs the t-th of `threads` contiguous blocks of equal size (the first count % threads
// one longer, as OpenMP's schedule(static)), the same on every run; dynamic: iterations handed out one at
// a time as threads become free, for items of uneven cost whose results do not depend on which thread
// computes them.
enum class Schedule { fixed, dynamic };

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
  auto share = [&](int worker) {
    std::optional<decltype(make_state())> state;
    error.run([&] { state.emplace(make_state()); });
    if (!state) return;
    if (schedule == Schedule::dynamic) {
      for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < count;
           i = next.fetch_add(1, std::memory_order_relaxed))
        error.run([&] { body(*state, i); });
      return;
    }
    const int64_t base = count / workers, longer = count % workers;
    const int64_t begin = worker * base + std::min<int64_t>(worker, longer);
    const int64_t end = begin + base + (worker < longer ? 1 : 0);
    for (int64_t i = begin; i < end; ++i) error.run([&] { body(*state, i); });
  };
  if (!try_run_on_pool(workers, TaskRef(share))) return run_inline();
  error.rethrow_if_any();
}

// body(i) for i in [0, count), statically split over up to `threads` threads.
template <class Body>
void parallel_for(int threads, int64_t count, Body body) {
  struct NoState {};
  parallel_for(threads, count, Schedule::fixed, [] { return NoState{}; }, [&](NoState&, int64_t i) { body(i); });
}

}  // namespace convkit::cpu
