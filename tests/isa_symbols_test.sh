#!/bin/bash
# Code compiled with one ISA's flags must never be shared with code compiled with other flags. A weak
# (COMDAT) symbol, an inline function or template instantiation such as std::vector<TileKernel>'s
# destructor, defined both in a per-ISA object (*_avx2.cc.o, *_avx512.cc.o) and in an object compiled
# otherwise, is kept once for the whole program by the linker: maybe the AVX-512 copy, which then faults
# on a CPU without AVX-512. Lists every such symbol of the given archives and fails if there is one.
# Only weak code (nm type W) counts: weak data (V, u: typeinfo, which UBSan emits for function types,
# vtables, static locals of inline functions) holds no instructions, and what it points to is code.
#   tests/isa_symbols_test.sh ARCHIVE...
set -euo pipefail
nm -A --defined-only "$@" | awk '
  NF >= 3 && $(NF-1) == "W" && $NF !~ /^DW\.ref\./ {
    member = $1
    group = member ~ /_avx512\.cc\.o:/ ? "avx512" : member ~ /_avx2\.cc\.o:/ ? "avx2" : "other"
    if (!((name = $NF) SUBSEP group in seen)) { seen[name, group] = 1; groups[name] = groups[name] " " group }
  }
  END {
    shared = 0
    for (name in groups) if (split(groups[name], g, " ") > 1) { print "shared across ISAs:" groups[name] ": " name; shared++ }
    if (shared) { print shared " weak symbols are compiled for more than one ISA"; exit 1 }
    print "no weak symbol is shared between per-ISA code and other code"
  }' | c++filt
