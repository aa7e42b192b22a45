#include <string>

#include "convkit/error.h"
#include "isa_kernels.h"
#include "winograd_transform.h"

namespace convkit::cpu {

const WinogradTransform& winograd_transform(Isa isa, int m, int rank) {
  for (const WinogradTransform& t : isa_kernels(isa).winograd)
    if (t.m == m && t.rank == rank) return t;
  fail("internal error: no Winograd transform F(", m, ", 3) of rank ", rank, " for ", to_string(isa));
}

std::string WinogradTransform::name() const {
  const std::string tile = rank == 2 ? std::to_string(m) + "x" + std::to_string(m) : std::to_string(m);
  return kernel_name("winograd", isa, "f" + tile);
}

}  // namespace convkit::cpu
