#include <string>

#include "tile_kernel.h"

namespace convkit::cpu {

TileKernel best_tile_kernel(std::span<const TileKernel> kernels, bool indirect, bool channels_in_columns,
                            int64_t channels) {
  const TileKernel* best = nullptr;
  auto padded = [&](const TileKernel& k) {
    const int64_t width = channels_in_columns ? k.nr : k.mr;
    return (channels + width - 1) / width * width;
  };
  for (const TileKernel& k : kernels)
    if (k.indirect == indirect &&
        (!best || padded(k) < padded(*best) || (padded(k) == padded(*best) && k.mr * k.nr > best->mr * best->nr)))
      best = &k;
  return *best;
}

std::string TileKernel::tile() const {
  return std::to_string(mr) + "x" + std::to_string(nr) + (indirect ? "-indirect" : "");
}

}  // namespace convkit::cpu
