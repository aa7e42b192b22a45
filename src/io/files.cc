// Whole-file reading, and atomic writing (convkit/files.h).
#include "convkit/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "convkit/error.h"
#include "files.h"

namespace convkit {
namespace {

// fail() with the message for the current errno appended (read before anything else can change it).
template <class... Parts>
[[noreturn]] void fail_with_errno(const Parts&... parts) {
  const int error = errno;
  fail(parts..., std::generic_category().message(error));
}

// Closes a descriptor on scope exit.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

constexpr std::string_view kTempMarker = ".convkit-tmp-";

// The directory part of `path` ("" for the current directory; kept with its trailing '/') and the name.
std::pair<std::string, std::string> split(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

// A temporary name for `path` in its directory: `.<name>.convkit-tmp-<pid>-<6 random letters>`, <name>
// cut (at a UTF-8 character boundary) so that the whole fits NAME_MAX.
std::string temp_path_for(const std::string& path) {
  static constexpr char kLetters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::string suffix = std::string(kTempMarker) + std::to_string(::getpid()) + "-";
  for (int i = 0; i < 6; ++i) suffix += kLetters[generator() % (sizeof kLetters - 1)];
  auto [directory, name] = split(path);
  const size_t room = NAME_MAX - 1 - suffix.size();
  if (name.size() > room) {
    size_t cut = room;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) --cut;  // not inside a character
    name.resize(cut);
  }
  return directory + "." + name + suffix;
}

// The process id in a temporary name `.<name>.convkit-tmp-<pid>-<6 letters>`, or 0 for any other name.
pid_t owner_of(std::string_view name) {
  const size_t marker = name.rfind(kTempMarker);
  if (name.empty() || name.front() != '.' || marker == std::string_view::npos) return 0;
  std::string_view rest = name.substr(marker + kTempMarker.size());  // <pid>-<6 letters>
  const size_t dash = rest.find('-');
  if (dash == 0 || dash == std::string_view::npos || rest.size() - dash - 1 != 6) return 0;
  long long pid = 0;
  for (char c : rest.substr(0, dash)) {
    if (c < '0' || c > '9' || pid > INT_MAX / 10) return 0;
    pid = pid * 10 + (c - '0');
  }
  return static_cast<pid_t>(pid);
}

// Removes the temporary files that processes no longer running left in `directory` (killed between
// naming a file and renaming it, or while writing one without O_TMPFILE). A scan looks at every entry,
// so a directory of E entries is scanned again only after E / 64 more writes into it: writing many files
// into one directory stays linear, and a small directory is scanned on every write.
void remove_stale_temps(const std::string& directory) {
  const std::string where = directory.empty() ? "." : directory;
  struct stat info {};
  if (::stat(where.c_str(), &info) != 0) return;  // the write itself reports the problem
  static std::mutex mutex;
  static std::map<std::pair<dev_t, ino_t>, size_t> writes_until_scan;
  const std::pair key{info.st_dev, info.st_ino};
  {
    const std::lock_guard lock(mutex);
    if (size_t& left = writes_until_scan[key]; left > 0) {
      --left;
      return;
    }
  }
  DIR* listing = ::opendir(where.c_str());
  if (!listing) return;
  size_t entries = 0;
  while (const dirent* entry = ::readdir(listing)) {
    ++entries;
    const pid_t owner = owner_of(entry->d_name);
    if (owner > 0 && owner != ::getpid() && ::kill(owner, 0) != 0 && errno == ESRCH)
      ::unlinkat(::dirfd(listing), entry->d_name, 0);
  }
  ::closedir(listing);
  const std::lock_guard lock(mutex);
  writes_until_scan[key] = entries / 64;
}

// Writes all of `bytes` to `fd`; false with errno set on failure.
bool write_all(int fd, std::span<const uint8_t> bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t wrote = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (wrote < 0 && errno != EINTR) return false;
    if (wrote > 0) done += static_cast<size_t>(wrote);
  }
  return true;
}

// Creates `temp_path` for writing, with a fresh random part until the name is unused.
int create_named(std::string& temp_path, const std::string& path) {
  for (int attempt = 0;; ++attempt) {
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST || attempt == 100) return fd;
    temp_path = temp_path_for(path);
  }
}

// Links the unnamed (O_TMPFILE) file `fd` as `temp_path`, with a fresh random part until the name is
// unused. /proc/self/fd works for any user; AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, kept for when /proc
// is not mounted.
bool link_unnamed(int fd, std::string& temp_path, const std::string& path) {
  const std::string proc_path = "/proc/self/fd/" + std::to_string(fd);
  for (int attempt = 0;; ++attempt) {
    if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, temp_path.c_str(), AT_SYMLINK_FOLLOW) == 0) return true;
    if (errno == ENOENT && ::linkat(fd, "", AT_FDCWD, temp_path.c_str(), AT_EMPTY_PATH) == 0) return true;
    if (errno != EEXIST || attempt == 100) return false;
    temp_path = temp_path_for(path);
  }
}

}  // namespace

namespace io {

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

}  // namespace io

namespace files {

void write_atomically(const std::string& path, std::span<const uint8_t> bytes) {
  AtomicWrites batch;
  batch.add(path, bytes);
  batch.commit();
}

AtomicWrites::~AtomicWrites() {
  for (const Pending& file : pending_) {
    if (file.fd >= 0) ::close(file.fd);
    if (!file.temp_path.empty()) ::unlink(file.temp_path.c_str());
  }
}

void AtomicWrites::add(const std::string& path, std::span<const uint8_t> bytes) {
  // rename(2) would fail only at commit(), after the other files of the batch have replaced theirs.
  struct stat target {};
  if (::lstat(path.c_str(), &target) == 0 && S_ISDIR(target.st_mode)) fail(path, ": cannot write: it is a directory");
  const std::string directory = split(path).first;
  remove_stale_temps(directory);
  Pending& file = pending_.emplace_back(Pending{path, {}, -1});
  file.fd = ::open(directory.empty() ? "." : directory.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  if (file.fd < 0) {  // no O_TMPFILE here (or no such directory: the named file reports that)
    file.temp_path = temp_path_for(path);
    file.fd = create_named(file.temp_path, path);
    if (file.fd < 0) {
      const std::string temp_path = std::exchange(file.temp_path, {});  // not created: nothing to remove
      fail_with_errno(path, ": cannot write: creating the temporary file ", temp_path, " failed: ");
    }
  }
  if (!write_all(file.fd, bytes))
    fail_with_errno(path, ": cannot write: writing ", file.temp_path.empty() ? "a temporary file" : file.temp_path,
                    " failed: ");
}

void AtomicWrites::commit() {
  for (Pending& file : pending_) {  // name every file, so a failure here leaves every target as it was
    if (file.temp_path.empty()) {
      file.temp_path = temp_path_for(file.path);
      if (!link_unnamed(file.fd, file.temp_path, file.path)) {
        const std::string temp_path = std::exchange(file.temp_path, {});
        fail_with_errno(file.path, ": cannot write: naming the temporary file ", temp_path, " failed: ");
      }
    }
    const int fd = std::exchange(file.fd, -1);
    if (::close(fd) != 0) fail_with_errno(file.path, ": cannot write: closing ", file.temp_path, " failed: ");
  }
  for (Pending& file : pending_) {
    if (std::rename(file.temp_path.c_str(), file.path.c_str()) != 0)
      fail_with_errno(file.path, ": cannot write: renaming ", file.temp_path, " to it failed: ");
    file.temp_path.clear();
  }
  pending_.clear();
}

}  // namespace files
}  // namespace convkit
