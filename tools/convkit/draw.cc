// `convkit draw --input-shape 5,5 --kernel 3 [conv options] --output FILE.svg|.png|.pdf`
// `convkit draw --gallery DIR`
#include "draw.h"

#include <iostream>
#include <memory>

#include "convkit/convkit.h"
#include "draw/conv_diagram.h"
#include "draw/scene.h"
#include "draw_gallery.h"
#include "spec_options.h"

namespace convkit::cli {
namespace {

struct DrawCommand {
  std::string input_shape, kernel, output, gallery;
  int64_t in_channels = 1, out_channels = 1;
  SpecOptions options;

  // The spec as `convkit conv` would build it from an input and a weight of these shapes.
  ConvSpec spec(const Shape& spatial) const {
    if (options.groups < 1) fail("--groups=", options.groups, " must be at least 1");
    const auto rank = static_cast<int>(spatial.size());
    const std::vector<int64_t> k = per_axis(parse_int_list(kernel, "--kernel"), rank, 1, "--kernel");
    const bool first = parse_layout(options.layout, "--layout") == Layout::channels_first;
    // conv weight (Cout, Cin/g, k...) | (k..., Cin/g, Cout); transposed (Cin, Cout/g, k...) | (k..., Cout/g, Cin)
    const int64_t a = options.transposed ? in_channels : out_channels;
    const int64_t b = options.transposed ? out_channels / options.groups : in_channels / options.groups;
    Shape weight;
    for (int64_t v : first ? Shape{a, b} : Shape{}) weight.push_back(v);
    for (int64_t v : k) weight.push_back(v);
    for (int64_t v : first ? Shape{} : Shape{b, a}) weight.push_back(v);
    if (options.transposed && out_channels % options.groups != 0)
      fail("--groups=", options.groups, " does not divide --out-channels=", out_channels);
    Shape input{1};
    if (first) input.push_back(in_channels);
    for (int64_t v : spatial) input.push_back(v);
    if (!first) input.push_back(in_channels);
    const ConvSpec s = options.spec_for(input, weight, false);
    (void)output_shape(s, input);  // every shape rule, with the messages `convkit conv` gives
    return s;
  }

  void run() const {
    if (!gallery.empty()) {
      if (!output.empty() || !input_shape.empty()) fail("--gallery writes its own files; give it without --output and --input-shape");
      draw::prepare_output_dir(gallery, "--gallery");
      const std::vector<std::string> files = write_gallery(gallery);
      std::cout << "gallery: " << files.size() << " files written to " << gallery << "/ (open " << gallery
                << "/index.html)\n";
      return;
    }
    if (input_shape.empty() || output.empty())
      fail("draw needs --input-shape and --output (or --gallery DIR)");
    draw::check_output(output, "--output");
    const Shape spatial = parse_int_list(input_shape, "--input-shape");
    if (spatial.empty() || spatial.size() > 3)
      fail("--input-shape=", input_shape, " has ", spatial.size(), " sizes; expected 1 to 3 spatial sizes like 5,5");
    const ConvSpec s = spec(spatial);
    const draw::Format format = draw::format_of(output, "--output");
    draw::write(format == draw::Format::svg ? draw::conv_animation(s, spatial) : draw::conv_small_multiples(s, spatial),
                output);
    for (const std::string& line : draw::formula_lines(s, spatial)) std::cout << line << "\n";
    std::cout << (format == draw::Format::svg ? "animated diagram" : "diagram (one panel per output position)")
              << " written to " << output << "\n";
  }
};

}  // namespace

void add_draw_command(CLI::App& app) {
  auto command = std::make_shared<DrawCommand>();
  CLI::App* sub = app.add_subcommand("draw", "Draw a convolution: padded input, kernel footprints, output, formula");
  sub->add_option("--input-shape", command->input_shape, "spatial input size, e.g. 5,5 (1D: 8; 3D: 4,4,4)");
  sub->add_option("--kernel", command->kernel, "kernel size K or K1,...,Kn")->default_val("3");
  sub->add_option("--in-channels", command->in_channels, "input channels")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--out-channels", command->out_channels, "output channels")->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--output", command->output, ".svg (animated), .png or .pdf (one panel per output position)");
  sub->add_option("--gallery", command->gallery, "write the classic cases and index.html into this folder");
  command->options.add_to(*sub);
  sub->callback([command] { command->run(); });
}

}  // namespace convkit::cli
