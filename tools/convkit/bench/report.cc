#include "report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "convkit/error.h"
#include "convkit/files.h"

namespace convkit::cli {
namespace {

using nlohmann::json;

const char* status_name(Status status) {
  switch (status) {
    case Status::ok: return "ok";
    case Status::mismatch: return "mismatch";
    case Status::unsupported: return "n/a";
    case Status::error: return "error";
  }
  return "?";
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// 3 significant digits: "0.0123", "1.23", "123".
std::string milliseconds(double ms) { return format(ms < 1 ? "%.4f" : ms < 100 ? "%.3g" : "%.0f", ms); }

std::string bytes_text(std::size_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  if (bytes < (1u << 20)) return format("%.1f KiB", static_cast<double>(bytes) / 1024);
  return format("%.1f MiB", static_cast<double>(bytes) / (1u << 20));
}

std::string percent(double part, double whole) { return whole > 0 ? format("%.0f%%", 100 * part / whole) : "-"; }

// Fixed-width columns, left-aligned text first, numbers right-aligned.
struct Column {
  const char* title;
  int width;
  bool left = false;
};

constexpr Column kColumns[] = {{"layer", 24, true},  {"pass", 8, true},   {"layout", 6, true}, {"thr", 3},
                               {"convkit ms", 10},
                               {"GFLOP/s", 8},       {"%peak", 5},        {"%bw", 5},      {"algorithm", 20, true},
                               {"plan mem", 9},      {"err", 8}};
constexpr Column kPeerColumn{"", 12};
constexpr Column kSpeedupColumn{"vs best", 8};

void cell(std::ostream& out, const Column& column, const std::string& text) {
  const std::string padding(text.size() < static_cast<size_t>(column.width) ? column.width - text.size() : 0, ' ');
  out << (column.left ? text + padding : padding + text) << "  ";
}

json timing_json(const std::optional<Timing>& timing) {
  if (!timing) return {{"median_ms", nullptr}};
  return {{"median_ms", timing->median_ms},
          {"min_ms", timing->min_ms},
          {"max_ms", timing->max_ms},
          {"repetitions", timing->repetitions}};
}

}  // namespace

double BenchRow::gflops(const ImplResult& result) const {
  return result.timing ? 2.0 * static_cast<double>(macs) / (result.timing->median_ms * 1e6) : 0.0;
}

double BenchRow::bandwidth_gbs(const ImplResult& result) const {
  return result.timing ? static_cast<double>(min_bytes) / (result.timing->median_ms * 1e6) : 0.0;
}

std::optional<double> BenchRow::speedup() const {
  if (convkit.status != Status::ok || !convkit.timing) return std::nullopt;
  std::optional<double> best;
  for (const auto& peer : peers)
    if (peer.status == Status::ok && peer.timing) best = std::min(best.value_or(HUGE_VAL), peer.timing->median_ms);
  if (!best) return std::nullopt;
  return *best / convkit.timing->median_ms;
}

BenchTable::BenchTable(std::ostream& out, const Machine& machine, std::vector<std::string> peer_titles)
    : out_(out), machine_(machine), peer_titles_(std::move(peer_titles)) {}

void BenchTable::print_header(const std::string& timing_method) const {
  out_ << "machine: " << machine_.cpu << ", " << machine_.hardware_threads << " hardware threads\n";
  for (const auto& l : machine_.limits)
    out_ << "  " << l.threads << (l.threads == 1 ? " thread:  " : " threads: ") << "fp32 FMA peak ("
         << machine_.isa << ") " << format("%.1f", l.fma_gflops) << " GFLOP/s, stream triad "
         << format("%.1f", l.bandwidth_gbs) << " GB/s\n";
  out_ << "timing: " << timing_method << "\n\n";
  for (const auto& column : kColumns) cell(out_, column, column.title);
  for (const auto& title : peer_titles_) cell(out_, kPeerColumn, title + " ms");
  if (!peer_titles_.empty()) cell(out_, kSpeedupColumn, kSpeedupColumn.title);
  out_ << "\n";
}

std::string BenchTable::note(const std::string& text) {
  auto [it, inserted] = note_numbers_.try_emplace(text, static_cast<int>(notes_.size()) + 1);
  if (inserted) notes_.push_back(text);
  std::string marker = "[";
  return marker.append(std::to_string(it->second)).append("]");  // (not "[" + ...: a GCC 12 -Wrestrict false alarm)
}

std::string BenchTable::peer_cell(const ImplResult& peer) {
  switch (peer.status) {
    case Status::ok: return milliseconds(peer.timing->median_ms);
    case Status::unsupported: return "n/a" + note(peer.impl + ": " + peer.detail);
    case Status::error: return "error" + note(peer.impl + ": " + peer.detail);
    case Status::mismatch:
      return "WRONG" + note(peer.impl + " output differs from convkit's: " + peer.detail);
  }
  return "?";
}

void BenchTable::print_row(const BenchRow& row) {
  const ThreadLimits& limits = machine_.at(row.threads);
  const double gflops = row.gflops(row.convkit), gbs = row.bandwidth_gbs(row.convkit);
  std::string error = format("%.1e", row.convkit.error);
  if (row.convkit.status == Status::mismatch) error += note("err: convkit's output differs from the reference's");
  static constexpr const char* kPass[] = {"fwd", "bwd-data", "bwd-wts"};
  const std::string cells[] = {row.layer,
                               kPass[static_cast<int>(row.direction)],
                               row.layout == Layout::channels_first ? "first" : "last",
                               std::to_string(row.threads),
                               milliseconds(row.convkit.timing->median_ms),
                               format("%.1f", gflops),
                               percent(gflops, limits.fma_gflops),
                               percent(gbs, limits.bandwidth_gbs),
                               row.convkit.detail,
                               bytes_text(row.packed_bytes + row.workspace_bytes),
                               error};
  for (size_t c = 0; c < std::size(kColumns); ++c) cell(out_, kColumns[c], cells[c]);
  for (const auto& peer : row.peers) cell(out_, kPeerColumn, peer_cell(peer));
  if (!peer_titles_.empty()) {
    const auto speedup = row.speedup();
    cell(out_, kSpeedupColumn, speedup ? format("%.2fx", *speedup) : "-");
  }
  out_ << std::endl;  // rows appear as they finish
}

void BenchTable::print_notes() const {
  if (!notes_.empty()) out_ << "\n";
  for (size_t i = 0; i < notes_.size(); ++i) out_ << "[" << i + 1 << "] " << notes_[i] << "\n";
}

std::string results_json(const Machine& machine, const std::vector<PeerInfo>& peers, const std::string& suite,
                         double min_time, const std::vector<BenchRow>& rows) {
  json limits = json::array();
  for (const auto& l : machine.limits)
    limits.push_back({{"threads", l.threads}, {"fma_peak_gflops", l.fma_gflops}, {"bandwidth_gbs", l.bandwidth_gbs}});
  json document = {{"machine",
                    {{"cpu", machine.cpu},
                     {"isa", machine.isa},
                     {"threads", machine.hardware_threads},
                     {"fma_peak_gflops", machine.limits.empty() ? 0.0 : machine.limits.front().fma_gflops},
                     {"fma_peak_threads", machine.limits.empty() ? 0 : machine.limits.front().threads},
                     {"limits", limits}}},
                   {"suite", suite},
                   {"min_time_s", min_time},
                   {"peers", json::array()},
                   {"results", json::array()}};
  for (const auto& peer : peers) document["peers"].push_back({{"name", peer.name}, {"version", peer.version}});
  for (const auto& row : rows) {
    const ThreadLimits& l = machine.at(row.threads);
    const auto add = [&](const ImplResult& result, json extra) {
      json entry = {{"layer", row.layer},
                    {"direction", std::string(to_string(row.direction))},
                    {"layout", std::string(to_string(row.layout))},
                    {"threads", row.threads},
                    {"impl", result.impl},
                    {"status", status_name(result.status)},
                    {"detail", result.detail},
                    {"gflops", result.timing ? json(row.gflops(result)) : json(nullptr)},
                    {"max_rel_error", result.error}};
      entry.update(timing_json(result.timing));
      if (result.timing) {
        entry["peak_percent"] = 100 * row.gflops(result) / l.fma_gflops;
        entry["bandwidth_gbs"] = row.bandwidth_gbs(result);
        entry["bandwidth_percent"] = 100 * row.bandwidth_gbs(result) / l.bandwidth_gbs;
      }
      entry.update(extra);
      document["results"].push_back(entry);
    };
    const auto speedup = row.speedup();
    add(row.convkit, {{"macs", row.macs},
                      {"min_bytes", row.min_bytes},
                      {"packed_bytes", row.packed_bytes},
                      {"workspace_bytes", row.workspace_bytes},
                      {"speedup_vs_best_peer", speedup ? json(*speedup) : json(nullptr)}});
    for (const auto& peer : row.peers) add(peer, json::object());
  }
  return document.dump(1) + "\n";
}

void write_file_atomically(const std::string& path, const std::string& text) {
  files::write_atomically(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace convkit::cli
