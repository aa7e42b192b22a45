// The engine's one way to run a loop on several threads. An exception that leaves an OpenMP region calls
// std::terminate, so every region of src/cpu and src/reference runs through parallel_for, which keeps
// the first exception any iteration throws (std::bad_alloc, convkit::Error), skips the iterations not
// yet started, and rethrows it to the caller once every thread has left the region.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>

namespace convkit::cpu {

// fixed: OpenMP's static split (thread t runs the t-th of `threads` contiguous, equal blocks), the same
// on every run; dynamic: iterations handed out as threads become free, for items of uneven cost whose
// results do not depend on which thread computes them.
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
// with its own state = make_state(), made once per thread before its first iteration.
template <class MakeState, class Body>
void parallel_for(int threads, int64_t count, Schedule schedule, MakeState make_state, Body body) {
  if (threads <= 1 || count <= 1) {  // no OpenMP region at all: an inactive one still costs microseconds a call
    auto state = make_state();
    for (int64_t i = 0; i < count; ++i) body(state, i);
    return;
  }
  FirstError error;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::optional<decltype(make_state())> state;
    error.run([&] { state.emplace(make_state()); });
    if (schedule == Schedule::fixed) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < count; ++i)
        if (state) error.run([&] { body(*state, i); });
    } else {
#pragma omp for schedule(dynamic)
      for (int64_t i = 0; i < count; ++i)
        if (state) error.run([&] { body(*state, i); });
    }
  }
  error.rethrow_if_any();
}

// body(i) for i in [0, count), statically split over up to `threads` threads.
template <class Body>
void parallel_for(int threads, int64_t count, Body body) {
  struct NoState {};
  parallel_for(threads, count, Schedule::fixed, [] { return NoState{}; }, [&](NoState&, int64_t i) { body(i); });
}

}  // namespace convkit::cpu
