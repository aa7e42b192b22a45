#pragma once

#include <string>

namespace convkit::cli {

// The picture part of `convkit demo`: filters the embedded picture, accelerometer signal and volume
// (demo_data.h) with convkit::filters, prints the shapes, parameters and MACs of each filter, writes
// the inputs and results into `dir` (created if missing) as PNG, CSV and .npy files, and ends with a
// table of the files written and how long each took.
void write_demo_pictures(const std::string& dir);

}  // namespace convkit::cli
