// `convkit summary MODEL.json [--json]`: Keras's model.summary() (trainable and non-trainable params, and
// "Connected to" for a functional model) with MACs and receptive fields; docs/summary.md.
// `convkit summary --input-shape S --out-channels C --kernel K [conv options] [--kind ...] [--compare]`:
// the same for one layer, or its standard, depthwise separable and spatially separable versions side by
// side. --input-shape is read in the --layout order, C,spatial... (channels_first, the default, as
// `convkit conv`) or spatial...,C (channels_last), optionally preceded by the batch; the batch can only
// be told apart when --kernel gives one size per spatial axis (with a single --kernel size, the shape
// has no batch).
#include "summary.h"

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "convkit/convkit.h"
#include "draw/scene.h"
#include "spec_options.h"
#include "summary_plot.h"

namespace convkit::cli {
namespace {

using OrderedJson = nlohmann::ordered_json;

// --- Text formatting ---

std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  for (auto i = static_cast<std::ptrdiff_t>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return value < 0 ? "-" + digits : digits;
}

// Shapes as Keras prints them (Python tuples, without the batch): (222, 222, 64), (4096,).
std::string shape_text(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

// A receptive field per axis: "3x3"; transposed layers can make it fractional ("2.5x2.5").
std::string field_text(const std::vector<double>& sizes) {
  std::string text;
  for (double size : sizes) {
    std::ostringstream number;
    number.precision(size == static_cast<double>(static_cast<int64_t>(size)) ? 20 : 4);
    number << size;
    if (!text.empty()) text += 'x';
    text += number.str();
  }
  return text;
}

std::string ratio_text(int64_t value, int64_t reference) {
  const double ratio = static_cast<double>(value) / static_cast<double>(reference);
  std::ostringstream text;
  text.setf(std::ios::fixed);
  text.precision(3);
  text << ratio;
  text.precision(2);
  if (ratio < 1.0) text << " (" << 1.0 / ratio << "x fewer)";
  if (ratio > 1.0) text << " (" << ratio << "x more)";
  return text.str();
}

struct Table {
  std::vector<std::string> header;
  std::vector<bool> right;  // right-aligned columns (numbers)
  std::vector<std::vector<std::string>> rows;
};

// Keras's summary layout: a rule, the header, a double rule, the rows; returns the width so the caller
// can close the table (with totals between a double rule and a rule, as Keras does).
size_t print_table(const Table& table) {
  std::vector<size_t> widths;
  for (const std::string& cell : table.header) widths.push_back(cell.size());
  for (const auto& row : table.rows)
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  size_t width = 1;  // a leading space, then the columns three spaces apart
  for (size_t w : widths) width += w + 3;
  width -= 3;
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line = " ";
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - row[c].size(), ' ');
      line += (table.right[c] ? pad + row[c] : row[c] + pad) + "   ";
    }
    std::cout << line.substr(0, line.find_last_not_of(' ') + 1) << "\n";
  };
  std::cout << std::string(width, '_') << "\n";
  print_row(table.header);
  std::cout << std::string(width, '=') << "\n";
  for (const auto& row : table.rows) print_row(row);
  return width;
}

std::string input_text(const Model& model) {
  std::string text = "Input shape: " + shape_text(model.input_shape) + ", " + std::string(to_string(model.layout));
  if (model.batch != 1) text += ", batch " + std::to_string(model.batch) + " (MACs count every sample)";
  return text;
}

// --- Summaries ---

// Whether every layer reads the one before (a Sequential model); otherwise Keras's functional summary
// adds a "Connected to" column.
bool is_sequential(const Model& model) {
  for (size_t i = 0; i < model.layers.size(); ++i)
    if (model.layers[i].inputs != std::vector<TensorIndex>{i}) return false;
  return true;
}

std::string connected_to(const Model& model, const ModelLayer& layer) {
  std::string text;
  for (TensorIndex tensor : layer.inputs)
    text += (text.empty() ? "" : ", ") + (tensor == 0 ? model.input_name : model.layers[tensor - 1].name);
  return text;
}

