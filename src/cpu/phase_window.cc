#include "phase_window.h"

#include <algorithm>

#include "driver_util.h"

namespace convkit::cpu {

std::vector<PixelSegment> column_runs(const AxisGeometry& g, int64_t offset, int64_t count, PaddingMode mode) {
  const int64_t s = g.stride;
  const int64_t inside_begin = std::clamp<int64_t>(ceil_div(-offset, s), 0, count);
  const int64_t inside_end =
      std::clamp<int64_t>(offset >= g.input ? 0 : (g.input - 1 - offset) / s + 1, inside_begin, count);
  // Cells from `padded_end` on lie past the padded axis (only phase windows reach them): zeros.
  const int64_t padded_end = ceil_div(g.input + g.pad_end - offset, s);
  std::vector<PixelSegment> runs;
  const auto padding = [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c)
      append_segment(runs, {c, 1, c < padded_end ? padded_source_index(c * s + offset, g.input, mode) : -1}, s);
  };
  padding(0, inside_begin);
  if (inside_end > inside_begin) append_segment(runs, {inside_begin, inside_end - inside_begin, inside_begin * s + offset}, s);
  padding(inside_end, count);
  return runs;
}

int64_t PhaseWindow::cells(const AxisGeometry& g, int64_t phase) {
  return ceil_div(g.input + g.pad_begin + g.pad_end - phase, g.stride);
}

int64_t PhaseWindow::source(const AxisGeometry& g, int64_t phase, int64_t i) const {
  return i < cells(g, phase) ? padded_source_index(i * g.stride + phase - g.pad_begin, g.input, mode_) : -1;
}

PhaseWindow::PhaseWindow(const ConvGeometry& geometry, PaddingMode mode, Channels channels, int64_t block_pixels)
    : mode_(mode), channels_(channels), channel_count_(channels.runs * channels.run_length), block_pixels_(block_pixels) {
  const int rank = static_cast<int>(geometry.axes.size());
  for (int axis = 0; axis < rank; ++axis) axes_[slot(rank, axis)] = geometry.axes[static_cast<size_t>(axis)];
  for (size_t s = 0; s < kMaxRank; ++s) {
    if (static_cast<int>(s) < kMaxRank - rank) axes_[s] = {.input = 1, .output = 1};
    in_pixels_ *= axes_[s].input;
  }
  const auto reach = [](const AxisGeometry& g) { return (g.kernel - 1) * g.dilation / g.stride; };
  const AxisGeometry &d = axes_[0], &h = axes_[1], &w = axes_[2];
  // Dropped columns at most 1/8 of a row (none with a single output row).
  if (h.output > 1 && reach(w) > w.output / 8) return;
  pitch_ = w.output + reach(w);
  plane_pixels_ = (h.output - 1) * pitch_ + w.output;
  depth_span_ = reach(d) + 1;
  for (size_t s = 0; s < kMaxRank; ++s) {
    const AxisGeometry& g = axes_[s];
    for (int64_t q = 0; q < g.kernel; ++q) phases_[s].push_back(q * g.dilation % g.stride);
    std::ranges::sort(phases_[s]);
    phases_[s].erase(std::unique(phases_[s].begin(), phases_[s].end()), phases_[s].end());
    combos_ *= static_cast<int64_t>(phases_[s].size());
  }
  // The window's size, in double first: the reach of a large dilation may be far beyond any window.
  const double rows = static_cast<double>(reach(h)) * static_cast<double>(pitch_);
  const double length = static_cast<double>(block_pixels) + rows + static_cast<double>(reach(w));
  if (static_cast<double>(channel_count_ * combos_) * static_cast<double>(depth_span_) * length >
      static_cast<double>(kMaxFloats))
    return;
  length_ = block_pixels + reach(h) * pitch_ + reach(w);
  floats_ = channel_count_ * combos_ * depth_span_ * length_;
  for (int64_t pw : phases_[2]) columns_.push_back(column_runs(w, pw - w.pad_begin, pitch_, mode));

  const auto index = [&](size_t s, int64_t q) {
    const AxisGeometry& g = axes_[s];
    return static_cast<int64_t>(std::ranges::lower_bound(phases_[s], q * g.dilation % g.stride) - phases_[s].begin());
  };
  const int64_t taps = d.kernel * h.kernel * w.kernel;
  offsets_.resize(static_cast<size_t>(taps * channel_count_));
  for (int64_t tap = 0; tap < taps; ++tap) {
    const int64_t qd = tap / (h.kernel * w.kernel), qh = tap / w.kernel % h.kernel, qw = tap % w.kernel;
    const int64_t combo =
        (index(0, qd) * static_cast<int64_t>(phases_[1].size()) + index(1, qh)) * static_cast<int64_t>(phases_[2].size()) +
        index(2, qw);
    const int64_t a = qd * d.dilation / d.stride;
    const int64_t shift = qh * h.dilation / h.stride * pitch_ + qw * w.dilation / w.stride;
    for (int64_t c = 0; c < channel_count_; ++c)
      offsets_[static_cast<size_t>(tap * channel_count_ + c)] = ((c * combos_ + combo) * depth_span_ + a) * length_ + shift;
  }
}

