#include <string>

#include "tile_kernel.h"

namespace convkit::cpu {

std::span<const TileKernel> avx512_tile_kernels();
std::span<const TileKernel> avx2_tile_kernels();
std::span<const TileKernel> portable_tile_kernels();

std::span<const TileKernel> tile_kernels(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512_tile_kernels();
    case Isa::avx2: return avx2_tile_kernels();
    case Isa::portable: return portable_tile_kernels();
  }
  return {};
}

std::string TileKernel::name() const {
  return std::string(indirect ? "igemm." : "gemm.") + std::string(to_string(isa)) + "." + std::to_string(mr) + "x" +
         std::to_string(nr);
}

}  // namespace convkit::cpu