// `note` follows the input line (the one-layer mode says which layout it read --input-shape in).
void print_summary(const Model& model, const std::string& title, const std::string& note = "") {
  std::cout << title << "\n" << input_text(model) << note << "\n";
  const bool sequential = is_sequential(model);
  Table table{{"Layer (type)", "Output Shape", "Param #", "MACs", "Receptive field"},
              {false, false, true, true, false},
              {}};
  if (!sequential) {
    table.header.emplace_back("Connected to");
    table.right.push_back(false);
  }
  for (const ModelLayer& layer : model.layers) {
    table.rows.push_back({layer.name + " (" + layer.type + ")", shape_text(layer.output_shape),
                          with_commas(layer.params), with_commas(layer.macs), field_text(layer.receptive_field)});
    if (!sequential) table.rows.back().push_back(connected_to(model, layer));
  }
  const size_t width = print_table(table);
  // Keras's totals (model.summary()), then the MACs.
  std::cout << std::string(width, '=') << "\nTotal params: " << with_commas(model.total_params())
            << "\nTrainable params: " << with_commas(model.total_trainable_params())
            << "\nNon-trainable params: " << with_commas(model.total_non_trainable_params())
            << "\nTotal MACs: " << with_commas(model.total_macs()) << "\n"
            << std::string(width, '_') << "\n";
}

void print_summary_json(const Model& model) { std::cout << summary_json(model) << "\n"; }

// --- One layer ---

// The --kind choices: the Keras-like type (prefix + rank + "D" + suffix) and how the layer splits.
struct Kind {
  std::string_view name;
  std::string_view type_prefix;
  std::string_view type_suffix;
  Composite (*stages)(const ConvSpec& layer, int64_t depth_multiplier);
};

const Kind kKinds[] = {
    {"conv", "Conv", "", [](const ConvSpec& l, int64_t) { return single_layer(l); }},
    {"transposed", "Conv", "Transpose", [](const ConvSpec& l, int64_t) { return single_layer(l); }},
    {"depthwise-separable", "SeparableConv", "",
     [](const ConvSpec& l, int64_t m) { return depthwise_separable(l, m); }},
    {"spatial-separable", "SpatialSeparableConv", "", [](const ConvSpec& l, int64_t) { return spatial_separable(l); }},
    {"flattened", "FlattenedConv", "", [](const ConvSpec& l, int64_t) { return flattened(l); }},
    {"shuffle-grouped", "ShuffleGroupedConv", "", [](const ConvSpec& l, int64_t) { return shuffle_grouped_layer(l); }},
};

const Kind& find_kind(std::string_view name) {
  std::string names;
  for (const Kind& kind : kKinds) {
    if (kind.name == name) return kind;
    names += (names.empty() ? "" : ", ") + std::string(kind.name);
  }
  fail("--kind='", name, "' is not recognised; expected one of ", names);
}

// The one-layer options, which make no sense with MODEL.json.
constexpr const char* kLayerOptions[] = {"--out-channels", "--kernel",         "--kind",         "--depth-multiplier",
                                         "--no-bias",      "--compare",        "--layout",       "--stride",
                                         "--dilation",     "--groups",         "--padding",      "--padding-mode",
                                         "--transposed",   "--output-padding", "--output-shape", "--flip"};

struct SummaryCommand {
  std::string model_path, input_shape, kernel, kind = "conv";
  int64_t out_channels = 0, depth_multiplier = 1;
  bool json = false, compare = false, no_bias = false;
  std::string plot;  // --plot FILE (summary_plot.h)
  SpecOptions options;
  CLI::App* command = nullptr;

  void run() const {
    if (!plot.empty()) draw::check_output(plot, "--plot");
    if (!model_path.empty()) return run_model();
    if (input_shape.empty()) fail("give a MODEL.json, or --input-shape with --out-channels and --kernel for one layer");
    if (compare) return run_compare();
    const Kind& chosen = find_kind(options.transposed ? "transposed" : kind);
    if (options.transposed && kind != "conv" && kind != "transposed")
      fail("--transposed cannot be combined with --kind ", kind);
    const bool separable = chosen.name == "depthwise-separable";
    if (separable && options.groups != 1)
      fail("--groups=", options.groups,
           " does not apply to --kind depthwise-separable (its depthwise stage has "
           "groups = in_channels, its pointwise stage 1)");
    if (!separable && command->count("--depth-multiplier") > 0)
      fail("--depth-multiplier applies to --kind depthwise-separable (and --compare) only");
    OneLayer layer = one_layer();
    layer.spec.transposed = chosen.name == "transposed";
    const Model model = one_layer_model(layer, chosen);
    if (!plot.empty()) write_model_plot(model, "Layer: " + describe(layer.spec), plot);
    if (json) return print_summary_json(model);
    print_summary(model, "Layer: " + describe(layer.spec), layout_note());
  }

