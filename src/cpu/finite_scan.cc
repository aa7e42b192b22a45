#include "finite_scan.h"

#include "isa_kernels.h"

namespace convkit::cpu {

bool all_finite(const float* values, int64_t count, Isa isa) { return isa_kernels(isa).all_finite(values, count); }

}  // namespace convkit::cpu
