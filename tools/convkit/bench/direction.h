// Which pass of a layer the benchmark times: the forward convolution, or one of the two gradients
// (dL/dx: backward_data; dL/dw and dL/db: backward_weights), as oneDNN's prop kinds name them.
#pragma once

#include <string_view>

#include "convkit/error.h"

namespace convkit::cli {

enum class Direction { forward, backward_data, backward_weights };

inline constexpr Direction kDirections[] = {Direction::forward, Direction::backward_data, Direction::backward_weights};

inline std::string_view to_string(Direction direction) {
  switch (direction) {
    case Direction::forward: return "forward";
    case Direction::backward_data: return "backward_data";
    case Direction::backward_weights: return "backward_weights";
  }
  return "?";
}

// Parses one of the names above; `argument` names the option in the error.
inline Direction parse_direction(std::string_view text, std::string_view argument) {
  for (Direction d : kDirections)
    if (to_string(d) == text) return d;
  fail(argument, ": '", text, "' is not a direction; expected forward, backward_data or backward_weights");
}

}  // namespace convkit::cli
