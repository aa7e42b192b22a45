#include "weight_gradient.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {
namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

}  // namespace

WeightGradient::WeightGradient(const ConvSpec& spec, Isa isa) : spec_(spec), groups_(spec.groups) {
  const int64_t in_g = spec.in_channels / spec.groups, out_g = spec.out_channels / spec.groups;
  gathered_g_ = spec.transposed ? out_g : in_g;
  direct_g_ = spec.transposed ? in_g : out_g;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[at(axis)];
  taps_ = kernel_size_[0] * kernel_size_[1] * kernel_size_[2];
  // The kernel whose NR pads the D channels per group least: indirect (A through row pointers) for
  // channels_first, packed for channels_last.
  kernel_ = best_tile_kernel(isa_kernels(isa).tiles, spec.layout == Layout::channels_first, true, direct_g_);
}

std::string WeightGradient::name() const {
  return kernel_name("gemm", kernel_.isa, kernel_.tile());
}

// One run: the resolved geometry, the gather tables and the tensors as G and D.
struct WeightGradient::Call {
  const WeightGradient& wg;
  bool channels_last;
  const float *g_data, *d_data;                  // G and D
  int64_t batch = 1;
  int64_t gs[kMaxRank] = {1, 1, 1}, ds[kMaxRank] = {1, 1, 1};  // spatial sizes of G and D
  int64_t g_pixels = 1, d_pixels = 1, g_channels = 1, d_channels = 1;
  int64_t m = 1, k = 0, panels = 1;
  // gather[axis][tap * ds[axis] + t]: the G index D index t meets at that kernel tap, or -1 (none, a zero).
  std::array<std::vector<int64_t>, kMaxRank> gather;
  // channels_first: w_first[tap along W] = the first G column when the D row reads consecutive G columns.
  std::vector<int64_t> w_first;

