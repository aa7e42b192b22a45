// The benchmark's results and how they are shown: a table on stdout, printed row by row as the
// layers finish, and the JSON file of `--json`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "convkit/spec.h"
#include "direction.h"
#include "machine.h"
#include "timing.h"

namespace convkit::cli {

// An output is wrong when it differs from the expected one by more than this fraction of the
// expected output's largest magnitude (fp32 rounding over thousands of products stays near 1e-6;
// a wrong tap or channel is of order 1).
inline constexpr double kMismatchTolerance = 1e-3;

enum class Status { ok, mismatch, unsupported, error };

// One implementation on one row.
struct ImplResult {
  std::string impl{};              // "convkit", "onednn", "xnnpack"
  Status status = Status::ok;
  std::string detail{};            // convkit: the plan's algorithm; a peer: the variant timed, or why none was
  std::optional<Timing> timing{};  // convkit always; a peer only when its output matched
  double error = 0;                // convkit: against the reference engine; a peer: against convkit
};

// One layer in one direction and layout at one thread count.
struct BenchRow {
  std::string layer{};
  Direction direction = Direction::forward;
  Layout layout = Layout::channels_first;
  int threads = 1;
  int64_t macs = 0;
  int64_t min_bytes = 0;           // input + output + weights + bias, each moved once
  std::size_t packed_bytes = 0;    // the plan's packed weights
  std::size_t workspace_bytes = 0; // the extra memory one run of the plan needs
  ImplResult convkit{};
  std::vector<ImplResult> peers{};  // in the order of make_peers()

  // 2 * MACs / time and bytes / time of an implementation's median.
  double gflops(const ImplResult& result) const;
  double bandwidth_gbs(const ImplResult& result) const;
  // convkit's speed over the faster correct peer's (x > 1: convkit faster); none when either is missing.
  std::optional<double> speedup() const;
};

class BenchTable {
 public:
  BenchTable(std::ostream& out, const Machine& machine, std::vector<std::string> peer_titles);
  void print_header(const std::string& timing_method) const;
  void print_row(const BenchRow& row);
  // The numbered notes the rows referred to (reasons a peer has no time).
  void print_notes() const;

 private:
  std::string note(const std::string& text);  // "[n]", one number per distinct text
  std::string peer_cell(const ImplResult& peer);

  std::ostream& out_;
  const Machine& machine_;
  std::vector<std::string> peer_titles_;
  std::map<std::string, int> note_numbers_;
  std::vector<std::string> notes_;
};

struct PeerInfo {
  std::string name, version;
};

// {"machine": {...}, "peers": [...], "results": [{"layer", "direction", "layout", "threads", "impl", "median_ms",
// "gflops", ...}]}; one result per implementation and row; median_ms and gflops are null when an
// implementation has no time (status "mismatch", "n/a" or "error", with the reason).
std::string results_json(const Machine& machine, const std::vector<PeerInfo>& peers, const std::string& suite,
                         double min_time, const std::vector<BenchRow>& rows);

// Writes `text` to `path` atomically (files::write_atomically), so a failed run never leaves a partial
// file.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace convkit::cli