  void run_model() const {
    for (const char* option : kLayerOptions)
      if (command->count(option) > 0) fail(option, " describes one layer; it cannot be used with MODEL.json");
    Model model = read_model(model_path);
    if (!plot.empty())
      write_model_plot(model, "Model: \"" + (model.name.empty() ? std::filesystem::path(model_path).stem().string() : model.name) + "\"", plot);
    if (json) return print_summary_json(model);
    if (model.name.empty()) model.name = std::filesystem::path(model_path).stem().string();
    print_summary(model, "Model: \"" + model.name + "\"");
  }

  // Without --layout, one layer's --input-shape is read channels_first, as `convkit conv` reads arrays, while
  // MODEL.json files are channels_last as Keras's: the input line says so.
  std::string layout_note() const {
    if (command->count("--layout") > 0) return "";
    return " (the default of --input-shape, as convkit conv; --layout channels_last reads spatial...,C as "
           "MODEL.json and Keras do)";
  }

  // The batched input shape in the --layout order; see the top of this file for how it is read.
  Shape batched_input() const {
    const Shape values = parse_int_list(input_shape, "--input-shape");
    const size_t kernel_sizes = parse_int_list(kernel, "--kernel").size();
    const size_t rank = kernel_sizes > 1 ? kernel_sizes : values.size() - 1;
    if (rank < 1 || rank > 3 || (values.size() != rank + 1 && values.size() != rank + 2))
      fail("--input-shape=", values, " has ", values.size(), " sizes; expected ",
           kernel_sizes > 1 ? "the channels and " + std::to_string(rank) + " spatial sizes (--kernel has " +
                                  std::to_string(rank) + "), optionally preceded by the batch"
                            : std::string("the channels and 1 to 3 spatial sizes"));
    for (int64_t v : values)
      if (v > kMaxModelSize)
        fail("--input-shape=", values, " exceeds the largest size convkit accepts (", kMaxModelSize, ")");
    Shape full = values;
    if (values.size() == rank + 1) full.insert(full.begin(), 1);
    return full;
  }

  struct OneLayer {
    ConvSpec spec;
    Shape input;  // batched
  };

  // The layer from --out-channels, --kernel and the convolution options (SpecOptions reads channels and
  // kernel from a weight; a summary has none, so they are set afterwards).
  OneLayer one_layer() const {
    if (command->count("--out-channels") == 0 || kernel.empty())
      fail("--input-shape needs --out-channels and --kernel");
    if (depth_multiplier < 1 || depth_multiplier > kMaxModelSize)
      fail("--depth-multiplier=", depth_multiplier, " must be between 1 and ", kMaxModelSize);
    const Shape input = batched_input();
    ConvSpec spec = options.spec_for(input, Shape(input.size(), 1), !no_bias);
    spec.out_channels = out_channels;
    spec.kernel = parse_int_list(kernel, "--kernel");
    return {spec, input};
  }

  Model one_layer_model(const OneLayer& layer, const Kind& chosen) const {
    const ConvSpec& spec = layer.spec;
    const Shape& input = layer.input;
    Model model;
    model.layout = spec.layout;
    model.batch = input[0];
    model.input_shape.assign(input.begin() + 1, input.end());
    const std::string type =
        std::string(chosen.type_prefix) + std::to_string(spec.rank) + "D" + std::string(chosen.type_suffix);
    append_layer(model, keras_snake_case(type), type, chosen.stages(spec, depth_multiplier));
    return model;
  }

