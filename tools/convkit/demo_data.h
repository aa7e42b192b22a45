// The data `convkit demo` filters, generated in code (deterministic: a fixed seed, no files).
#pragma once

#include "convkit/tensor.h"

namespace convkit::cli {

// A 128x128 RGB picture, (3, 128, 128) with values 0..255: sky and ground gradients, a sun, a house
// with a roof, door and window, and a checkerboard; edges of every orientation for the filters.
Tensor demo_scene();

// A synthetic 3-axis accelerometer trace, (3, 500) in m/s^2 at 50 Hz (10 s): walking at 1.8 steps per
// second on x and y, gravity plus the step impacts on z, and sensor noise (sigma 0.6 m/s^2).
Tensor demo_accelerometer();

// A 32^3 volume, (1, 32, 32, 32): a bright sphere of radius 10 (value 200) on a dark background (20),
// with noise (sigma 25).
Tensor demo_volume();

}  // namespace convkit::cli
