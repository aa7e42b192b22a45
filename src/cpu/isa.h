// The SIMD instruction sets the engine has micro-kernels for, and which of them this CPU runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace convkit::cpu {

// Every ISA, worst first: the one list the enum, the names, the kernel registry (isa_kernels.h) and the
// per-ISA builds of isa_kernels.cc (src/cpu/CMakeLists.txt) follow.
#define CONVKIT_FOR_EACH_ISA(X) X(portable) X(avx2) X(avx512)

#define CONVKIT_ISA_ENUMERATOR(isa) isa,
enum class Isa { CONVKIT_FOR_EACH_ISA(CONVKIT_ISA_ENUMERATOR) };
#undef CONVKIT_ISA_ENUMERATOR

std::string_view to_string(Isa isa);
// Every ISA this CPU can run, best first (portable is always last). The environment variable
// CONVKIT_ISA=avx2|portable caps it, to measure or debug a lower ISA on a better machine.
const std::vector<Isa>& supported_isas();
// The ISA named `text` if this CPU runs it (and CONVKIT_ISA allows it), else a convkit::Error that
// names `argument` and the ISAs it could be.
Isa parse_supported_isa(std::string_view text, std::string_view argument);

// A kernel's name, one grammar everywhere (plan.algorithm(), explain(), the bench, the tests):
// family.isa.tile, e.g. "gemm.avx512.14x32-indirect". The family is the algorithm-table entry that
// PlanOptions::algorithm forces; the tile says which of the family's micro-kernels runs.
std::string kernel_name(std::string_view family, Isa isa, std::string_view tile);

// PlanOptions::algorithm read by the same grammar, family[.isa[.tile]]: the family forces that entry of
// the algorithm table, an ISA runs that ISA's kernels (one this CPU runs), and a whole name must be the
// kernel the entry chooses for the spec, so that a name read back from plan.algorithm() forces it again.
struct RequestedKernel {
  std::string_view family;
  std::optional<Isa> isa;
  bool whole_name = false;
};
// `argument` names the option in errors (e.g. "PlanOptions.algorithm=gemm.sse9").
RequestedKernel parse_requested_kernel(std::string_view text, std::string_view argument);

}  // namespace convkit::cpu
