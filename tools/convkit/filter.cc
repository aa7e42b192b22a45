// `convkit filter INPUT (--filter NAME[:P1,P2] | --kernel FILE)... --output OUT [options]`
//
// Every channel is filtered separately (a depthwise convolution, groups = C) through a ConvPlan, with
// padding 'same' and the reflect border by default. One filter writes OUT; several write one file per
// filter, OUT's stem + "-" + the filter's label + OUT's extension (out.png with edge and gaussian:5,1.5
// gives out-edge.png and out-gaussian-5-1.5.png; a --kernel file's label is its file stem).
// A NIfTI volume (.nii, .nii.gz) is filtered as convkit/nifti.h reads it, (X, Y, Z, T) -> (T, Z, Y, X):
// in 3D, each time point separately; its output is float32 with the input's header (affine and all).
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

enum class Format { image, csv, npy, nifti };

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The extension, ".nii.gz" counted as one.
std::string extension_of(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (lowercase(name).ends_with(".nii.gz")) return name.substr(name.size() - 7);
  return std::filesystem::path(name).extension().string();
}

std::string lower_extension(const std::string& path) { return lowercase(extension_of(path)); }

Format input_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") return Format::image;
  if (ext == ".csv") return Format::csv;
  if (ext == ".npy") return Format::npy;
  if (ext == ".nii" || ext == ".nii.gz") return Format::nifti;
  fail("INPUT '", path, "' has the extension '", ext,
       "'; expected .png, .jpg, .jpeg, .bmp (images), .csv (signals), .npy or .nii/.nii.gz (NIfTI-1 or NIfTI-2 volumes)");
}

Format output_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".png") return Format::image;
  if (ext == ".csv") return Format::csv;
  if (ext == ".npy") return Format::npy;
  if (ext == ".nii" || ext == ".nii.gz") return Format::nifti;
  fail("--output '", path, "' has the extension '", ext, "'; expected .png, .csv, .npy, .nii or .nii.gz");
}

// Where a .npy array keeps its channels: (C, spatial...), (spatial..., C), or no channel axis (one
// channel). Images and CSVs are always read channels first.
enum class ChannelAxis { first, last, none };

// The data to filter, channels first: (C, spatial...), and what is needed to write results back.
struct Data {
  Tensor channels{};
  ChannelAxis axis = ChannelAxis::first;  // how a .npy output is written back (as the input was)
  std::vector<std::string> names{};       // CSV column names
  nifti::Header header{};                 // a NIfTI input's header, kept in a NIfTI output
};

// --layout for a .npy array, or when not given the usual reading: (H, W, 3) and (H, W, 4) are RGB(A)
// images in numpy's, PIL's and OpenCV's channels-last order (said on stdout, as a 3D volume of width
// 3 or 4 would read the same); any other array is one channel.
ChannelAxis npy_layout(const std::string& layout, const Shape& shape, const std::string& path) {
  if (layout == "channels_first") return ChannelAxis::first;
  if (layout == "channels_last") return ChannelAxis::last;
  if (layout == "none") return ChannelAxis::none;
  if (!layout.empty())
    fail("--layout='", layout, "' is not recognised; expected channels_first (C, spatial...), channels_last ",
         "(spatial..., C) or none (one channel, no channel axis)");
  const bool rgb = shape.size() == 3 && (shape[2] == 3 || shape[2] == 4) && shape[0] > 4 && shape[1] > 4;
  if (!rgb) return ChannelAxis::none;
  std::cout << "note: INPUT '" << path << "' of shape " << to_string(shape) << " is read as channels_last (H, W, C), "
            << (shape[2] == 3 ? "an RGB" : "an RGBA") << " image; --layout none reads it as one 3D channel\n";
  return ChannelAxis::last;
}

