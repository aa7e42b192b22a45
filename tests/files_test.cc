// Atomic file writing (convkit/files.h): nothing but the target ever remains, even after a SIGKILL;
// stale temporary names are cleaned; a batch leaves every target as it was when one file fails; long
// names that fit NAME_MAX can be written.
#include "convkit/files.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "convkit/error.h"
#include "scratch_dir.h"

namespace convkit {
namespace {

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

std::string contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A process id that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(Files, WriteReplacesAndLeavesOnlyTheTarget) {
  const testing::ScratchDir dir;
  files::write_atomically(dir.file("a.bin"), bytes_of("first"));
  files::write_atomically(dir.file("a.bin"), bytes_of("second"));
  EXPECT_EQ(contents(dir.file("a.bin")), "second");
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"a.bin"}));
  EXPECT_THROW(files::write_atomically(dir.file("missing/a.bin"), bytes_of("x")), Error);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"a.bin"}));
}

// NAME_MAX is 255: any name that fits can be written; the temporary name is shortened to fit as well.
TEST(Files, LongestNamesCanBeWritten) {
  const testing::ScratchDir dir;
  for (const std::string& name : {std::string(254, 'n') + ".", std::string(255, 'n'),
                                  std::string(250, 'n') + "\xC3\xA9\xC3\xA9"}) {  // cut inside "é" would be bad
    files::write_atomically(dir.file(name), bytes_of(name));
    EXPECT_EQ(contents(dir.file(name)), name);
  }
  EXPECT_EQ(dir.files().size(), 3u);
}

TEST(Files, TemporaryFilesOfDeadProcessesAreRemovedByTheNextWrite) {
  const testing::ScratchDir dir;
  const std::string stale = ".out.npy.convkit-tmp-" + std::to_string(dead_pid()) + "-abc123";
  const std::string live = ".out.npy.convkit-tmp-" + std::to_string(::getppid()) + "-abc123";  // running
  const std::string other = ".out.npy.convkit-tmp-12-x";  // not our pattern: not ours to remove
  for (const std::string& name : {stale, live, other}) std::ofstream(dir.file(name)) << "partial";
  files::write_atomically(dir.file("out.npy"), bytes_of("data"));
  std::vector<std::string> expected{other, live, "out.npy"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(dir.files(), expected);
}

// A child killed with SIGKILL at random moments while writing a large file over and over leaves the
// target (complete, old or new) and at most a temporary name that the next write removes.
TEST(Files, SigkillDuringWritesLeavesNoStrayFile) {
  const std::vector<uint8_t> big(8 << 20, 'x');
  for (int round = 0; round < 5; ++round) {
    const testing::ScratchDir dir;
    const std::string target = dir.file("target.npy");
    files::write_atomically(target, big);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      for (;;) files::write_atomically(target, big);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 17 * round));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    const std::vector<std::string> left = dir.files();
    for (const std::string& name : left)
      EXPECT_TRUE(name == "target.npy" || name.find(".convkit-tmp-" + std::to_string(child) + "-") == 11) << name;
    EXPECT_EQ(contents(target).size(), big.size());
    files::write_atomically(dir.file("next.npy"), bytes_of("next"));
    EXPECT_EQ(dir.files(), (std::vector<std::string>{"next.npy", "target.npy"}));
  }
}

// Blocked between writing its files and committing them, then killed: no name was ever created.
TEST(Files, SigkillBeforeCommitLeavesNothing) {
  const testing::ScratchDir dir;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    files::AtomicWrites batch;
    batch.add(dir.file("a.npy"), std::vector<uint8_t>(1 << 20, 'a'));
    batch.add(dir.file("b.npy"), std::vector<uint8_t>(1 << 20, 'b'));
    char ready = 'r';
    if (::write(pipe_fds[1], &ready, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char ready = 0;
  ASSERT_EQ(::read(pipe_fds[0], &ready, 1), 1);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  // O_TMPFILE: the files had no names. Without it, the temporary names are removed by the next write.
  files::write_atomically(dir.file("c.npy"), bytes_of("c"));
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"c.npy"}));
}

TEST(Files, BatchChangesNothingUntilCommit) {
  const testing::ScratchDir dir;
  files::write_atomically(dir.file("old.csv"), bytes_of("old"));
  {
    files::AtomicWrites batch;
    batch.add(dir.file("old.csv"), bytes_of("new"));
    batch.add(dir.file("fresh.csv"), bytes_of("fresh"));
    EXPECT_EQ(contents(dir.file("old.csv")), "old");
    EXPECT_EQ(dir.files(), (std::vector<std::string>{"old.csv"}));
  }  // not committed: discarded
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"old.csv"}));
  files::AtomicWrites batch;
  batch.add(dir.file("old.csv"), bytes_of("new"));
  batch.add(dir.file("fresh.csv"), bytes_of("fresh"));
  batch.commit();
  EXPECT_EQ(contents(dir.file("old.csv")), "new");
  EXPECT_EQ(contents(dir.file("fresh.csv")), "fresh");
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"fresh.csv", "old.csv"}));
}

// A later file of the batch that cannot be written (its target is a directory) leaves the earlier
// targets as they were: the old code renamed each file as soon as it was written.
TEST(Files, FailingBatchLeavesEveryTargetAsItWas) {
  const testing::ScratchDir dir;
  files::write_atomically(dir.file("a.csv"), bytes_of("old a"));
  std::filesystem::create_directory(dir.file("b.csv"));
  files::AtomicWrites batch;
  batch.add(dir.file("a.csv"), bytes_of("new a"));
  try {
    batch.add(dir.file("b.csv"), bytes_of("new b"));
    batch.commit();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("b.csv") + ": cannot write: it is a directory"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(contents(dir.file("a.csv")), "old a");
}

}  // namespace
}  // namespace convkit
