// `convkit filter INPUT (--filter NAME[:P1,P2] | --kernel FILE)... --output OUT [options]`
//
// Every channel is filtered separately (a depthwise convolution, groups = C) through a ConvPlan, with
// padding 'same' and the reflect border by default. One filter writes OUT; several write one file per
// filter, OUT's stem + "-" + the filter's label + OUT's extension (out.png with edge and gaussian:5,1.5
// gives out-edge.png and out-gaussian-5-1.5.png; a --kernel file's label is its file stem).
#include "filter.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <memory>

#include "convkit/convkit.h"
#include "convkit/files.h"
#include "spec_options.h"

namespace convkit::cli {
namespace {

enum class Format { image, csv, npy };

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

Format input_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") return Format::image;
  if (ext == ".csv") return Format::csv;
  if (ext == ".npy") return Format::npy;
  fail("INPUT '", path, "' has the extension '", ext,
       "'; expected .png, .jpg, .jpeg, .bmp (images), .csv (signals) or .npy");
}

Format output_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".png") return Format::image;
  if (ext == ".csv") return Format::csv;
  if (ext == ".npy") return Format::npy;
  fail("--output '", path, "' has the extension '", ext, "'; expected .png, .csv or .npy");
}

// The data to filter, channels first: (C, spatial...), and what is needed to write results back.
struct Data {
  Tensor channels{};
  bool channel_axis = true;          // false: a bare .npy array, one channel, written back without the axis
  std::vector<std::string> names{};  // CSV column names
};

Data load(const std::string& path, bool npy_channels_first) {
  switch (input_format(path)) {
    case Format::image:
      return {image::read(path), true, {}};
    case Format::csv: {
      csv::Signals signals = csv::read(path);
      return {std::move(signals.values), true, std::move(signals.names)};
    }
    case Format::npy:
      break;
  }
  Tensor array = npy::read(path);
  const int spatial = array.rank() - (npy_channels_first ? 1 : 0);
  if (spatial < 1 || spatial > 3)
    fail("INPUT '", path, "' has shape ", array.shape(), "; expected ",
         npy_channels_first ? "(C, W), (C, H, W) or (C, D, H, W) with --channels-first"
                            : "(W), (H, W) or (D, H, W) (or --channels-first for (C, spatial...))");
  if (npy_channels_first) return {std::move(array), true, {}};
  Shape shape = array.shape();
  shape.insert(shape.begin(), 1);
  return {array.reshaped(std::move(shape)), false, {}};
}

// Checks that results with the channels and rank of `channels_shape` (C, spatial...) can be written in
// `format` (filters keep both), before any work is done.
void check_output(Format format, const std::string& path, const Shape& channels_shape, bool normalize) {
  const auto spatial = static_cast<int>(channels_shape.size()) - 1;
  if (format == Format::image && (spatial != 2 || (channels_shape[0] != 1 && channels_shape[0] != 3)))
    fail(
        "--output '", path,
        "': a PNG needs 2D data with 1 (grey) or 3 (RGB) channels, but the data is (C, spatial...) = ", channels_shape);
  if (format == Format::csv && spatial != 1)
    fail("--output '", path, "': a CSV holds 1D signals (one column per channel), but the data is ", spatial, "D");
  if (normalize && format != Format::image)
    fail("--normalize stretches the range of PNG outputs; --output '", path, "' is not a PNG");
}

// The file contents of `result` in `format`.
std::vector<uint8_t> file_bytes(Format format, const Data& input, const Tensor& result, bool normalize) {
  switch (format) {
    case Format::image:
      return image::encode_png(result, normalize ? image::Scaling::normalize : image::Scaling::clamp);
    case Format::csv: {
      const std::string text = csv::serialize({input.names, result});
      return {text.begin(), text.end()};
    }
    case Format::npy:
      break;
  }
  return npy::serialize(
      input.channel_axis ? result : result.reshaped(Shape(result.shape().begin() + 1, result.shape().end())));
}

Tensor read_kernel(const std::string& path) {
  return lower_extension(path) == ".npy" ? npy::read(path) : kernel_text::read(path);
}

// A file-name-safe label: letters, digits, '.' and '_' kept, anything else becomes '-'.
std::string label_of(std::string_view text) {
  std::string label(text);
  for (char& c : label)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') c = '-';
  return label;
}

struct FilterCommand {
  std::string input, output;
  std::vector<std::string> filters, kernels;
  std::string padding = "same", padding_mode = "reflect", stride, dilation;  // filters::Options' defaults
  bool flip = false, normalize = false, channels_first = false;