  Call(const WeightGradient& w, ConstTensorView input, ConstTensorView grad_output)
      : wg(w), channels_last(w.spec_.layout == Layout::channels_last) {
    const ConvSpec& spec = wg.spec_;
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input.shape()));
    g_data = spec.transposed ? grad_output.data() : input.data();
    d_data = spec.transposed ? input.data() : grad_output.data();
    batch = input.dim(0);
    g_channels = wg.groups_ * wg.gathered_g_;
    d_channels = wg.groups_ * wg.direct_g_;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& a = geometry.axes[at(axis)];
      const size_t s = slot(spec.rank, axis);
      gs[s] = spec.transposed ? a.output : a.input;
      ds[s] = spec.transposed ? a.input : a.output;
      gather[s].resize(at(a.kernel * ds[s]));
      for (int64_t q = 0; q < a.kernel; ++q)
        for (int64_t t = 0; t < ds[s]; ++t) {
          const int64_t raw = t * a.stride + q * a.dilation - a.pad_begin;
          gather[s][at(q * ds[s] + t)] = spec.transposed ? (raw >= 0 && raw < a.output ? raw : -1)
                                                         : padded_source_index(raw, a.input, spec.padding_mode);
        }
    }
    for (size_t s = 0; s < kMaxRank; ++s) {
      if (gather[s].empty()) gather[s] = {0};
      g_pixels *= gs[s];
      d_pixels *= ds[s];
    }
    m = wg.taps_ * wg.gathered_g_;
    k = batch * d_pixels;
    panels = ceil_div(wg.direct_g_, wg.kernel_.nr);
    if (!channels_last) {
      w_first.assign(at(wg.kernel_size_[2]), -1);
      for (int64_t q = 0; q < wg.kernel_size_[2]; ++q) {
        const int64_t* row = &gather[2][at(q * ds[2])];
        bool consecutive = row[0] >= 0;
        for (int64_t t = 1; t < ds[2] && consecutive; ++t) consecutive = row[t] == row[0] + t;
        if (consecutive) w_first[at(q)] = row[0];
      }
    }
  }

  // Kernel tap `tap` as (D, H, W) indices.
  std::array<int64_t, kMaxRank> tap_index(int64_t tap) const {
    const int64_t* ks = wg.kernel_size_;
    return {tap / (ks[1] * ks[2]), tap / ks[2] % ks[1], tap % ks[2]};
  }

  // Whether D must be packed for this panel: always channels_first (its pixels are strided by channel),
  // and a channels_last partial panel (the kernel reads whole NR-wide rows).
  bool packed_b(int64_t panel) const {
    return !channels_last || (panel + 1) * wg.kernel_.nr > wg.direct_g_;
  }
  // The packed panels one group needs (channels_last: at most the last), and where panel `panel` goes.
  int64_t packed_panels() const { return channels_last ? (packed_b(panels - 1) ? 1 : 0) : panels; }
  int64_t packed_offset(int64_t panel) const { return channels_last ? 0 : panel * k * wg.kernel_.nr; }

  // B panel `panel` of group g: [k][NR], D's channels of the panel, zeros past the group's channels.
  void pack_b(int64_t g, int64_t panel, float* dst) const {
    const int64_t nr = wg.kernel_.nr, first = g * wg.direct_g_ + panel * nr;
    const int64_t cols = std::min(nr, wg.direct_g_ - panel * nr);
    for (int64_t n = 0; n < batch; ++n) {
      float* dst_n = dst + n * d_pixels * nr;
      if (channels_last) {
        const float* src = d_data + n * d_pixels * d_channels + first;
        for (int64_t t = 0; t < d_pixels; ++t) {
          std::copy_n(src + t * d_channels, cols, dst_n + t * nr);
          std::fill(dst_n + t * nr + cols, dst_n + (t + 1) * nr, 0.0f);
        }
      } else {
        for (int64_t j = 0; j < nr; ++j) {
          const float* src = d_data + (n * d_channels + first + j) * d_pixels;
          for (int64_t t = 0; t < d_pixels; ++t) dst_n[t * nr + j] = j < cols ? src[t] : 0.0f;
        }
      }
    }
  }

  // channels_last A tile: rows m0.. of group g, [k][MR]. Rows sharing a tap read consecutive channels of
  // one G pixel, copied as a run; rows past M are zeros.
  void pack_a_pixel_major(int64_t g, int64_t m0, float* dst) const {
    const int64_t mr = wg.kernel_.mr, gathered = wg.gathered_g_;
    struct Run {
      int64_t row, length, channel;
      std::array<int64_t, kMaxRank> q;
    };
    std::vector<Run> runs;
    for (int64_t i = 0; i < mr && m0 + i < m;) {
      const int64_t tap = (m0 + i) / gathered, channel = (m0 + i) % gathered;
      const int64_t length = std::min({mr - i, gathered - channel, m - m0 - i});
      runs.push_back({i, length, g * gathered + channel, tap_index(tap)});
      i += length;
    }
    const int64_t filled = std::min(mr, m - m0);
    for (int64_t n = 0, kk = 0; n < batch; ++n) {
      const float* g_n = g_data + n * g_pixels * g_channels;
      for (int64_t d = 0; d < ds[0]; ++d)
        for (int64_t h = 0; h < ds[1]; ++h)
          for (int64_t w = 0; w < ds[2]; ++w, ++kk) {
            float* row = dst + kk * mr;
            for (const Run& r : runs) {
              const int64_t sd = gather[0][at(r.q[0] * ds[0] + d)], sh = gather[1][at(r.q[1] * ds[1] + h)],
                            sw = gather[2][at(r.q[2] * ds[2] + w)];
              if (sd < 0 || sh < 0 || sw < 0) std::fill_n(row + r.row, r.length, 0.0f);
              else std::copy_n(g_n + ((sd * gs[1] + sh) * gs[2] + sw) * g_channels + r.channel, r.length, row + r.row);
            }
            std::fill(row + filled, row + mr, 0.0f);
          }
    }
  }

  // channels_first A tile: rows m0.. of group g, row-major [MR][K], one G channel at one tap per row.
  // Returns the rows filled; the kernel's other rows point at row 0 (their results are not stored).
  int64_t pack_a_row_major(int64_t g, int64_t m0, float* dst) const {
    const int64_t rows = std::min<int64_t>(wg.kernel_.mr, m - m0);
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t tap = (m0 + i) / wg.gathered_g_, channel = g * wg.gathered_g_ + (m0 + i) % wg.gathered_g_;
      const auto q = tap_index(tap);
      const int64_t* sw = &gather[2][at(q[2] * ds[2])];
      const int64_t first = w_first[at(q[2])];
      float* out = dst + i * k;
      for (int64_t n = 0; n < batch; ++n) {
        const float* plane = g_data + (n * g_channels + channel) * g_pixels;
        for (int64_t d = 0; d < ds[0]; ++d)
          for (int64_t h = 0; h < ds[1]; ++h, out += ds[2]) {
            const int64_t sd = gather[0][at(q[0] * ds[0] + d)], sh = gather[1][at(q[1] * ds[1] + h)];
            if (sd < 0 || sh < 0) {
              std::fill_n(out, ds[2], 0.0f);
              continue;
            }
            const float* line = plane + (sd * gs[1] + sh) * gs[2];
            if (first >= 0) std::copy_n(line + first, ds[2], out);
            else
              for (int64_t w = 0; w < ds[2]; ++w) out[w] = sw[w] < 0 ? 0.0f : line[sw[w]];
          }
      }
    }
    return rows;
  }

  // Every panel of one A tile into the GEMM result `c` ([group][M][D channels/group]).
  void tile(int64_t g, int64_t m0, const float* b_panels, float* c, std::vector<float>& a_buffer) const {
    const TileKernel& kernel = wg.kernel_;
    const int64_t mr = kernel.mr, nr = kernel.nr;
    float* a = scratch(a_buffer, mr * k);
    const float* rows[128];
    TileArgs args;
    args.rows = static_cast<int>(std::min(mr, m - m0));
    if (channels_last) {
      pack_a_pixel_major(g, m0, a);
      args.a_packed = a;
    } else {
      pack_a_row_major(g, m0, a);
      for (int64_t i = 0; i < mr; ++i) rows[i] = a + (i < args.rows ? i : 0) * k;
      args.a_rows = rows;
    }
    args.k_per_tap = k;
    args.c_row_stride = wg.direct_g_;
    for (int64_t panel = 0; panel < panels; ++panel) {
      if (packed_b(panel)) {
        args.b = b_panels + packed_offset(panel);
        args.b_stride = nr;
      } else {
        args.b = d_data + g * wg.direct_g_ + panel * nr;
        args.b_stride = d_channels;
      }
      args.c = c + (g * m + m0) * wg.direct_g_ + panel * nr;
      args.cols = static_cast<int>(std::min(nr, wg.direct_g_ - panel * nr));
      kernel.run(args);
    }
  }
};