Data load(const std::string& path, const std::string& layout) {
  const Format format = input_format(path);
  if (format != Format::npy && !layout.empty())
    fail("--layout applies to .npy inputs; '", path, "' is read channels first");
  if (format == Format::image) return {image::read(path), ChannelAxis::first, {}, {}};
  if (format == Format::nifti) {
    nifti::Volume volume = nifti::read(path);
    return {std::move(volume.data), ChannelAxis::first, {}, std::move(volume.header)};
  }
  if (format == Format::csv) {
    csv::Signals signals = csv::read(path);
    return {std::move(signals.values), ChannelAxis::first, std::move(signals.names), {}};
  }
  Tensor array = npy::read(path);
  const ChannelAxis axis = npy_layout(layout, array.shape(), path);
  const int spatial = array.rank() - (axis == ChannelAxis::none ? 0 : 1);
  if (spatial < 1 || spatial > 3)
    fail("INPUT '", path, "' has shape ", array.shape(), "; expected ",
         axis == ChannelAxis::first  ? "(C, W), (C, H, W) or (C, D, H, W) with --layout channels_first"
         : axis == ChannelAxis::last ? "(W, C), (H, W, C) or (D, H, W, C) with --layout channels_last"
                                     : "(W), (H, W) or (D, H, W) (or --layout channels_first / channels_last)");
  if (axis == ChannelAxis::first) return {std::move(array), axis, {}, {}};
  if (axis == ChannelAxis::last) {  // (spatial..., C) -> (C, spatial...)
    std::vector<int> axes{array.rank() - 1};
    for (int a = 0; a + 1 < array.rank(); ++a) axes.push_back(a);
    return {Tensor::copy_of(array.view().permuted(axes)), axis, {}, {}};
  }
  Shape shape = array.shape();
  shape.insert(shape.begin(), 1);
  return {array.reshaped(std::move(shape)), axis, {}, {}};
}

// Checks that results with the channels and rank of `channels_shape` (C, spatial...) can be written in
// `format` (filters keep both), before any work is done.
void check_output(Format format, const std::string& path, const Data& data, bool normalize) {
  const Shape& channels_shape = data.channels.shape();
  const auto spatial = static_cast<int>(channels_shape.size()) - 1;
  if (format == Format::image && (spatial != 2 || (channels_shape[0] != 1 && channels_shape[0] != 3)))
    fail(
        "--output '", path,
        "': a PNG needs 2D data with 1 (grey) or 3 (RGB) channels, but the data is (C, spatial...) = ", channels_shape);
  if (format == Format::csv && spatial != 1)
    fail("--output '", path, "': a CSV holds 1D signals (one column per channel), but the data is ", spatial, "D");
  if (format == Format::nifti && data.header.bytes.empty())
    fail("--output '", path, "': a NIfTI output keeps the input's header (affine, voxel sizes), so INPUT must be "
         ".nii or .nii.gz");
  if (normalize && format != Format::image)
    fail("--normalize stretches the range of PNG outputs; --output '", path, "' is not a PNG");
}

