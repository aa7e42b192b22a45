// The engine's thread pool under the ways callers use it: loops nested in loops, several threads calling
// at once (a Python thread pool, a web server), a child forked after the pool has run (Dask,
// multiprocessing), thread counts beyond the pool's cap; and the default thread count's sources.
#include "../src/core/private/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <numeric>
#include <thread>
#include <vector>

#include "../src/core/private/parallel.h"
#include "convkit/conv.h"

namespace convkit {
namespace {

// Each i in [0, count) visited exactly once, by loops of `threads` threads.
void expect_each_once(int threads, int64_t count) {
  std::vector<std::atomic<int>> visits(static_cast<size_t>(count));
  cpu::parallel_for(threads, count, [&](int64_t i) { visits[static_cast<size_t>(i)].fetch_add(1); });
  for (int64_t i = 0; i < count; ++i) ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1) << i << ", " << threads;
}

TEST(ThreadPool, NestedLoopsRunTheInnerOneOnTheCallingThread) {
  std::vector<std::atomic<int>> visits(8 * 50);
  cpu::parallel_for(2, 8, [&](int64_t outer) {
    const std::thread::id mine = std::this_thread::get_id();
    cpu::parallel_for(2, 50, [&](int64_t inner) {
      EXPECT_EQ(std::this_thread::get_id(), mine);  // the pool is busy with the outer loop
      visits[static_cast<size_t>(outer * 50 + inner)].fetch_add(1);
    });
  });
  for (const auto& v : visits) EXPECT_EQ(v.load(), 1);
}

TEST(ThreadPool, SeveralCallingThreadsEachGetEveryIterationOnce) {
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    callers.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        const int64_t count = 1 + (t * 37 + round * 11) % 300;
        std::vector<std::atomic<int>> visits(static_cast<size_t>(count));
        cpu::parallel_for(1 + round % 4, count, cpu::Schedule::dynamic, [] { return 0; },
                          [&](int&, int64_t i) { visits[static_cast<size_t>(i)].fetch_add(1); });
        for (const auto& v : visits) failures += v.load() != 1;
      }
    });
  }
  for (std::thread& c : callers) c.join();
  EXPECT_EQ(failures.load(), 0);
}

// Guided hand-out: every iteration once, and a per-thread state only for a thread that got iterations (one
// iteration: one state, whichever thread took it), over many short loops where pool threads often join late.
TEST(ThreadPool, GuidedLoopsVisitEachOnceAndMakeStatesOnlyForThreadsThatWork) {
  for (int round = 0; round < 2000; ++round) {
    const int threads = 2 + round % 3;
    const int64_t count = 1 + (round * 7919) % 97;
    std::vector<std::atomic<int>> visits(static_cast<size_t>(count));
    std::atomic<int> states{0};
    cpu::parallel_for(
        threads, count, cpu::Schedule::guided, [&] { return ++states; },
        [&](int, int64_t i) { visits[static_cast<size_t>(i)].fetch_add(1); });
    for (int64_t i = 0; i < count; ++i) ASSERT_EQ(visits[static_cast<size_t>(i)].load(), 1) << i << " of " << count;
    ASSERT_LE(states.load(), std::min<int64_t>(threads, count)) << count;
    ASSERT_GE(states.load(), 1);
  }
}

TEST(ThreadPool, ThreadCountsBeyondTheCapAndTheItemsStillVisitEachOnce) {
  for (int threads : {2, 3, 7, cpu::kMaxWorkers + 5}) {
    expect_each_once(threads, 1);
    expect_each_once(threads, 5);
    expect_each_once(threads, 1000);
  }
}

// A child forked after the pool ran has none of its threads; its loops must still finish (libgomp's
// hang in a forked child after a parallel region is the case this guards against).
TEST(ThreadPool, AForkedChildRunsLoopsOnANewPool) {
  expect_each_once(2, 100);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20);  // a hang becomes SIGALRM
    std::atomic<int64_t> sum{0};
    cpu::parallel_for(2, 1000, [&](int64_t i) { sum += i; });
    _exit(sum.load() == 999 * 1000 / 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(ThreadPool, DefaultThreadsFollowSetNumThreads) {
  const int before = num_threads();
  EXPECT_GE(before, 1);
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), before);
}

}  // namespace
}  // namespace convkit