std::string WeightGradient::details() const {
  return name() + ": a GEMM per group, (taps x " + std::to_string(gathered_g_) + " channels) x " + std::to_string(direct_g_) +
         " channels, the reduction over batch and pixels in one " + name() + " call per tile";
}

void WeightGradient::run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, int threads) const {
  const Call call(*this, input, grad_output);
  const int64_t nr = kernel_.nr, m_tiles = ceil_div(call.m, kernel_.mr);
  std::vector<float> result(at(groups_ * call.m * direct_g_));  // [group][(tap, gc)][dc]
  std::vector<float> b_panels(at(call.packed_panels() * call.k * nr));
  if (groups_ * call.m * direct_g_ * call.k < kSerialMacs) threads = 1;
  // Each tile of `result` is computed by one thread in one fixed order: any schedule gives the same bits.
  const auto no_state = [] { return 0; };
  for (int64_t g = 0; g < groups_; ++g) {
    parallel_for(threads, call.panels, [&](int64_t panel) {
      if (call.packed_b(panel)) call.pack_b(g, panel, b_panels.data() + call.packed_offset(panel));
    });
    parallel_for(threads, m_tiles, Schedule::dynamic, no_state, [&](int, int64_t tile) {
      thread_local std::vector<float> a_buffer;
      call.tile(g, tile * kernel_.mr, b_panels.data(), result.data(), a_buffer);
    });
  }

  // dW[outer = D channel][inner = G channel/group][tap] in the spec's layout (convkit/spec.h):
  // channels_first (outer, inner, k...), channels_last (k..., inner, outer); with flip tap q is stored
  // at k-1-q on every axis, i.e. at taps-1-q in row-major order.
  const bool channels_last = spec_.layout == Layout::channels_last;
  const int64_t d_channels = groups_ * direct_g_;
  const int64_t outer_stride = channels_last ? 1 : gathered_g_ * taps_;
  const int64_t inner_stride = channels_last ? d_channels : taps_;
  const int64_t tap_stride = channels_last ? gathered_g_ * d_channels : 1;
  for (int64_t g = 0; g < groups_; ++g)
    for (int64_t tap = 0; tap < taps_; ++tap)
      for (int64_t gc = 0; gc < gathered_g_; ++gc) {
        const float* row = &result[at((g * call.m + tap * gathered_g_ + gc) * direct_g_)];
        float* out = grad_weight + (spec_.flip ? taps_ - 1 - tap : tap) * tap_stride + gc * inner_stride;
        for (int64_t dc = 0; dc < direct_g_; ++dc) out[(g * direct_g_ + dc) * outer_stride] = row[dc];
      }
}

std::size_t WeightGradient::workspace_bytes(const Shape& input_shape, int threads) const {
  const ConvGeometry geometry = resolve_geometry(spec_, input_spatial_of(spec_, input_shape));
  const Shape d_spatial = spec_.transposed ? geometry.input_spatial() : geometry.output_spatial();
  const int64_t k = input_shape[0] * element_count(d_spatial);
  const int64_t panels = ceil_div(direct_g_, kernel_.nr);
  const bool partial = direct_g_ % kernel_.nr != 0;
  const int64_t packed = spec_.layout == Layout::channels_last ? (partial ? 1 : 0) : panels;
  const int64_t floats = threads * kernel_.mr * k + packed * kernel_.nr * k + groups_ * taps_ * gathered_g_ * direct_g_;
  return static_cast<std::size_t>(floats) * sizeof(float);
}

}  // namespace convkit::cpu
