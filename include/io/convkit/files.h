// Atomic file writing: a file appears with all its new contents or not at all, even when the process is
// killed mid-write, and a batch of files is written in full before any of them replaces an existing file.
//
// How: the bytes go to an unnamed file in the target's directory (O_TMPFILE), which gets a name only
// once it is complete: it is linked as `.<target>.convkit-tmp-<pid>-<random>` and at once renamed over
// the target (rename(2) replaces a file atomically; linkat(2) cannot replace one). A SIGKILL leaves a
// name behind only in that instant. Where the file system has no O_TMPFILE, the file is written under
// that temporary name itself. A temporary name whose process is no longer running is removed by the
// next write of this process into the same directory. The name is shortened when needed so that it
// fits NAME_MAX (255 bytes) whenever the target's name does.
//
// The new files get the mode 0666 minus the process umask, as open(O_CREAT, 0666) would give.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace convkit::files {

// Writes `bytes` to `path` atomically. On failure `path` is left as it was, nothing else remains in its
// directory, and convkit::Error naming the path is thrown.
void write_atomically(const std::string& path, std::span<const uint8_t> bytes);

// Several files written as a batch: add() writes each one's contents (no name is visible yet), commit()
// then names them all and renames them over their targets. A failure in add() or while naming leaves
// every target as it was; only a failing rename(2) itself (rare: the file is complete and in the same
// directory) can leave some targets replaced and others not. Destroying a batch that was not committed
// discards its files.
class AtomicWrites {
 public:
  AtomicWrites() = default;
  AtomicWrites(const AtomicWrites&) = delete;
  AtomicWrites& operator=(const AtomicWrites&) = delete;
  ~AtomicWrites();

  // Writes `bytes` to a new file that will replace `path` at commit(); convkit::Error naming the path.
  void add(const std::string& path, std::span<const uint8_t> bytes);
  // Replaces every added path with its new file; convkit::Error naming the path that failed.
  void commit();

 private:
  struct Pending {
    std::string path;
    std::string temp_path;  // set once the file has a name
    int fd = -1;            // open until the file is named and closed
  };
  std::vector<Pending> pending_;
};

}  // namespace convkit::files
