#include "thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

namespace convkit::cpu {
namespace {

// Spins on `done()` for at most kSpinMicroseconds, with the CPU's pause hint between looks; true if it
// became done.
template <class Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicroseconds);
  for (int look = 0;; ++look) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (look % 64 == 63 && std::chrono::steady_clock::now() > deadline) return false;
  }
}

class ThreadPool {
 public:
  bool try_run(int workers, TaskRef task) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;  // another caller, or nested
    const struct Release {
      std::atomic<bool>& busy;
      ~Release() { busy.store(false, std::memory_order_release); }
    } release{busy_};
    workers = std::min(workers, kMaxWorkers);
    try {
      while (started_ < workers - 1) {
        const int index = started_ + 1;
        const uint64_t seen = generation_.load(std::memory_order_acquire);  // before this run's job
        std::thread thread([this, index, seen] { work(index, seen); });
        thread.detach();  // the pool lives as long as the process (see pool())
        started_ = index;
      }
    } catch (const std::exception&) {  // no more threads or memory: run on those there are
      workers = started_ + 1;
    }
    {
      const std::lock_guard lock(mutex_);
      task_ = task;
      active_ = workers;
      joined_ = 0;
      closed_ = false;
      finished_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      if (sleepers_ > 0) wake_.notify_all();
    }
    task(0);
    // The task hands its work out as threads come (parallel_for), so once it returns here nothing is left
    // to start: close the job and wait only for the threads that joined it. A thread still waking up --
    // on a busy machine it may wait milliseconds for a core -- finds the job closed and skips it.
    int joined = 0;
    {
      const std::lock_guard lock(mutex_);
      closed_ = true;
      joined = joined_;
    }
    const auto done = [&] { return finished_.load(std::memory_order_seq_cst) == joined; };
    if (!spin_until(done)) {
      std::unique_lock lock(mutex_);
      caller_waiting_.store(true, std::memory_order_seq_cst);
      done_.wait(lock, done);
      caller_waiting_.store(false, std::memory_order_relaxed);
    }
    return true;
  }

 private:
  // Pool thread `index` (1, 2, ...): waits for each new job and joins it when index < the job's worker
  // count and the caller has not closed it yet. A thread that wakes late reads the current job and
  // generation together, under the mutex.
  [[noreturn]] void work(int index, uint64_t seen) {
    for (;;) {
      const auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(changed)) {
        std::unique_lock lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, changed);
        --sleepers_;
      }
      std::optional<TaskRef> task;
      {
        const std::lock_guard lock(mutex_);
        seen = generation_.load(std::memory_order_acquire);
        if (index < active_ && !closed_) {
          task = task_;
          ++joined_;
        }
      }
      if (!task) continue;
      (*task)(index);
      // Either the caller's wait sees this count or this thread sees it waiting (both seq_cst) and wakes it,
      // under the mutex the caller holds until it sleeps.
      finished_.fetch_add(1, std::memory_order_seq_cst);
      if (caller_waiting_.load(std::memory_order_seq_cst)) {
        const std::lock_guard lock(mutex_);
        done_.notify_one();
      }
    }
  }

  std::atomic<bool> busy_{false};  // set by the one caller running on the pool
  int started_ = 0;                // pool threads running: indices 1..started_
  std::mutex mutex_;  // guards task_, active_, joined_, closed_, sleepers_ and the sleeping on wake_ and done_
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};  // one more per job
  std::optional<TaskRef> task_;
  int active_ = 0;
  int joined_ = 0;       // pool threads that took the current job
  bool closed_ = false;  // the caller has finished its part: no more joining
  std::atomic<int> finished_{0};  // pool threads done with the current job
  std::atomic<bool> caller_waiting_{false};
  int sleepers_ = 0;
};

// The process's pool, made on first use. It is never destroyed: its threads may still be parked when
// static destructors run. A child forked from this process has none of its threads, so the child's
// first loop makes a new pool (the old one, whose mutexes may be held by threads that did not follow
// the fork, is left alone).
std::atomic<ThreadPool*> g_pool{nullptr};

ThreadPool& pool() {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr); }); });
  ThreadPool* current = g_pool.load(std::memory_order_acquire);
  if (current) return *current;
  auto* fresh = new ThreadPool;
  if (g_pool.compare_exchange_strong(current, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;  // another thread made one first
  return *current;
}

std::atomic<int> g_default_threads{0};

// OMP_NUM_THREADS's first entry ("4" or "4,2" for nested levels) when it is a positive integer, else 0.
int threads_from_environment() {
  const char* text = std::getenv("OMP_NUM_THREADS");
  if (!text) return 0;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  const bool whole = end != text && (*end == '\0' || *end == ',');
  return whole && value > 0 && value <= kMaxWorkers ? static_cast<int>(value) : 0;
}

}  // namespace

bool try_run_on_pool(int workers, TaskRef task) { return pool().try_run(workers, task); }

int default_threads() {
  if (const int set = g_default_threads.load(std::memory_order_relaxed); set > 0) return set;
  static const int from_environment = threads_from_environment();
  if (from_environment > 0) return from_environment;
  // Read once: hardware_concurrency() reads /sys/devices/system/cpu/online (three system calls), which
  // was most of a small convolution's call.
  static const int hardware = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return hardware;
}

void set_default_threads(int threads) { g_default_threads.store(threads, std::memory_order_relaxed); }

}  // namespace convkit::cpu
