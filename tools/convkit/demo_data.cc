#include "demo_data.h"

#include <cmath>
#include <numbers>
#include <random>

namespace convkit::cli {
namespace {

// Normal noise by Box-Muller from mt19937 (whose output the standard fixes), so the data is the same
// with every standard library.
class Noise {
 public:
  explicit Noise(uint32_t seed) : rng_(seed) {}
  float operator()(float sigma) {
    const double u1 = (static_cast<double>(rng_()) + 1.0) / 4294967296.0,
                 u2 = static_cast<double>(rng_()) / 4294967296.0;
    return sigma * static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
  }

 private:
  std::mt19937 rng_;
};

struct Color {
  float r, g, b;
};

Color mix(Color a, Color b, float t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

// The colour of the scene at pixel (x, y): the last shape that covers it wins.
Color scene_at(float x, float y) {
  const float horizon = 84;
  Color c = y < horizon ? mix({70, 130, 220}, {200, 225, 250}, y / horizon)                    // sky
                        : mix({90, 160, 70}, {40, 100, 40}, (y - horizon) / (128 - horizon));  // grass
  if (std::hypot(x - 100, y - 24) < 13) c = {250, 210, 60};                                    // sun
  if (x >= 18 && x < 62 && y >= 58 && y < 100) c = {180, 80, 60};                              // house
  if (y >= 34 && y < 58 && std::fabs(x - 40) <= (y - 34) * 26 / 24) c = {110, 40, 40};         // roof
  if (x >= 34 && x < 46 && y >= 76 && y < 100) c = {80, 50, 30};                               // door
  if (x >= 22 && x < 32 && y >= 64 && y < 74) c = {230, 240, 255};                             // window
  if (x >= 76 && x < 124 && y >= 92 && y < 124) {                                              // checkerboard
    const bool white = (static_cast<int>(x - 76) / 8 + static_cast<int>(y - 92) / 8) % 2 == 0;
    c = white ? Color{245, 245, 245} : Color{20, 20, 20};
  }
  return c;
}

}  // namespace

Tensor demo_scene() {
  constexpr int64_t kSide = 128;
  Tensor image({3, kSide, kSide});
  for (int64_t y = 0; y < kSide; ++y) {
    for (int64_t x = 0; x < kSide; ++x) {
      const Color c = scene_at(static_cast<float>(x), static_cast<float>(y));
      image.at({0, y, x}) = std::round(c.r);
      image.at({1, y, x}) = std::round(c.g);
      image.at({2, y, x}) = std::round(c.b);
    }
  }
  return image;
}

Tensor demo_accelerometer() {
  constexpr int64_t kSamples = 500;
  constexpr double kRate = 50.0, kStep = 1.8, kTwoPi = 2.0 * std::numbers::pi;
  Noise noise(20261121);
  Tensor signal({3, kSamples});
  for (int64_t i = 0; i < kSamples; ++i) {
    const double t = static_cast<double>(i) / kRate, phase = kTwoPi * kStep * t;
    const double x = 1.8 * std::sin(phase) + 0.5 * std::sin(2 * phase + 0.6);
    const double y = 0.9 * std::sin(phase + 1.3);
    const double z = 9.81 + 2.2 * std::pow(std::max(0.0, std::sin(2 * phase)), 4);  // heel strikes
    signal.at({0, i}) = static_cast<float>(x) + noise(0.6f);
    signal.at({1, i}) = static_cast<float>(y) + noise(0.6f);
    signal.at({2, i}) = static_cast<float>(z) + noise(0.6f);
  }
  return signal;
}

Tensor demo_volume() {
  constexpr int64_t kSide = 32;
  constexpr float kCentre = 15.5f, kRadius = 10.0f;
  Noise noise(7);
  Tensor volume({1, kSide, kSide, kSide});
  for (int64_t z = 0; z < kSide; ++z)
    for (int64_t y = 0; y < kSide; ++y)
      for (int64_t x = 0; x < kSide; ++x) {
        const float r = std::hypot(static_cast<float>(z) - kCentre, static_cast<float>(y) - kCentre,
                                   static_cast<float>(x) - kCentre);
        volume.at({0, z, y, x}) = (r < kRadius ? 200.0f : 20.0f) + noise(25.0f);
      }
  return volume;
}

}  // namespace convkit::cli
