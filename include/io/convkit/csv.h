// Signals as CSV text: one column per channel, one row per sample.
//
// Reading: lines end in "\n"; fields are separated by commas, with blanks (space, tab, \r, \v, \f) around
// a field ignored (so "\r\n" line ends work); blank lines and lines starting with '#' are skipped (as
// numpy.loadtxt does). The first remaining line is a header of column names when any of its fields is
// not a number. Every other line holds one number per column (decimal or exponent notation, an
// optional sign, "nan" and "inf" as C's strtod spells them), the same count on every line. Errors name
// the file, the line and the field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "convkit/tensor.h"

namespace convkit::csv {

struct Signals {
  std::vector<std::string> names{};  // the header's column names; empty when the file has no header
  Tensor values{};                   // (C, L): channel c is column c, L samples (channels_first)
};

// Parses CSV text. `name` prefixes every error message (a path, usually).
Signals parse(std::string_view text, std::string_view name = "<memory>");

// Reads the file at `path` and parses it; errors name the path.
Signals read(const std::string& path);

// The CSV text for `signals`: the header (when names are given, one per channel), then one line per
// sample with the shortest decimal form that reads back as the same float ("%.9g").
std::string serialize(const Signals& signals);

// Writes serialize(signals) to `path` atomically (files::write_atomically, convkit/files.h).
void write(const std::string& path, const Signals& signals);

}  // namespace convkit::csv
