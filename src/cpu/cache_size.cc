#include "cache_size.h"

#include <unistd.h>

namespace convkit::cpu {
namespace {

#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
constexpr int kL1DataName = _SC_LEVEL1_DCACHE_SIZE, kL2Name = _SC_LEVEL2_CACHE_SIZE;
#else
constexpr int kL1DataName = -1, kL2Name = -1;  // a C library that does not report them
#endif

// sysconf(name) when the C library knows it, else `fallback`.
int64_t cache_bytes(int name, int64_t fallback) {
  const long size = name >= 0 ? sysconf(name) : -1;
  return size > 0 ? static_cast<int64_t>(size) : fallback;
}

}  // namespace

int64_t l2_cache_bytes() {
  static const int64_t bytes = cache_bytes(kL2Name, int64_t{1} << 20);
  return bytes;
}

int64_t l1_data_cache_bytes() {
  static const int64_t bytes = cache_bytes(kL1DataName, int64_t{32} << 10);
  return bytes;
}

}  // namespace convkit::cpu