void PhaseWindow::fill(const float* x_g, PackFunction pack, int64_t od, int64_t v0, float* window) const {
  thread_local std::vector<PixelSegment> segments;
  const AxisGeometry &d = axes_[0], &h = axes_[1], &w = axes_[2];
  const int64_t channel_step = combos_ * depth_span_ * length_;  // between a run's consecutive channels
  int64_t combo = 0;
  for (int64_t pd : phases_[0])
    for (int64_t ph : phases_[1])
      for (size_t iw = 0; iw < phases_[2].size(); ++iw, ++combo) {
        const std::vector<PixelSegment>& columns = columns_[iw];
        for (int64_t a = 0; a < depth_span_; ++a) {
          segments.clear();
          const int64_t id = source(d, pd, od + a);
          // Row by row of the phase plane: window float u is virtual pixel v0 + u.
          for (int64_t u = 0, n; u < length_; u += n) {
            const int64_t r = (v0 + u) / pitch_, c = (v0 + u) % pitch_;
            n = std::min(pitch_ - c, length_ - u);
            const int64_t ih = id < 0 ? -1 : source(h, ph, r);
            if (ih < 0) {
              append_segment(segments, {u, n, -1}, w.stride);
              continue;
            }
            const int64_t row = (id * h.input + ih) * w.input;
            for (const PixelSegment& run : columns) {
              const int64_t lo = std::max(run.begin, c), hi = std::min(run.begin + run.length, c + n);
              if (lo >= hi) continue;
              const int64_t from = run.source < 0 ? -1 : row + run.source + (lo - run.begin) * w.stride;
              append_segment(segments, {u + lo - c, hi - lo, from}, w.stride);
            }
          }
          for (int64_t j = 0; j < channels_.runs; ++j)
            pack(segments.data(), static_cast<int64_t>(segments.size()), w.stride,
                 x_g + j * channels_.run_stride * in_pixels_, in_pixels_, channels_.run_length,
                 window + ((j * channels_.run_length * combos_ + combo) * depth_span_ + a) * length_, channel_step);
        }
      }
}

void PhaseWindow::write_out(const float* c, int64_t c_stride, int64_t channels, int64_t v, int64_t count, int64_t od,
                            float* y_g, int64_t y_stride) const {
  const int64_t out_h = axes_[1].output, out_w = axes_[2].output;
  for (int64_t i = 0, n; i < count; i += n) {
    const int64_t r = (v + i) / pitch_, col = (v + i) % pitch_;
    n = std::min(pitch_ - col, count - i);
    const int64_t real = std::clamp<int64_t>(out_w - col, 0, n);
    if (real == 0) continue;  // dropped columns only (whose address may lie past y)
    float* to = y_g + (od * out_h + r) * out_w + col;
    for (int64_t ch = 0; ch < channels; ++ch) std::copy_n(c + ch * c_stride + i, real, to + ch * y_stride);
  }
}

}  // namespace convkit::cpu
