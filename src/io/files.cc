#include "files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>

#include "convkit/error.h"

namespace convkit::io {
namespace {

// fail() with the message for the current errno appended (read before anything else can change it).
template <class... Parts>
[[noreturn]] void fail_with_errno(const Parts&... parts) {
  const int error = errno;
  fail(parts..., std::generic_category().message(error));
}

// The process umask, read without changing it (umask(2) can only be read by setting it, which would race
// with other threads creating files). Linux reports it in /proc/self/status; elsewhere assume 022.
mode_t current_umask() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Umask:", 0) != 0) continue;
    unsigned mask = 0;
    for (char c : line.substr(6))
      if (c >= '0' && c <= '7') mask = mask * 8 + static_cast<unsigned>(c - '0');
    return static_cast<mode_t>(mask & 0777u);
  }
  return 022;
}

// Closes a descriptor on scope exit and, for a temporary file not yet released, removes the file.
class Descriptor {
 public:
  explicit Descriptor(int fd, std::string remove_path = {}) : fd_(fd), remove_path_(std::move(remove_path)) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
    if (!remove_path_.empty()) ::unlink(remove_path_.c_str());
  }
  int get() const { return fd_; }
  // Closes the descriptor; the errno of a failed close, or 0.
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result == 0 ? 0 : errno;
  }
  void keep_file() { remove_path_.clear(); }

 private:
  int fd_;
  std::string remove_path_;
};

}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  const Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) fail_with_errno(path, ": cannot open for reading: ");
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) fail_with_errno(path, ": cannot read: ");
  if (S_ISDIR(info.st_mode)) fail(path, ": cannot read: it is a directory");
  // One byte more than a regular file's size, so its end is seen without growing the buffer.
  std::vector<uint8_t> bytes(S_ISREG(info.st_mode) ? static_cast<size_t>(info.st_size) + 1 : 65536);
  size_t used = 0;
  for (;;) {
    if (used == bytes.size()) bytes.resize(bytes.size() * 2);
    const ssize_t got = ::read(file.get(), bytes.data() + used, bytes.size() - used);
    if (got < 0) {
      if (errno == EINTR) continue;
      fail_with_errno(path, ": cannot read: ");
    }
    if (got == 0) break;
    used += static_cast<size_t>(got);
  }
  bytes.resize(used);
  return bytes;
}

void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  const std::string pattern = path + ".tmp-XXXXXX";
  std::string temp_path = pattern;
  const int fd = ::mkstemp(temp_path.data());
  if (fd < 0) fail_with_errno(path, ": cannot write: creating the temporary file ", pattern, " failed: ");
  Descriptor temp(fd, temp_path);
  // mkstemp creates the file with mode 0600; give it the mode a plain open(O_CREAT, 0666) would.
  if (::fchmod(temp.get(), 0666 & ~current_umask()) != 0)
    fail_with_errno(path, ": cannot write: setting the mode of ", temp_path, " failed: ");
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t wrote = ::write(temp.get(), bytes.data() + done, bytes.size() - done);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      fail_with_errno(path, ": cannot write: writing ", temp_path, " failed: ");
    }
    done += static_cast<size_t>(wrote);
  }
  if (const int error = temp.close(); error != 0)
    fail(path, ": cannot write: closing ", temp_path, " failed: ", std::generic_category().message(error));
  if (std::rename(temp_path.c_str(), path.c_str()) != 0)
    fail_with_errno(path, ": cannot write: renaming ", temp_path, " to it failed: ");
  temp.keep_file();
}

}  // namespace convkit::io
