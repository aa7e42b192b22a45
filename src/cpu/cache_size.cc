#include "cache_size.h"

#include <unistd.h>

namespace convkit::cpu {

int64_t l2_cache_bytes() {
  static const int64_t bytes = [] {
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long size = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (size > 0) return static_cast<int64_t>(size);
#endif
    return int64_t{1} << 20;
  }();
  return bytes;
}

int64_t l1_data_cache_bytes() {
  static const int64_t bytes = [] {
#ifdef _SC_LEVEL1_DCACHE_SIZE
    const long size = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    if (size > 0) return static_cast<int64_t>(size);
#endif
    return int64_t{32} << 10;
  }();
  return bytes;
}

}  // namespace convkit::cpu
