#pragma once

#include <span>
#include <string>

namespace convkit::cli {

// Writes `values` against their index (starting at `first_index`) as a PNG line plot (640x400, axes,
// title and range labels), on a log10 axis when every value is positive (loss curves span decades),
// linear otherwise. The file appears complete or not at all (a temporary file, then renamed).
void write_line_plot_png(const std::string& path, std::span<const double> values, const std::string& title,
                         const std::string& x_label, int first_index = 0);

}  // namespace convkit::cli
