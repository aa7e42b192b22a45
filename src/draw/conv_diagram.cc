#include "draw/conv_diagram.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "convkit/cost.h"
#include "convkit/error.h"
#include "convkit/shape.h"
#include "draw/chart.h"

namespace convkit::draw {
namespace {

constexpr int64_t kMaxCells = 48, kMaxSlices = 16, kMaxFrames = 1024, kMaxChannels = 64;
constexpr Color kInk{0.1, 0.1, 0.1}, kGreyInk{0.35, 0.35, 0.35};
constexpr Color kInputFill{0.80, 0.88, 0.97}, kPaddingFill{0.93, 0.93, 0.93}, kZeroFill{1, 1, 1};
constexpr Color kOutputFill{0.85, 0.94, 0.85}, kTap{0.12, 0.30, 0.75, 0.55}, kOutputHit{0.10, 0.55, 0.20, 0.75};

std::string times(std::span<const int64_t> sizes) {
  std::string text;
  for (size_t i = 0; i < sizes.size(); ++i) text += (i ? "×" : "") + std::to_string(sizes[i]);
  return text;
}

// One drawn grid (the input or the output): its depth slices side by side, each rows x columns cells.
struct Grid {
  double x = 0, y = 0, cell = 10, slice_gap = 12;
  int64_t depth = 1, rows = 1, columns = 1;
  double slice_width() const { return static_cast<double>(columns) * cell; }
  double width() const { return static_cast<double>(depth) * (slice_width() + slice_gap) - slice_gap; }
  double height() const { return static_cast<double>(rows) * cell; }
  Rect cell_rect(int64_t d, int64_t r, int64_t c) const {
    return {x + static_cast<double>(d) * (slice_width() + slice_gap) + static_cast<double>(c) * cell,
            y + static_cast<double>(r) * cell, cell, cell, std::nullopt, std::nullopt};
  }
};

Grid input_grid(const std::vector<DrawnAxis>& axes, double x, double y, double cell) {
  return {x, y, cell, std::max(8.0, cell), axes[0].cells, axes[1].cells, axes[2].cells};
}
Grid output_grid(const std::vector<DrawnAxis>& axes, double x, double y, double cell) {
  return {x, y, cell, std::max(8.0, cell), axes[0].output, axes[1].output, axes[2].output};
}

void draw_input_cells(Scene& scene, const std::vector<DrawnAxis>& axes, const Grid& grid) {
  const double stroke = std::max(0.5, grid.cell / 24);
  for (int64_t d = 0; d < grid.depth; ++d)
    for (int64_t r = 0; r < grid.rows; ++r)
      for (int64_t c = 0; c < grid.columns; ++c) {
        const Cell kinds[] = {axes[0].kind(d), axes[1].kind(r), axes[2].kind(c)};
        const bool padding = std::find(std::begin(kinds), std::end(kinds), Cell::padding) != std::end(kinds);
        const bool zero = !padding && std::find(std::begin(kinds), std::end(kinds), Cell::inserted_zero) != std::end(kinds);
        Rect rect = grid.cell_rect(d, r, c);
        rect.fill = padding ? kPaddingFill : zero ? kZeroFill : kInputFill;
        rect.stroke = Stroke{padding || zero ? Color{0.55, 0.55, 0.55} : Color{0.25, 0.35, 0.55}, stroke,
                             padding ? std::vector<double>{2, 2} : std::vector<double>{}};
        scene.add(rect, padding ? "cell padding" : zero ? "cell zero" : "cell input");
      }
}

void draw_output_cells(Scene& scene, const Grid& grid) {
  for (int64_t d = 0; d < grid.depth; ++d)
    for (int64_t r = 0; r < grid.rows; ++r)
      for (int64_t c = 0; c < grid.columns; ++c) {
        Rect rect = grid.cell_rect(d, r, c);
        rect.fill = kOutputFill;
        rect.stroke = Stroke{Color{0.2, 0.45, 0.25}, std::max(0.5, grid.cell / 24)};
        scene.add(rect, "cell output");
      }
}

// The output position of frame f, as (d, h, w).
std::array<int64_t, 3> position(const std::vector<DrawnAxis>& axes, int64_t f) {
  return {f / (axes[1].output * axes[2].output), f / axes[2].output % axes[1].output, f % axes[2].output};
}

// The kernel's taps for output position `o` on the input grid, the dilated kernel's extent when it has
// holes, and the output cell, all in frame `frame` (-1: always shown).
void draw_footprint(Scene& scene, const std::vector<DrawnAxis>& axes, const Grid& in, const Grid& out,
                    std::array<int64_t, 3> o, int frame) {
  std::array<int64_t, 3> first{};
  for (size_t a = 0; a < 3; ++a) first[a] = o[a] * axes[a].step;
  for (int64_t qd = 0; qd < axes[0].kernel; ++qd)
    for (int64_t qh = 0; qh < axes[1].kernel; ++qh)
      for (int64_t qw = 0; qw < axes[2].kernel; ++qw) {
        Rect tap = in.cell_rect(first[0] + qd * axes[0].dilation, first[1] + qh * axes[1].dilation,
                                first[2] + qw * axes[2].dilation);
        const double inset = in.cell * 0.12;
        tap.x += inset, tap.y += inset, tap.w -= 2 * inset, tap.h -= 2 * inset;
        tap.fill = kTap;
        tap.stroke = Stroke{Color{0.05, 0.15, 0.5}, std::max(1.0, in.cell / 12)};
        scene.add(tap, "footprint", frame);
      }
  const bool holes = std::any_of(axes.begin(), axes.end(), [](const DrawnAxis& a) { return a.dilation > 1 && a.kernel > 1; });
  if (holes)
    for (int64_t d = 0; d < axes[0].kernel; ++d) {  // the extent in each depth slice the kernel touches
      const Rect a = in.cell_rect(first[0] + d * axes[0].dilation, first[1], first[2]);
      const int64_t span_h = (axes[1].kernel - 1) * axes[1].dilation + 1, span_w = (axes[2].kernel - 1) * axes[2].dilation + 1;
      scene.add(Rect{a.x, a.y, static_cast<double>(span_w) * in.cell, static_cast<double>(span_h) * in.cell, std::nullopt,
                     Stroke{Color{0.05, 0.15, 0.5}, 1.5, {5, 3}}},
                "kernel-extent", frame);
    }
  Rect hit = out.cell_rect(o[0], o[1], o[2]);
  hit.fill = kOutputHit;
  hit.stroke = Stroke{Color{0.05, 0.3, 0.1}, std::max(1.0, out.cell / 12)};
  scene.add(hit, "footprint-output", frame);
}

std::string position_text(int rank, std::array<int64_t, 3> o) {
  std::string text = "(";
  for (int a = 3 - rank; a < 3; ++a) text += (a > 3 - rank ? ", " : "") + std::to_string(o[static_cast<size_t>(a)]);
  return text + ")";
}

// Cell size that keeps the picture within about `budget` pixels across.
double cell_size(const std::vector<DrawnAxis>& axes, double budget, double largest) {
  const double across = static_cast<double>(axes[0].cells * axes[2].cells + axes[0].output * axes[2].output) +
                        2.0 * static_cast<double>(axes[0].cells + axes[0].output);
  return std::clamp(std::floor(budget / across), 6.0, largest);
}

void add_lines(Scene& scene, const std::vector<std::string>& lines, double x, double y, double size, const std::string& role) {
  for (const std::string& line : lines) {
    scene.add(Text{{x, y}, line, size, false, kInk}, role);
    y += size + 5;
  }
}

struct Swatch {
  Color fill;
  const char* label;
  bool dashed;
};

void draw_legend(Scene& scene, const std::vector<Swatch>& swatches, double x, double y) {
  for (const Swatch& s : swatches) {
    scene.add(Rect{x, y - 11, 14, 14, s.fill, Stroke{kGreyInk, 1, s.dashed ? std::vector<double>{2, 2} : std::vector<double>{}}},
              "legend");
    scene.add(Text{{x + 20, y}, s.label, 12, false, kInk}, "legend");
    x += 34 + text_width(s.label, 12);
  }
}

std::vector<Swatch> swatches(const std::vector<DrawnAxis>& axes) {
  std::vector<Swatch> s = {{kInputFill, "input cell", false}, {kPaddingFill, "padding", true}};
  if (axes.back().transposed) s.push_back({kZeroFill, "inserted zero", false});
  s.push_back({kTap, "kernel tap", false});
  s.push_back({kOutputFill, "output cell", false});
  return s;
}

// The channels and their groups: input channels on the left, output channels on the right, each output
// channel joined to the input channels its filter sees, coloured by group. Returns the height used.
double draw_channels(Scene& scene, const ConvSpec& spec, double x, double y) {
  const int64_t cin = spec.in_channels, cout = spec.out_channels, g = spec.groups;
  if (cin == 1 && cout == 1) return 0;
  if (cin > kMaxChannels || cout > kMaxChannels)
    fail("draw: ", cin, " -> ", cout, " channels; the channel panel draws at most ", kMaxChannels, " a side");
  const double box = 14, pitch = 18, gap = 180;
  const double top = y + 22;
  std::string heading = "channels: " + std::to_string(cin) + " in -> " + std::to_string(cout) + " out, groups = " +
                        std::to_string(g);
  if (g > 1 && g == cin) heading += " (depthwise: one input channel per group, multiplier " + std::to_string(cout / cin) + ")";
  else if (g > 1) heading += " (each group's " + std::to_string(cout / g) + " filters see " + std::to_string(cin / g) + " channels)";
  scene.add(Text{{x, y + 12}, heading, 13, true, kInk}, "channels-heading");
  auto row_y = [&](int64_t i, int64_t n) {
    return top + (static_cast<double>(std::max(cin, cout) - n) * pitch) / 2 + static_cast<double>(i) * pitch;
  };
  for (int64_t o = 0; o < cout; ++o) {
    const int64_t group = o / (cout / g);
    for (int64_t c = group * (cin / g); c < (group + 1) * (cin / g); ++c)
      scene.add(Polyline{{{x + box, row_y(c, cin) + box / 2}, {x + gap, row_y(o, cout) + box / 2}},
                         {palette(static_cast<size_t>(group)), 1.2}},
                "connection");
  }
  for (int64_t c = 0; c < cin; ++c)
    scene.add(Rect{x, row_y(c, cin), box, box, palette(static_cast<size_t>(c / (cin / g))), Stroke{kInk, 0.8}}, "channel-in");
  for (int64_t o = 0; o < cout; ++o)
    scene.add(Rect{x + gap, row_y(o, cout), box, box, palette(static_cast<size_t>(o / (cout / g))), Stroke{kInk, 0.8}},
              "channel-out");
  scene.add(Text{{x, top - 4 + static_cast<double>(std::max(cin, cout)) * pitch + 16}, "input channels", 11, false, kGreyInk}, "channels-label");
  scene.add(Text{{x + gap + box / 2, top - 4 + static_cast<double>(std::max(cin, cout)) * pitch + 16}, "output channels", 11, false, kGreyInk, Anchor::middle}, "channels-label");
  return 22 + static_cast<double>(std::max(cin, cout)) * pitch + 24;
}

std::string title_of(const ConvSpec& spec, std::span<const int64_t> input_spatial) {
  return describe(spec) + " on " + times(input_spatial);
}

}  // namespace

Cell DrawnAxis::kind(int64_t i) const {
  const int64_t span = transposed ? (input - 1) * stride + 1 : input;
  if (i < pad_begin || i >= pad_begin + span) return Cell::padding;
  return transposed && (i - pad_begin) % stride != 0 ? Cell::inserted_zero : Cell::input;
}

std::vector<DrawnAxis> drawn_axes(const ConvSpec& spec, std::span<const int64_t> input_spatial) {
  const ConvGeometry geometry = resolve_geometry(spec, input_spatial);
  std::vector<DrawnAxis> axes(static_cast<size_t>(3 - spec.rank));
  int64_t frames = 1;
  for (size_t a = 0; a < geometry.axes.size(); ++a) {
    const AxisGeometry& g = geometry.axes[a];
    DrawnAxis d{.output = g.output, .kernel = g.kernel, .dilation = g.dilation, .input = g.input, .stride = g.stride,
                .transposed = spec.transposed};
    if (spec.transposed) {
      // The direct equivalent of a transposed convolution (Dumoulin & Visin, section 4): the input with
      // stride - 1 zeros between cells, padded by dilation*(k-1) - pad on each side (plus
      // output_padding at the end), convolved with stride 1 and the kernel flipped.
      const int64_t reach = (g.kernel - 1) * g.dilation;
      const int64_t begin = reach - g.pad_begin, end = reach - g.pad_end + g.output_padding;
      if (begin < 0 || end < 0)
        fail("draw: ", axis_name(spec.rank, static_cast<int>(a)), " pads (", g.pad_begin, ", ", g.pad_end,
             ") exceed dilation*(kernel-1) = ", reach, "; the direct equivalent of this transposed convolution crops its "
             "input, which the diagram does not show");
      d.pad_begin = begin;
      d.cells = begin + (g.input - 1) * g.stride + 1 + end;
      d.step = 1;
    } else {
      d.pad_begin = g.pad_begin;
      d.cells = g.pad_begin + g.input + g.pad_end;
      d.step = g.stride;
    }
    const int64_t limit = spec.rank == 3 && a == 0 ? kMaxSlices : kMaxCells;
    if (d.cells > limit || d.output > limit)
      fail("draw: the ", axis_name(spec.rank, static_cast<int>(a)), " axis has ", d.cells, " input and ", d.output,
           " output cells as drawn; a diagram shows at most ", limit, " (use a smaller --input-shape)");
    frames *= d.output;
    axes.push_back(d);
  }
  if (frames > kMaxFrames)
    fail("draw: ", frames, " output positions; a diagram animates at most ", kMaxFrames, " (use a smaller --input-shape)");
  return axes;
}

std::vector<std::string> formula_lines(const ConvSpec& spec, std::span<const int64_t> input_spatial) {
  const ConvGeometry geometry = resolve_geometry(spec, input_spatial);
  const std::vector<DrawnAxis> axes = drawn_axes(spec, input_spatial);
  Shape drawn, out;
  for (size_t a = 3 - static_cast<size_t>(spec.rank); a < 3; ++a) drawn.push_back(axes[a].cells), out.push_back(axes[a].output);
  std::vector<std::string> lines;
  lines.push_back("input " + times(input_spatial) + " (" + (spec.transposed ? "zeros inserted and padded: " : "padded: ") +
                  times(drawn) + ")  ->  output " + times(out) + ";  kernel " + times(spec.kernel.size() == 1 ? Shape(static_cast<size_t>(spec.rank), spec.kernel[0]) : spec.kernel) +
                  ", in/out channels " + std::to_string(spec.in_channels) + "/" + std::to_string(spec.out_channels) +
                  ", groups " + std::to_string(spec.groups));
  char line[512];
  for (size_t a = 0; a < geometry.axes.size(); ++a) {
    const AxisGeometry& g = geometry.axes[a];
    const char* name = axis_name(spec.rank, static_cast<int>(a));
    if (spec.transposed) {
      const int64_t n = transposed_output_size(g.input, g.kernel, g.stride, g.dilation, g.pad_begin, g.pad_end, g.output_padding);
      std::snprintf(line, sizeof line,
                    "%s: out = (in - 1)*stride - pad_begin - pad_end + dilation*(k - 1) + output_padding + 1"
                    " = (%lld - 1)*%lld - %lld - %lld + %lld*(%lld - 1) + %lld + 1 = %lld",
                    name, static_cast<long long>(g.input), static_cast<long long>(g.stride),
                    static_cast<long long>(g.pad_begin), static_cast<long long>(g.pad_end),
                    static_cast<long long>(g.dilation), static_cast<long long>(g.kernel),
                    static_cast<long long>(g.output_padding), static_cast<long long>(n));
    } else {
      const int64_t n = conv_output_size(g.input, g.kernel, g.stride, g.dilation, g.pad_begin, g.pad_end);
      std::snprintf(line, sizeof line,
                    "%s: out = floor((in + pad_begin + pad_end - dilation*(k - 1) - 1) / stride) + 1"
                    " = floor((%lld + %lld + %lld - %lld*(%lld - 1) - 1) / %lld) + 1 = %lld",
                    name, static_cast<long long>(g.input), static_cast<long long>(g.pad_begin),
                    static_cast<long long>(g.pad_end), static_cast<long long>(g.dilation),
                    static_cast<long long>(g.kernel), static_cast<long long>(g.stride), static_cast<long long>(n));
    }
    lines.push_back(line);
  }
  const bool same = spec.padding.kind == PaddingKind::same || spec.padding.kind == PaddingKind::same_lower;
  if (same)
    lines.push_back(std::string("pads from '") + (spec.padding.kind == PaddingKind::same ? "same" : "same_lower") +
                    "': total = max((ceil(in/stride) - 1)*stride + dilation*(k - 1) + 1 - in, 0), " +
                    (spec.padding.kind == PaddingKind::same ? "begin = total/2 (TF 'SAME', ONNX SAME_UPPER)"
                                                             : "end = total/2 (ONNX SAME_LOWER)"));
  if (spec.transposed) {
    lines.push_back("drawn as its direct equivalent: stride - 1 zeros between input cells, pads dilation*(k-1) - pad "
                    "(+ output_padding at the end), stride 1, kernel flipped");
    lines.push_back("rule: PyTorch torch.nn.ConvTranspose" + std::to_string(spec.rank) +
                    "d, ONNX ConvTranspose (output_shape: ONNX's total-padding rule), TF conv" +
                    std::to_string(spec.rank) + "d_transpose");
  } else {
    lines.push_back("rule: PyTorch torch.nn.Conv" + std::to_string(spec.rank) +
                    "d (conv_output_size), ONNX Conv; TensorFlow's 'VALID'/'SAME' resolve to pads first, then the same formula");
  }
  if (spec.padding_mode != PaddingMode::zeros)
    lines.push_back("padding cells hold " + std::string(to_string(spec.padding_mode)) + " copies of the border (PyTorch padding_mode)");
  return lines;
}

Scene conv_animation(const ConvSpec& spec, std::span<const int64_t> input_spatial) {
  const std::vector<DrawnAxis> axes = drawn_axes(spec, input_spatial);
  const std::vector<std::string> lines = formula_lines(spec, input_spatial);
  const double cell = cell_size(axes, 900, 36);
  const double top = 70, left = 30, arrow = 70;
  Grid in = input_grid(axes, left, top, cell);
  Grid out = output_grid(axes, left + in.width() + arrow, top + (in.height() - static_cast<double>(axes[1].output) * cell) / 2, cell);
  double text_w = 0;
  for (const std::string& l : lines) text_w = std::max(text_w, text_width(l, 12));
  const double width = std::max({out.x + out.width() + 30, text_w + 2 * left, text_width(title_of(spec, input_spatial), 16, true) + 2 * left, 620.0});
  const double grids_bottom = top + in.height() + (spec.rank == 3 ? 22 : 0);
  const double channels_h = spec.in_channels == 1 && spec.out_channels == 1 ? 0 : 22 + static_cast<double>(std::max(spec.in_channels, spec.out_channels)) * 18 + 40;
  const double height = grids_bottom + 50 + 28 + static_cast<double>(lines.size()) * 17 + channels_h + 20;
  Scene scene(width, height, title_of(spec, input_spatial));
  scene.add(Text{{width / 2, 26}, scene.title(), 16, true, kInk, Anchor::middle}, "title");
  scene.add(Text{{in.x, top - 10}, spec.transposed ? "input, zero-inserted and padded" : "input (padded)", 12, false, kGreyInk}, "grid-label");
  scene.add(Text{{out.x, out.y - 10}, "output", 12, false, kGreyInk}, "grid-label");
  if (spec.rank == 3) {
    for (int64_t d = 0; d < in.depth; ++d)
      scene.add(Text{{in.cell_rect(d, 0, 0).x + in.slice_width() / 2, in.y + in.height() + 16}, "d=" + std::to_string(d), 10, false, kGreyInk, Anchor::middle}, "slice-label");
    for (int64_t d = 0; d < out.depth; ++d)
      scene.add(Text{{out.cell_rect(d, 0, 0).x + out.slice_width() / 2, out.y + out.height() + 16}, "d=" + std::to_string(d), 10, false, kGreyInk, Anchor::middle}, "slice-label");
  }
  const double mid = top + in.height() / 2;
  scene.add(Polyline{{{in.x + in.width() + 12, mid}, {out.x - 14, mid}}, {kGreyInk, 2}}, "arrow");
  scene.add(Polyline{{{out.x - 22, mid - 6}, {out.x - 14, mid}, {out.x - 22, mid + 6}}, {kGreyInk, 2}}, "arrow");
  draw_input_cells(scene, axes, in);
  draw_output_cells(scene, out);
  const int64_t frames = axes[0].output * axes[1].output * axes[2].output;
  scene.set_animation(static_cast<int>(frames), 0.8);
  for (int64_t f = 0; f < frames; ++f) {
    const auto o = position(axes, f);
    draw_footprint(scene, axes, in, out, o, static_cast<int>(f));
    scene.add(Text{{left, grids_bottom + 26}, "output " + position_text(spec.rank, o) + ": frame " + std::to_string(f + 1) +
                                                 " of " + std::to_string(frames),
                   13, true, kInk},
              "frame-caption", static_cast<int>(f));
  }
  draw_legend(scene, swatches(axes), left, grids_bottom + 52);
  add_lines(scene, lines, left, grids_bottom + 80, 12, "formula");
  draw_channels(scene, spec, left, grids_bottom + 80 + static_cast<double>(lines.size()) * 17 + 6);
  return scene;
}

Scene conv_small_multiples(const ConvSpec& spec, std::span<const int64_t> input_spatial) {
  const std::vector<DrawnAxis> axes = drawn_axes(spec, input_spatial);
  const std::vector<std::string> lines = formula_lines(spec, input_spatial);
  const int64_t frames = axes[0].output * axes[1].output * axes[2].output;
  const double cell = cell_size(axes, 300, 14);
  const Grid probe_in = input_grid(axes, 0, 0, cell), probe_out = output_grid(axes, 0, 0, cell);
  const double panel_w = probe_in.width() + 24 + probe_out.width() + 16;
  const double panel_h = std::max(probe_in.height(), probe_out.height()) + 30;
  double text_w = 0;
  for (const std::string& l : lines) text_w = std::max(text_w, text_width(l, 12));
  const auto columns = static_cast<int64_t>(std::clamp(std::floor(std::max(1200.0, text_w) / panel_w), 1.0, static_cast<double>(frames)));
  const int64_t rows = (frames + columns - 1) / columns;
  const double top = 64, left = 24;
  const double width = std::max({left * 2 + static_cast<double>(columns) * panel_w, text_w + 2 * left,
                                 text_width(title_of(spec, input_spatial), 16, true) + 2 * left, 620.0});
  const double grid_bottom = top + static_cast<double>(rows) * panel_h;
  const double channels_h = spec.in_channels == 1 && spec.out_channels == 1 ? 0 : 22 + static_cast<double>(std::max(spec.in_channels, spec.out_channels)) * 18 + 40;
  Scene scene(width, grid_bottom + 40 + static_cast<double>(lines.size()) * 17 + channels_h + 20, title_of(spec, input_spatial));
  scene.add(Text{{width / 2, 26}, scene.title(), 16, true, kInk, Anchor::middle}, "title");
  scene.add(Text{{width / 2, 46}, "the kernel's footprint at each of the " + std::to_string(frames) + " output positions", 12, false, kGreyInk, Anchor::middle}, "subtitle");
  for (int64_t f = 0; f < frames; ++f) {
    const double x = left + static_cast<double>(f % columns) * panel_w, y = top + static_cast<double>(f / columns) * panel_h;
    const Grid in = input_grid(axes, x, y, cell);
    const Grid out = output_grid(axes, x + in.width() + 24, y + (in.height() - static_cast<double>(axes[1].output) * cell) / 2, cell);
    draw_input_cells(scene, axes, in);
    draw_output_cells(scene, out);
    const auto o = position(axes, f);
    draw_footprint(scene, axes, in, out, o, -1);
    scene.add(Text{{x, y + in.height() + 14}, "output " + position_text(spec.rank, o), 11, false, kGreyInk}, "panel-caption");
  }
  draw_legend(scene, swatches(axes), left, grid_bottom + 14);
  add_lines(scene, lines, left, grid_bottom + 40, 12, "formula");
  draw_channels(scene, spec, left, grid_bottom + 40 + static_cast<double>(lines.size()) * 17);
  return scene;
}

Scene composite_figure(const std::string& title, const ConvSpec& layer, const Composite& composite,
                       std::span<const int64_t> input_shape) {
  const LayerCost standard = conv_cost(layer, input_shape);
  const CompositeCost cost = composite_cost(composite, input_shape);
  // Shapes as the seeds write them: spatial sizes then channels, "7×7×3".
  auto tensor_text = [&](const Shape& s) {
    const bool first = layer.layout == Layout::channels_first;
    Shape spatial(s.begin() + (first ? 2 : 1), s.end() - (first ? 0 : 1));
    spatial.push_back(first ? s[1] : s.back());
    return times(spatial);
  };
  const Shape layer_kernel = layer.kernel.size() == 1 ? Shape(static_cast<size_t>(layer.rank), layer.kernel[0]) : layer.kernel;
  const double box_w = 120, box_h = 46, arrow_w = 200, left = 30;
  const size_t longest = composite.stages.size() + 1;
  const double width = std::max(left * 2 + static_cast<double>(longest) * box_w + static_cast<double>(longest - 1) * arrow_w, 760.0);
  Scene scene(width, 330, title);
  scene.add(Text{{width / 2, 28}, title, 16, true, kInk, Anchor::middle}, "title");
  auto tensor_box = [&](double x, double y, const std::string& text, size_t colour) {
    Color fill = palette(colour);
    fill.a = 0.25;
    scene.add(Rect{x, y, box_w, box_h, fill, Stroke{kInk, 1.2}}, "tensor");
    scene.add(Text{{x + box_w / 2, y + box_h / 2 + 5}, text, 14, true, kInk, Anchor::middle}, "tensor-shape");
  };
  auto stage_arrow = [&](double x, double y, const std::string& op, int64_t macs) {
    const double mid = y + box_h / 2;
    scene.add(Polyline{{{x + 6, mid}, {x + arrow_w - 8, mid}}, {kGreyInk, 2}}, "arrow");
    scene.add(Polyline{{{x + arrow_w - 16, mid - 6}, {x + arrow_w - 8, mid}, {x + arrow_w - 16, mid + 6}}, {kGreyInk, 2}}, "arrow");
    scene.add(Text{{x + arrow_w / 2, mid - 10}, op, 12, false, kInk, Anchor::middle}, "stage");
    scene.add(Text{{x + arrow_w / 2, mid + 22}, with_commas(macs) + " mults", 12, true, Color{0.7, 0.15, 0.1}, Anchor::middle}, "mults");
  };
  double y = 60;
  scene.add(Text{{left, y}, "standard convolution", 13, true, kInk}, "row-label");
  tensor_box(left, y + 12, tensor_text(standard.input_shape), 0);
  stage_arrow(left + box_w, y + 12, times(layer_kernel) + " conv, " + std::to_string(layer.out_channels) + " filters",
              standard.macs);
  tensor_box(left + box_w + arrow_w, y + 12, tensor_text(standard.output_shape), 2);
  y += 110;
  scene.add(Text{{left, y}, composite.kind + " (" + std::to_string(composite.stages.size()) + " stages)", 13, true, kInk}, "row-label");
  double x = left;
  tensor_box(x, y + 12, tensor_text(cost.stages[0].input_shape), 0);
  for (size_t i = 0; i < composite.stages.size(); ++i) {
    const Stage& stage = composite.stages[i];
    const Shape k = stage.conv.kernel.size() == 1 ? Shape(static_cast<size_t>(stage.conv.rank), stage.conv.kernel[0])
                                                  : stage.conv.kernel;
    std::string op = stage.is_shuffle() ? "channel shuffle, " + std::to_string(stage.shuffle_groups) + " groups"
                                        : stage.name + " " + times(k) + ", " + std::to_string(stage.conv.out_channels) + " out";
    if (!stage.is_shuffle() && stage.conv.groups > 1 && stage.conv.groups != stage.conv.in_channels)
      op += ", " + std::to_string(stage.conv.groups) + " groups";
    stage_arrow(x + box_w, y + 12, op, cost.stages[i].macs);
    x += box_w + arrow_w;
    tensor_box(x, y + 12, tensor_text(cost.stages[i].output_shape), i + 1 == composite.stages.size() ? 2 : 1);
  }
  std::string sum;
  for (size_t i = 0; i < cost.stages.size(); ++i) sum += (i ? " + " : "") + with_commas(cost.stages[i].macs);
  char ratio[64];
  std::snprintf(ratio, sizeof ratio, "%.1f", static_cast<double>(standard.macs) / static_cast<double>(std::max<int64_t>(1, cost.total.macs)));
  add_lines(scene,
            {"multiplications: standard " + with_commas(standard.macs) + "  vs  " + sum + " = " + with_commas(cost.total.macs) +
                 "  (" + ratio + "x fewer)",
             "parameters: standard " + with_commas(standard.params()) + "  vs  " + with_commas(cost.total.params()),
             "MACs = output cells x filters x taps per filter (convkit conv_cost, src/core/cost.cc)"},
            left, y + 100, 13, "totals");
  return scene;
}

}  // namespace convkit::draw
