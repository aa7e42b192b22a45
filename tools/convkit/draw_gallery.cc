#include "draw_gallery.h"

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "convkit/composite.h"
#include "convkit/files.h"
#include "draw/conv_diagram.h"
#include "draw/scene.h"

namespace convkit::cli {
namespace {

ConvSpec conv2d(int64_t k, int64_t pad, int64_t stride = 1, int64_t dilation = 1, bool transposed = false) {
  return {.rank = 2, .kernel = {k}, .stride = {stride}, .dilation = {dilation}, .padding = Padding::symmetric({pad}),
          .transposed = transposed};
}

struct CompositeCase {
  std::string name, title, explanation;
  ConvSpec layer;
  Composite composite;
  Shape input_shape;
};

// The seeds' composites with their own numbers: 7x7x3 -> 5x5x128 with 3x3 filters (86,400 vs
// 675 + 9,600 = 10,275 multiplications) and the 3x3 Sobel on 5x5 (81 vs 45 + 27 = 72).
std::vector<CompositeCase> composite_cases() {
  const ConvSpec layer{.rank = 2, .in_channels = 3, .out_channels = 128, .kernel = {3, 3}, .layout = Layout::channels_last};
  const ConvSpec sobel{.rank = 2, .kernel = {3, 3}, .padding = Padding::valid()};
  const ConvSpec pointwise{.rank = 2, .in_channels = 6, .out_channels = 6, .kernel = {1}};
  const ConvSpec grouped = pointwise_grouped(2, 6, 6, 3);
  return {
      {"depthwise_separable", "Depthwise separable: 7×7×3 -> 5×5×128",
       "depthwise 3x3 per channel, then pointwise 1x1 to 128: 675 + 9,600 = 10,275 multiplications instead of 86,400",
       layer, depthwise_separable(layer), {1, 7, 7, 3}},
      {"spatially_separable", "Spatially separable: 3×3 as 3×1 then 1×3 on 5×5",
       "a rank-1 kernel (Sobel = [1,2,1]^T [-1,0,1]) as two 1D passes: 45 + 27 = 72 multiplications instead of 81",
       sobel, spatial_separable(sobel), {1, 1, 5, 5}},
      {"flattened", "Flattened: 1×1, then 3×1 and 1×3 depthwise",
       "Jin et al. 2014: lateral 1x1, vertical and horizontal 1D depthwise stages replace the 3x3x3 filters",
       layer, flattened(layer), {1, 7, 7, 3}},
      {"shuffled_grouped", "Shuffled grouped (ShuffleNet): 1×1 grouped, shuffle, 1×1 grouped",
       "two grouped 1x1 convolutions (3 groups) with a channel shuffle between them, so that information crosses groups",
       pointwise, shuffled_grouped(grouped, grouped), {1, 6, 4, 4}},
  };
}

std::string html_escaped(std::string_view text) {
  std::string out;
  for (char c : text) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

std::string figure_html(const std::string& name, const std::string& title, const std::string& explanation) {
  return "<figure id=\"" + name + "\"><img src=\"" + name + ".svg\" alt=\"" + html_escaped(title) +
         "\"><figcaption><b>" + html_escaped(title) + "</b>: " + html_escaped(explanation) + " <a href=\"" + name +
         ".png\">static PNG</a></figcaption></figure>\n";
}

}  // namespace

std::vector<GalleryCase> gallery_cases() {
  ConvSpec same_tf = conv2d(3, 0, 2);
  same_tf.padding = Padding::same();
  ConvSpec odd_transposed = conv2d(3, 1, 2, 1, true);
  odd_transposed.output_padding = {1};
  return {
      {"no_padding_no_strides", "no padding, stride 1: 4x4 -> 2x2 (out = in - k + 1)", conv2d(3, 0), {4, 4}},
      {"same_padding", "half ('same') padding p = 1: 5x5 -> 5x5", conv2d(3, 1), {5, 5}},
      {"full_padding", "full padding p = k - 1 = 2: 5x5 -> 7x7, every tap sees every input cell", conv2d(3, 2), {5, 5}},
      {"no_padding_strides", "stride 2, no padding: 5x5 -> 2x2", conv2d(3, 0, 2), {5, 5}},
      {"padding_strides", "stride 2, padding 1: 5x5 -> 3x3", conv2d(3, 1, 2), {5, 5}},
      {"padding_strides_odd", "stride 2, padding 1 on 6x6 -> 3x3: the floor leaves the last padded row and column unread",
       conv2d(3, 1, 2), {6, 6}},
      {"tf_same_stride_2", "TensorFlow 'SAME' with stride 2: out = ceil(5/2) = 3, pads (1, 1)", same_tf, {5, 5}},
      {"dilation", "dilation 2 (atrous): 3x3 taps spread over 5x5, holes between them; 7x7 -> 3x3", conv2d(3, 0, 1, 2),
       {7, 7}},
      {"no_padding_no_strides_transposed", "transposed of no padding: 2x2 -> 4x4 (full padding of the direct conv)",
       conv2d(3, 0, 1, 1, true), {2, 2}},
      {"same_padding_transposed", "transposed of half padding: 5x5 -> 5x5", conv2d(3, 1, 1, 1, true), {5, 5}},
      {"full_padding_transposed", "transposed of full padding: 7x7 -> 5x5 (no padding in the direct conv)",
       conv2d(3, 2, 1, 1, true), {7, 7}},
      {"no_padding_strides_transposed", "transposed stride 2: 2x2 -> 5x5, one zero inserted between input cells",
       conv2d(3, 0, 2, 1, true), {2, 2}},
      {"padding_strides_transposed", "transposed stride 2, padding 1: 3x3 -> 5x5", conv2d(3, 1, 2, 1, true), {3, 3}},
      {"padding_strides_odd_transposed", "transposed stride 2, padding 1, output_padding 1: 3x3 -> 6x6",
       odd_transposed, {3, 3}},
      {"dilation_transposed", "transposed dilation 2: 3x3 -> 7x7", conv2d(3, 0, 1, 2, true), {3, 3}},
      {"conv1d_strip", "1D: a strip of 8 samples, kernel 3, stride 2, padding 1 -> 4",
       {.rank = 1, .kernel = {3}, .stride = {2}, .padding = Padding::symmetric({1})}, {8}},
      {"conv3d_slices", "3D: a 3x4x4 volume as depth slices, 2x3x3 kernel, padding (0,1,1) -> 2x4x4",
       {.rank = 3, .kernel = {2, 3, 3}, .padding = Padding::symmetric({0, 1, 1})}, {3, 4, 4}},
      {"pointwise", "1x1 (pointwise): each output pixel mixes the 3 input channels, 4 filters",
       {.rank = 2, .in_channels = 3, .out_channels = 4, .kernel = {1}}, {4, 4}},
      {"grouped", "grouped, groups = 2: each half of the 4 filters sees half of the 4 channels (AlexNet, ResNeXt)",
       {.rank = 2, .in_channels = 4, .out_channels = 4, .kernel = {3}, .padding = Padding::symmetric({1}), .groups = 2},
       {4, 4}},
      {"depthwise", "depthwise, multiplier 2: each of 3 channels has its own two 3x3 filters (MobileNet)",
       {.rank = 2, .in_channels = 3, .out_channels = 6, .kernel = {3}, .groups = 3}, {5, 5}},
  };
}

std::vector<std::string> write_gallery(const std::string& dir) {
  const std::filesystem::path folder(dir);
  std::vector<std::string> written;
  std::string figures;
  for (const GalleryCase& c : gallery_cases()) {
    draw::write(draw::conv_animation(c.spec, c.input_spatial), (folder / (c.name + ".svg")).string());
    draw::write(draw::conv_small_multiples(c.spec, c.input_spatial), (folder / (c.name + ".png")).string());
    written.insert(written.end(), {c.name + ".svg", c.name + ".png"});
    std::string title = c.name;
    std::replace(title.begin(), title.end(), '_', ' ');
    figures += figure_html(c.name, title, c.explanation);
  }
  std::string composites;
  for (const CompositeCase& c : composite_cases()) {
    const draw::Scene scene = draw::composite_figure(c.title, c.layer, c.composite, c.input_shape);
    draw::write(scene, (folder / (c.name + ".svg")).string());
    draw::write(scene, (folder / (c.name + ".png")).string());
    written.insert(written.end(), {c.name + ".svg", c.name + ".png"});
    composites += figure_html(c.name, c.title, c.explanation);
  }
  const std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>convkit: convolution arithmetic "
      "gallery</title>\n<style>body{font-family:'DejaVu Sans',sans-serif;margin:24px;color:#222}"
      "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:24px}"
      "figure{margin:0;border:1px solid #ddd;padding:8px}img{max-width:100%;height:auto}"
      "figcaption{font-size:14px;margin-top:6px}</style></head>\n<body>\n<h1>Convolution arithmetic, drawn by convkit</h1>\n"
      "<p>Each diagram animates the kernel's footprint (blue) over the input (padding grey, dashed; inserted zeros "
      "white) and the output cell it produces (green), with the output-size formula below it. Made by <code>convkit "
      "draw --gallery</code>; any case: <code>convkit draw --input-shape 5,5 --kernel 3 --stride 2 --padding 1 "
      "--output s2p1.svg</code>.</p>\n<h2>Convolutions and their transposed counterparts</h2>\n<main>\n" +
      figures + "</main>\n<h2>The seeds' composites: fewer multiplications for the same output shape</h2>\n<main>\n" +
      composites + "</main>\n</body></html>\n";
  files::write_atomically((folder / "index.html").string(), std::span(reinterpret_cast<const uint8_t*>(html.data()), html.size()));
  written.push_back("index.html");
  return written;
}

}  // namespace convkit::cli
