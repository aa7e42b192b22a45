#include "isa.h"

#include <cstdlib>
#include <string>

#include "convkit/error.h"

namespace convkit::cpu {

std::string_view to_string(Isa isa) {
  switch (isa) {
    case Isa::portable: return "portable";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

namespace {

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::portable: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");  // the kernels use both
  }
  return false;
}

Isa isa_cap() {
  const char* text = std::getenv("CONVKIT_ISA");
  if (!text || !*text) return Isa::avx512;
  for (Isa isa : {Isa::portable, Isa::avx2, Isa::avx512})
    if (to_string(isa) == text) return isa;
  fail("CONVKIT_ISA=", std::string(text), " is not one of avx512, avx2, portable");
}

}  // namespace

const std::vector<Isa>& supported_isas() {
  static const std::vector<Isa> isas = [] {
    std::vector<Isa> list;
    const Isa cap = isa_cap();
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::portable})
      if (isa <= cap && cpu_has(isa)) list.push_back(isa);
    return list;
  }();
  return isas;
}

}  // namespace convkit::cpu
