#include <string>

#include "tile_kernel.h"

namespace convkit::cpu {

TileKernel best_tile_kernel(std::span<const TileKernel> kernels, bool indirect, bool channels_in_columns,
                            int64_t channels, TileTies ties) {
  const TileKernel* best = nullptr;
  auto padded = [&](const TileKernel& k) {
    const int64_t width = channels_in_columns ? k.nr : k.mr;
    return (channels + width - 1) / width * width;
  };
  auto better_on_tie = [&](const TileKernel& k) {
    if (ties != TileTies::larger) {
      // 1/MR + w/NV compared as (MR + w NV) / (MR NV), cross-multiplied (w = 2 when vector loads count twice).
      const int w = ties == TileTies::fewest_loads_vectors_twice ? 2 : 1;
      const int nv = k.nr / k.lanes, best_nv = best->nr / best->lanes;
      const int loads = (k.mr + w * nv) * best->mr * best_nv, best_loads = (best->mr + w * best_nv) * k.mr * nv;
      if (loads != best_loads) return loads < best_loads;
    }
    return k.mr * k.nr > best->mr * best->nr;
  };
  for (const TileKernel& k : kernels)
    if (k.indirect == indirect &&
        (!best || padded(k) < padded(*best) || (padded(k) == padded(*best) && better_on_tie(k))))
      best = &k;
  return *best;
}

std::string TileKernel::tile() const {
  return std::to_string(mr) + "x" + std::to_string(nr) + (indirect ? "-indirect" : "");
}

}  // namespace convkit::cpu
