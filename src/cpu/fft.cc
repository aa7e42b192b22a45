#include "fft.h"
#include "isa_kernels.h"

#include <cmath>
#include <numbers>

#include "convkit/error.h"

namespace convkit::cpu {

FftPlan::FftPlan(int64_t n, Isa isa) : n_(n), kernels_(isa_kernels(isa).fft), tw_re_(static_cast<size_t>(n)),
                                       tw_im_(static_cast<size_t>(n)) {
  if (n < 2 || (n & (n - 1)) != 0) fail("FftPlan: n=", n, " must be a power of two >= 2");
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t j = 0; j < h; ++j) {  // in double, rounded once
      const double angle = -std::numbers::pi * static_cast<double>(j) / static_cast<double>(h);
      tw_re_[static_cast<size_t>(h + j)] = static_cast<float>(std::cos(angle));
      tw_im_[static_cast<size_t>(h + j)] = static_cast<float>(std::sin(angle));
    }
}

}  // namespace convkit::cpu
