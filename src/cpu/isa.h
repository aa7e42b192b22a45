// The SIMD instruction sets the engine has micro-kernels for, and which of them this CPU runs.
#pragma once

#include <string_view>
#include <vector>

namespace convkit::cpu {

enum class Isa { portable, avx2, avx512 };

std::string_view to_string(Isa isa);
// Every ISA this CPU can run, best first (portable is always last). The environment variable
// CONVKIT_ISA=avx2|portable caps it, to measure or debug a lower ISA on a better machine.
const std::vector<Isa>& supported_isas();

}  // namespace convkit::cpu
