#include "convkit/random.h"

#include <cmath>
#include <numbers>

namespace convkit {

double Rng::normal() {
  const double u1 = 1.0 - uniform(), u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace convkit
