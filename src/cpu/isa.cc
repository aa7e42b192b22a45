#include "isa.h"

#include <cstdlib>
#include <string>

#include "convkit/error.h"
#include "isa_kernels.h"

namespace convkit::cpu {

std::string_view to_string(Isa isa) {
#define CONVKIT_ISA_NAME(name) \
  case Isa::name: return #name;
  switch (isa) { CONVKIT_FOR_EACH_ISA(CONVKIT_ISA_NAME) }
#undef CONVKIT_ISA_NAME
  return "?";
}

namespace {

constexpr Isa kAll[] = {
#define CONVKIT_ISA_VALUE(name) Isa::name,
    CONVKIT_FOR_EACH_ISA(CONVKIT_ISA_VALUE)
#undef CONVKIT_ISA_VALUE
};

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::portable: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");  // the kernels use both
  }
  return false;
}

std::string isa_names(const std::vector<Isa>& isas) {
  std::string names;
  for (Isa isa : isas) names += (names.empty() ? "" : ", ") + std::string(to_string(isa));
  return names;
}

Isa isa_cap() {
  const char* text = std::getenv("CONVKIT_ISA");
  if (!text || !*text) return std::end(kAll)[-1];
  for (Isa isa : kAll)
    if (to_string(isa) == text) return isa;
  fail("CONVKIT_ISA=", std::string(text), " is not one of ", isa_names({std::begin(kAll), std::end(kAll)}));
}

}  // namespace

const std::vector<Isa>& supported_isas() {
  static const std::vector<Isa> isas = [] {
    std::vector<Isa> list;
    const Isa cap = isa_cap();
    for (auto isa = std::rbegin(kAll); isa != std::rend(kAll); ++isa)
      if (*isa <= cap && cpu_has(*isa)) list.push_back(*isa);
    return list;
  }();
  return isas;
}

Isa parse_supported_isa(std::string_view text, std::string_view argument) {
  for (Isa isa : supported_isas())
    if (to_string(isa) == text) return isa;
  fail(argument, ": the ISA '", text, "' is not one this CPU runs (", isa_names(supported_isas()),
       std::getenv("CONVKIT_ISA") ? ", capped by CONVKIT_ISA" : "", ")");
}

std::string kernel_name(std::string_view family, Isa isa, std::string_view tile) {
  return std::string(family) + "." + std::string(to_string(isa)) + "." + std::string(tile);
}

RequestedKernel parse_requested_kernel(std::string_view text, std::string_view argument) {
  RequestedKernel requested;
  const size_t first = text.find('.');
  requested.family = text.substr(0, first);
  if (first == std::string_view::npos) return requested;
  const size_t second = text.find('.', first + 1);
  requested.isa = parse_supported_isa(text.substr(first + 1, second - first - 1), argument);
  requested.whole_name = second != std::string_view::npos;
  return requested;
}

const IsaKernels& isa_kernels(Isa isa) {
#define CONVKIT_ISA_KERNELS(name) \
  case Isa::name: return name::kernels();
  switch (isa) { CONVKIT_FOR_EACH_ISA(CONVKIT_ISA_KERNELS) }
#undef CONVKIT_ISA_KERNELS
  return portable::kernels();
}

}  // namespace convkit::cpu
