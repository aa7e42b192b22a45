#include <string>

#include "convkit/error.h"
#include "winograd_transform.h"

namespace convkit::cpu {

std::span<const WinogradTransform> avx512_winograd_transforms();
std::span<const WinogradTransform> avx2_winograd_transforms();
std::span<const WinogradTransform> portable_winograd_transforms();

std::span<const WinogradTransform> winograd_transforms(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512_winograd_transforms();
    case Isa::avx2: return avx2_winograd_transforms();
    case Isa::portable: return portable_winograd_transforms();
  }
  return {};
}

const WinogradTransform& winograd_transform(Isa isa, int m, int rank) {
  for (const WinogradTransform& t : winograd_transforms(isa))
    if (t.m == m && t.rank == rank) return t;
  fail("internal error: no Winograd transform F(", m, ", 3) of rank ", rank, " for ", to_string(isa));
}

std::string WinogradTransform::name() const {
  const std::string tile = rank == 2 ? std::to_string(m) + "x" + std::to_string(m) : std::to_string(m);
  return "winograd." + std::string(to_string(isa)) + ".f" + tile;
}

}  // namespace convkit::cpu
