#include "channel_shuffle.h"

#include <cstring>

#include "driver_util.h"
#include "parallel.h"

namespace convkit::cpu {

void channel_shuffle(ConstTensorView x, int64_t groups, Layout layout, float* y, int threads) {
  const bool channels_last = layout == Layout::channels_last;
  const int64_t channels = channels_last ? x.shape().back() : x.dim(1);
  const int64_t per_group = channels / groups;
  const int64_t batch = x.dim(0);
  const int64_t pixels = batch == 0 || channels == 0 ? 0 : x.numel() / (batch * channels);
  if (x.numel() < kSerialMacs) threads = 1;
  const float* in = x.data();
  if (!channels_last) {
    // Output plane (n, i * groups + g) is input plane (n, g * per_group + i).
    const int64_t planes = batch * channels;
    parallel_for(threads, planes, [&](int64_t plane) {
      const int64_t n = plane / channels, o = plane % channels;
      const int64_t source = n * channels + o % groups * per_group + o / groups;
      std::memcpy(y + plane * pixels, in + source * pixels, static_cast<size_t>(pixels) * sizeof(float));
    });
    return;
  }
  // Per pixel: read each group's run of per_group consecutive inputs, write them `groups` apart.
  const int64_t total = batch * pixels;
  parallel_for(threads, total, [&](int64_t p) {
    const float* from = in + p * channels;
    float* to = y + p * channels;
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = 0; i < per_group; ++i) to[i * groups + g] = from[g * per_group + i];
  });
}

}  // namespace convkit::cpu