  void run() const {
    if (filters.empty() && kernels.empty()) fail("no filter given; expected --filter NAME[:P1,P2] or --kernel FILE");
    const Data data = load(input, channels_first);
    const int rank = data.channels.rank() - 1;

    std::vector<filters::Filter> chosen;
    std::vector<std::string> labels;
    for (const std::string& text : filters) {
      chosen.push_back(filters::named(text, rank));
      labels.push_back(label_of(text));
    }
    for (const std::string& path : kernels) {
      chosen.push_back(filters::custom(path, read_kernel(path), rank));
      labels.push_back(label_of(std::filesystem::path(path).stem().string()));
    }
    for (size_t i = 0; i < labels.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (labels[i] == labels[j])
          fail("filters ", chosen[j].name, " and ", chosen[i].name, " would both write the output labelled '",
               labels[i], "'; give each filter once");

    const filters::Options options = parsed_options(rank);
    const Format format = output_format(output);
    check_output(format, output, data.channels.shape(), normalize);
    std::vector<std::string> paths;
    std::vector<Tensor> results;
    for (size_t i = 0; i < chosen.size(); ++i) {
      paths.push_back(chosen.size() == 1 ? output : path_for(labels[i]));
      results.push_back(filters::apply(chosen[i], data.channels, options));
    }
    write_all(format, data, paths, results);
    for (size_t i = 0; i < chosen.size(); ++i)
      std::cout << chosen[i].name << ": kernel " << to_string(chosen[i].kernels[0].shape()) << " on "
                << to_string(data.channels.shape()) << " -> " << to_string(results[i].shape())
                << " (C, spatial...) written to " << paths[i] << "\n";
  }

  filters::Options parsed_options(int rank) const {
    filters::Options options;
    options.padding = parse_padding(padding, rank);
    options.padding_mode = parse_padding_mode(padding_mode, "--padding-mode");
    if (!stride.empty()) options.stride = parse_int_list(stride, "--stride");
    if (!dilation.empty()) options.dilation = parse_int_list(dilation, "--dilation");
    options.flip = flip;
    return options;
  }

  std::string path_for(const std::string& label) const {
    const std::filesystem::path out(output);
    return (out.parent_path() / (out.stem().string() + "-" + label + out.extension().string())).string();
  }

  // Writes every result as one batch: all files are complete before the first replaces an output, so a
  // failing write leaves every output, new or existing, as it was.
  void write_all(Format format, const Data& data, const std::vector<std::string>& paths,
                 const std::vector<Tensor>& results) const {
    files::AtomicWrites batch;
    for (size_t i = 0; i < results.size(); ++i) batch.add(paths[i], file_bytes(format, data, results[i], normalize));
    batch.commit();
  }
};

}  // namespace

void add_filter_command(CLI::App& app) {
  auto command = std::make_shared<FilterCommand>();
  CLI::App* sub = app.add_subcommand(
      "filter",
      "Filter images (PNG/JPEG/BMP), CSV signals or .npy arrays with named or custom kernels, each channel "
      "separately (depthwise). Named filters:\n" +
          filters::catalogue() +
          "Several filters write one output each: OUT's stem + '-' + the filter (out-edge.png, "
          "out-gaussian-5-1.5.png).");
  sub->add_option("INPUT", command->input,
                  "image (C, H, W), CSV (one column per channel) or .npy: (W), (H, W), (D, H, W) is one channel")
      ->required();
  sub->add_option("--filter", command->filters, "NAME or NAME:P1,P2 (e.g. gaussian:5,1.5); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--kernel", command->kernels,
                  ".npy, text rows (blank lines separate 3D slices) or JSON nested arrays; repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--output", command->output, "OUT.png, OUT.csv or OUT.npy (format by extension)")->required();
  sub->add_option("--padding", command->padding, "same | valid | same_lower | P | P1,...,Pn | b1,...,bn,e1,...,en")
      ->capture_default_str();
  sub->add_option("--padding-mode", command->padding_mode,
                  "reflect (OpenCV's default border) | replicate | circular | zeros")
      ->capture_default_str();
  sub->add_option("--stride", command->stride, "S or S1,...,Sn (default 1)");
  sub->add_option("--dilation", command->dilation, "D or D1,...,Dn (default 1)");
  sub->add_flag("--flip", command->flip, "true convolution: reverse the kernels (filters are cross-correlations)");
  sub->add_flag("--normalize", command->normalize, "PNG: stretch [min, max] to [0, 255] instead of clamping");
  sub->add_flag("--channels-first", command->channels_first, ".npy input is (C, spatial...): C channels");
  sub->callback([command] { command->run(); });
}

}  // namespace convkit::cli
