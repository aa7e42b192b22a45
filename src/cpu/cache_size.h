// The cache size the drivers size their blocks by, read from the machine they run on: blocks sized for
// one machine's L2 spill another's (Sapphire Rapids has 2 MiB per core, AMD Zen 5 1 MiB).
#pragma once

#include <cstdint>

namespace convkit::cpu {

// One core's L2 cache in bytes: glibc's sysconf(_SC_LEVEL2_CACHE_SIZE), which reads CPUID (so it also
// works in virtual machines without /sys cache entries); 1 MiB where the C library does not know.
int64_t l2_cache_bytes();

// One core's L1 data cache in bytes, likewise (_SC_LEVEL1_DCACHE_SIZE); 32 KiB where unknown.
int64_t l1_data_cache_bytes();

}  // namespace convkit::cpu