// The file contents of `result` in `format`.
std::vector<uint8_t> file_bytes(Format format, const Data& input, const Tensor& result, bool normalize,
                                const std::string& path) {
  switch (format) {
    case Format::image:
      return image::encode_png(result, normalize ? image::Scaling::normalize : image::Scaling::clamp);
    case Format::csv: {
      const std::string text = csv::serialize({input.names, result});
      return {text.begin(), text.end()};
    }
    case Format::nifti:  // the header's voxel grid must still fit: nifti::serialize checks the shape
      return nifti::encode(result, input.header, path);
    case Format::npy:
      break;
  }
  switch (input.axis) {
    case ChannelAxis::first:
      return npy::serialize(result);
    case ChannelAxis::last: {  // (C, spatial...) -> (spatial..., C), as the input was
      std::vector<int> axes;
      for (int a = 1; a < result.rank(); ++a) axes.push_back(a);
      axes.push_back(0);
      return npy::serialize(Tensor::copy_of(result.view().permuted(axes)));
    }
    case ChannelAxis::none:
      break;
  }
  return npy::serialize(result.reshaped(Shape(result.shape().begin() + 1, result.shape().end())));
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
  std::string layout, accuracy = "fast";
  bool flip = false, normalize = false, channels_first = false;

  void run() const {
    if (filters.empty() && kernels.empty()) fail("no filter given; expected --filter NAME[:P1,P2] or --kernel FILE");
    if (channels_first && !layout.empty() && layout != "channels_first")
      fail("--channels-first contradicts --layout ", layout);
    const Data data = load(input, channels_first ? "channels_first" : layout);
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
    check_output(format, output, data, normalize);
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
    options.accuracy = parse_accuracy(accuracy, "--accuracy");
    return options;
  }

  std::string path_for(const std::string& label) const {
    const std::filesystem::path out(output);
    const std::string name = out.filename().string(), extension = extension_of(output);
    return (out.parent_path() / (name.substr(0, name.size() - extension.size()) + "-" + label + extension)).string();
  }

  // Writes every result as one batch: all files are complete before the first replaces an output, so a
  // failing write leaves every output, new or existing, as it was.
  void write_all(Format format, const Data& data, const std::vector<std::string>& paths,
                 const std::vector<Tensor>& results) const {
    files::AtomicWrites batch;
    for (size_t i = 0; i < results.size(); ++i) batch.add(paths[i], file_bytes(format, data, results[i], normalize, paths[i]));
    batch.commit();
  }
};

}  // namespace

void add_filter_command(CLI::App& app) {
  auto command = std::make_shared<FilterCommand>();
  CLI::App* sub = app.add_subcommand(
      "filter",
      "Filter images (PNG/JPEG/BMP), CSV signals, .npy arrays or NIfTI volumes (.nii, .nii.gz) with named or custom kernels, each channel "
      "separately (depthwise). Named filters:\n" +
          filters::catalogue() +
          "Several filters write one output each: OUT's stem + '-' + the filter (out-edge.png, "
          "out-gaussian-5-1.5.png).");
  sub->add_option("INPUT", command->input,
                  "image (C, H, W), CSV (one column per channel), .npy: (W), (H, W), (D, H, W) is one channel, "
                  "(H, W, 3|4) an RGB(A) image (see --layout), or NIfTI .nii/.nii.gz: (X, Y, Z, T) is T channels "
                  "of (Z, Y, X)")
      ->required();
  sub->add_option("--filter", command->filters, "NAME or NAME:P1,P2 (e.g. gaussian:5,1.5); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--kernel", command->kernels,
                  ".npy, text rows (blank lines separate 3D slices) or JSON nested arrays; repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--output", command->output, "OUT.png, OUT.csv, OUT.npy, OUT.nii or OUT.nii.gz (format by extension; NIfTI keeps a NIfTI input's header)")->required();
  sub->add_option("--padding", command->padding, "same | valid | same_lower | P | P1,...,Pn | b1,...,bn,e1,...,en")
      ->capture_default_str();
  sub->add_option("--padding-mode", command->padding_mode,
                  "reflect (OpenCV's default border) | replicate | circular | zeros")
      ->capture_default_str();
  sub->add_option("--stride", command->stride, "S or S1,...,Sn (default 1)");
  sub->add_option("--dilation", command->dilation, "D or D1,...,Dn (default 1)");
  sub->add_flag("--flip", command->flip, "true convolution: reverse the kernels (filters are cross-correlations)");
  add_accuracy_option(*sub, command->accuracy);
  sub->add_flag("--normalize", command->normalize, "PNG: stretch [min, max] to [0, 255] instead of clamping");
  sub->add_option("--layout", command->layout,
                  ".npy input: channels_first (C, spatial...), channels_last (spatial..., C) or none (one channel); "
                  "default: channels_last for (H, W, 3|4), otherwise none");
  sub->add_flag("--channels-first", command->channels_first, ".npy input is (C, spatial...): --layout channels_first");
  sub->callback([command] { command->run(); });
}

}  // namespace convkit::cli
