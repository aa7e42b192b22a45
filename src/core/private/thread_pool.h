// The engine's worker threads: one process-wide pool that parallel_for (parallel.h) runs its loops on.
//
// Why not OpenMP: libgomp's idle threads spin for up to ~300,000 iterations after every region before they
// sleep (GOMP_SPINCOUNT), so on a machine that is busy with other work the many small regions of a network
// steal each other's cores; `convkit learn activity` took 2.4-16.3 s wall on a loaded machine and 0.4-0.7 s
// with OMP_WAIT_POLICY=passive. These workers spin for at most kSpinMicroseconds, then sleep. libgomp also
// hangs in a child forked after a region has run (Dask and multiprocessing fork), and ignores its
// OMP_NUM_THREADS once a num_threads() clause is given; this pool is rebuilt in a forked child.
//
// One caller at a time: a second thread that calls while the pool is busy, or a loop nested inside a pool
// task, is told so (try_run returns false) and runs its loop on its own thread, so several threads calling
// convkit at once never start more threads than one caller asked for plus themselves.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace convkit::cpu {

// A non-owning reference to a callable void(int), cheap to pass (no allocation, unlike std::function).
class TaskRef {
 public:
  template <class F>
  explicit TaskRef(F& f) : object_(&f), call_([](void* o, int worker) { (*static_cast<F*>(o))(worker); }) {}
  void operator()(int worker) const { call_(object_, worker); }

 private:
  void* object_;
  void (*call_)(void*, int);
};

// Runs task(0) on the calling thread and task(w), 0 < w < workers, on each pool thread (started on first use
// and kept) that wakes before task(0) returns; a pool thread that comes later skips the job, so task(0) must
// finish whatever the others have not taken (parallel_for's tasks claim chunks of one shared loop). Returns
// once every task that started has returned. The tasks must not throw (parallel_for catches). Returns
// false, having run nothing, when the pool is in use by another caller or by this one (a nested loop).
// workers is capped at kMaxWorkers.
bool try_run_on_pool(int workers, TaskRef task);

inline constexpr int kMaxWorkers = 256;
inline constexpr int kSpinMicroseconds = 50;

// The thread count when a plan or call does not give one: set_num_threads(n) if n > 0, else the first
// number of the OMP_NUM_THREADS environment variable when it is a positive integer (as PyTorch reads it;
// dask.distributed sets it to 1 in its workers), else every hardware thread.
int default_threads();
void set_default_threads(int threads);

}  // namespace convkit::cpu