  // Standard, depthwise separable and spatially separable versions of one convolution.
  void run_compare() const {
    if (options.transposed || kind != "conv")
      fail("--compare splits an ordinary convolution; it takes no --transposed or --kind other than conv");
    const OneLayer layer = one_layer();
    const std::pair<const char*, const char*> versions[] = {{"standard", "conv"},
                                                            {"depthwise separable", "depthwise-separable"},
                                                            {"spatially separable", "spatial-separable"}};
    std::vector<std::pair<std::string, Model>> models;
    for (const auto& [label, kind_name] : versions)
      models.emplace_back(label, one_layer_model(layer, find_kind(kind_name)));
    if (!plot.empty()) write_compare_plot(describe(layer.spec), models, plot);
    if (json) return print_compare_json(models);

    const Model& standard = models.front().second;
    std::cout << "Layer: " << describe(layer.spec) << "\n" << input_text(standard) << layout_note() << "\n";
    Table table{{"Version", "Type", "Output Shape", "Param #", "MACs", "MACs ratio", "Stages (MACs)"},
                {false, false, false, true, true, false, false},
                {}};
    for (const auto& [label, model] : models) {
      const ModelLayer& version = model.layers.front();
      std::string stages;
      for (const auto& [name, macs] : stage_macs(model))
        stages += (stages.empty() ? "" : " + ") + name + " " + with_commas(macs);
      table.rows.push_back({label, version.type, shape_text(version.output_shape), with_commas(version.params),
                            with_commas(version.macs), ratio_text(version.macs, standard.total_macs()), stages});
    }
    std::cout << std::string(print_table(table), '_') << "\n";
  }

  // {"input_shape", "versions": [{"name", "type", "output_shape", "params", "macs", "macs_ratio", "stages"}]}
  static void print_compare_json(const std::vector<std::pair<std::string, Model>>& models) {
    const int64_t reference = models.front().second.total_macs();
    OrderedJson versions = OrderedJson::array();
    for (const auto& [label, model] : models) {
      const ModelLayer& layer = model.layers.front();
      OrderedJson stages = OrderedJson::array();
      for (const auto& [name, macs] : stage_macs(model)) stages.push_back({{"name", name}, {"macs", macs}});
      versions.push_back({{"name", label},
                          {"type", layer.type},
                          {"output_shape", layer.output_shape},
                          {"params", layer.params},
                          {"macs", layer.macs},
                          {"macs_ratio", static_cast<double>(layer.macs) / static_cast<double>(reference)},
                          {"stages", stages}});
    }
    const OrderedJson result{{"input_shape", models.front().second.input_shape}, {"versions", versions}};
    std::cout << result.dump(2) << "\n";
  }

  // The MACs of each convolution stage of a one-layer model (channel shuffles cost nothing).
  static std::vector<std::pair<std::string, int64_t>> stage_macs(const Model& model) {
    Shape input{model.batch};
    input.insert(input.end(), model.input_shape.begin(), model.input_shape.end());
    const Composite& stages = model.layers.front().stages;
    const CompositeCost cost = composite_cost(stages, input);
    std::vector<std::pair<std::string, int64_t>> result;
    for (size_t s = 0; s < stages.stages.size(); ++s)
      if (!stages.stages[s].is_shuffle()) result.emplace_back(stages.stages[s].name, cost.stages[s].macs);
    return result;
  }
};

}  // namespace

void add_summary_command(CLI::App& app) {
  auto command = std::make_shared<SummaryCommand>();
  CLI::App* sub =
      app.add_subcommand("summary", "Shapes, parameters, MACs and receptive fields of a model or one layer");
  command->command = sub;
  CLI::Option* model = sub->add_option("model", command->model_path, "MODEL.json: Keras's model.to_json() or convkit's short form (docs/summary.md)");
  sub->add_option("--input-shape", command->input_shape,
                  "one layer: C,spatial... in --layout order (spatial...,C for channels_last), optionally "
                  "preceded by the batch when --kernel gives one size per axis")
      ->excludes(model);
  sub->add_option("--out-channels", command->out_channels, "one layer: output channels (filters)");
  sub->add_option("--kernel", command->kernel, "one layer: kernel size K or K1,...,Kn");
  sub->add_option("--kind", command->kind,
                  "conv | transposed | depthwise-separable | spatial-separable | flattened | shuffle-grouped")
      ->capture_default_str();
  sub->add_option("--depth-multiplier", command->depth_multiplier, "depthwise-separable: depth multiplier")
      ->capture_default_str();
  sub->add_flag("--no-bias", command->no_bias, "one layer: no bias (default: a bias, as Keras and PyTorch)");
  sub->add_flag("--compare", command->compare,
                "one layer: standard, depthwise separable and spatially separable versions side by side");
  sub->add_flag("--json", command->json, "print JSON instead of a table");
  sub->add_option("--plot", command->plot,
                  "also draw the model as boxes (with --compare: a bar chart of the MACs) to .png, .svg or .pdf");
  command->options.add_to(*sub);
  sub->callback([command] { command->run(); });
}

}  // namespace convkit::cli
