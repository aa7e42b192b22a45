#include "convkit/filters.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <span>

#include "convkit/conv.h"
#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit::filters {
namespace {

constexpr int64_t kMaxSize = 255;  // taps per axis of a sized kernel (255^3 floats = 64 MB)

void check_rank(int rank, const char* kernel, int lowest = 1, int highest = 3) {
  if (rank < lowest || rank > highest)
    fail(kernel, ": spatial rank ", rank, " is not supported; expected ", lowest, lowest == highest ? "" : "..",
         lowest == highest ? "" : std::to_string(highest));
}

void check_size(int64_t size, const char* kernel) {
  if (size < 1 || size > kMaxSize) fail(kernel, ": size=", size, " must be in 1..", kMaxSize);
}

// A (size, ..., size) kernel of `rank` axes whose tap at multi-index i is value_at(i).
Tensor tabulate(int rank, int64_t size, const std::function<double(const Shape&)>& value_at) {
  Tensor kernel(Shape(static_cast<size_t>(rank), size));
  Shape index(static_cast<size_t>(rank), 0);
  int64_t flat = 0;
  do {
    kernel[flat++] = static_cast<float>(value_at(index));
  } while (next_index(index, kernel.shape()));
  return kernel;
}

// For 3^rank stencils: how many axes are off centre (0 = the centre, 1 = a face neighbour).
int64_t off_centre(const Shape& index) {
  int64_t count = 0;
  for (int64_t i : index) count += i != 1;
  return count;
}

// OpenCV getGaussianKernel's fixed kernels for odd sizes 1..7 when sigma <= 0 (imgproc/src/smooth.dispatch.cpp).
constexpr float kSmallGaussian[4][7] = {{1.f},
                                         {0.25f, 0.5f, 0.25f},
                                         {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f},
                                         {0.03125f, 0.109375f, 0.21875f, 0.28125f, 0.21875f, 0.109375f, 0.03125f}};

std::vector<double> gaussian_taps(int64_t size, double sigma) {
  const bool fixed = size % 2 == 1 && size <= 7 && sigma <= 0;
  const double s = sigma > 0 ? sigma : ((static_cast<double>(size) - 1) * 0.5 - 1) * 0.3 + 0.8;
  std::vector<double> taps(static_cast<size_t>(size));
  double sum = 0;
  for (int64_t i = 0; i < size; ++i) {
    const double x = static_cast<double>(i) - static_cast<double>(size - 1) * 0.5;
    taps[static_cast<size_t>(i)] = fixed ? kSmallGaussian[size / 2][i] : std::exp(-x * x / (2 * s * s));
    sum += taps[static_cast<size_t>(i)];
  }
  for (double& t : taps) t /= sum;
  return taps;
}

}  // namespace

Tensor identity(int rank) {
  check_rank(rank, "identity");
  return Tensor(Shape(static_cast<size_t>(rank), 1), 1.0f);
}

Tensor box(int rank, int64_t size) {
  check_rank(rank, "box");
  check_size(size, "box");
  const double tap = 1.0 / std::pow(static_cast<double>(size), rank);
  return tabulate(rank, size, [&](const Shape&) { return tap; });
}

Tensor gaussian(int rank, int64_t size, double sigma) {
  check_rank(rank, "gaussian");
  check_size(size, "gaussian");
  if (!std::isfinite(sigma)) fail("gaussian: sigma=", sigma, " must be a finite number (<= 0 for OpenCV's default)");
  const std::vector<double> taps = gaussian_taps(size, sigma);
  return tabulate(rank, size, [&](const Shape& index) {
    double value = 1;
    for (int64_t i : index) value *= taps[static_cast<size_t>(i)];
    return value;
  });
}

Tensor laplacian(int rank) {
  check_rank(rank, "laplacian");
  return tabulate(rank, 3, [&](const Shape& index) {
    const int64_t off = off_centre(index);
    return off == 0 ? -2.0 * rank : off == 1 ? 1.0 : 0.0;
  });
}

Tensor edge(int rank) {
  check_rank(rank, "edge");
  const double centre = std::pow(3.0, rank) - 1;
  return tabulate(rank, 3, [&](const Shape& index) { return off_centre(index) == 0 ? centre : -1.0; });
}

Tensor sharpen(int rank) {
  check_rank(rank, "sharpen");
  return tabulate(rank, 3, [&](const Shape& index) {
    const int64_t off = off_centre(index);
    return off == 0 ? 1.0 + 2.0 * rank : off == 1 ? -1.0 : 0.0;
  });
}

Tensor sobel(int rank, int axis) {
  check_rank(rank, "sobel");
  if (axis < 0 || axis >= rank) fail("sobel: axis=", axis, " must be in 0..", rank - 1, " for spatial rank ", rank);
  return tabulate(rank, 3, [&](const Shape& index) {
    double value = 1;
    for (int a = 0; a < rank; ++a) {
      const int64_t i = index[static_cast<size_t>(a)];
      value *= a == axis ? static_cast<double>(i - 1) : (i == 1 ? 2.0 : 1.0);  // [-1, 0, 1] or [1, 2, 1]
    }
    return value;
  });
}

Tensor emboss(int rank) {
  check_rank(rank, "emboss", 2, 3);
  return tabulate(rank, 3, [&](const Shape& index) {
    if (off_centre(index) == 0) return 1.0;
    double sum = 0;
    for (int64_t i : index) sum += static_cast<double>(i - 1);
    return sum;
  });
}

namespace {

// One named filter: its parameters (with defaults), the spatial ranks it is defined for, and how to make it.
struct Entry {
  std::string_view name;
  std::string_view usage;  // for the catalogue
  int lowest_rank = 1, highest_rank = 3;
  std::vector<double> defaults{};  // one per parameter
  std::function<Filter(int rank, const std::vector<double>& params)> make{};
};

Filter single(Tensor kernel) { return {{}, {std::move(kernel)}, false}; }

// An integer parameter (a size) given as a number.
int64_t integer(double value, const char* what) {
  if (value != std::floor(value) || std::fabs(value) > 1e9) fail(what, "=", value, " must be an integer");
  return static_cast<int64_t>(value);
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      {"identity", "identity", 1, 3, {}, [](int r, const auto&) { return single(identity(r)); }},
      {"box", "box[:size=3]  normalised box (mean) of size^rank taps", 1, 3, {3},
       [](int r, const auto& p) { return single(box(r, integer(p[0], "box size"))); }},
      {"gaussian", "gaussian[:size=5[,sigma]]  OpenCV getGaussianKernel; sigma <= 0 or omitted: OpenCV's default", 1, 3,
       {5, 0}, [](int r, const auto& p) { return single(gaussian(r, integer(p[0], "gaussian size"), p[1])); }},
      {"sharpen", "sharpen  identity - laplacian", 1, 3, {}, [](int r, const auto&) { return single(sharpen(r)); }},
      {"laplacian", "laplacian  sum of [1,-2,1] second differences", 1, 3, {},
       [](int r, const auto&) { return single(laplacian(r)); }},
      {"edge", "edge  -1 around, 3^rank-1 in the centre (8 in 2D)", 1, 3, {},
       [](int r, const auto&) { return single(edge(r)); }},
      {"sobel-x", "sobel-x  Sobel derivative along x (W)", 1, 3, {},
       [](int r, const auto&) { return single(sobel(r, r - 1)); }},
      {"sobel-y", "sobel-y  Sobel derivative along y (H); 2D, 3D", 2, 3, {},
       [](int r, const auto&) { return single(sobel(r, r - 2)); }},
      {"sobel-z", "sobel-z  Sobel derivative along z (D); 3D", 3, 3, {},
       [](int r, const auto&) { return single(sobel(r, 0)); }},
      {"sobel", "sobel  gradient magnitude sqrt(sum of squared Sobel derivatives)", 1, 3, {},
       [](int r, const auto&) {
         Filter f{{}, {}, true};
         for (int axis = 0; axis < r; ++axis) f.kernels.push_back(sobel(r, axis));
         return f;
       }},
      {"emboss", "emboss  GIMP's emboss; 2D, 3D", 2, 3, {}, [](int r, const auto&) { return single(emboss(r)); }},
      {"smooth", "smooth[:size=5]  moving average of a 1D signal", 1, 1, {5},
       [](int r, const auto& p) {
         const int64_t size = integer(p[0], "smooth size");
         check_size(size, "smooth");
         return single(box(r, size));
       }},
  };
  return table;
}

const char* rank_name(int rank) { return rank == 1 ? "1D" : rank == 2 ? "2D" : "3D"; }

// "5,1.5" -> {5, 1.5}.
std::vector<double> parse_params(std::string_view text, std::string_view whole) {
  std::vector<double> values;
  for (size_t start = 0; start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view field = text.substr(start, comma - start);
    double value = 0;
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || error != std::errc() || end != field.data() + field.size())
      fail("filter '", whole, "': parameter '", field, "' is not a number; expected NAME:P1,P2 (e.g. gaussian:5,1.5)");
    values.push_back(value);
    start = comma + 1;
  }
  return values;
}

}  // namespace

std::string catalogue() {
  std::string text;
  for (const Entry& e : entries()) text += "  " + std::string(e.usage) + "\n";
  return text;
}

Filter named(std::string_view text, int rank) {
  const size_t colon = text.find(':');
  const std::string_view name = text.substr(0, colon);
  const Entry* entry = nullptr;
  for (const Entry& e : entries())
    if (e.name == name) entry = &e;
  if (!entry) {
    std::string names;
    for (const Entry& e : entries()) names += (names.empty() ? "" : ", ") + std::string(e.name);
    fail("unknown filter '", name, "'; expected one of ", names, " (NAME or NAME:P1,P2)");
  }
  std::vector<double> params = entry->defaults;
  if (colon != std::string_view::npos) {
    const std::vector<double> given = parse_params(text.substr(colon + 1), text);
    if (given.size() > params.size())
      fail("filter '", text, "' has ", given.size(), " parameters; ", name, " takes at most ", params.size());
    std::copy(given.begin(), given.end(), params.begin());
  }
  if (rank < entry->lowest_rank || rank > entry->highest_rank)
    fail("filter '", text, "' is not defined for ", rank_name(rank), " data; it works on ",
         rank_name(entry->lowest_rank), entry->lowest_rank == entry->highest_rank ? "" : " to ",
         entry->lowest_rank == entry->highest_rank ? "" : rank_name(entry->highest_rank), " data");
  try {
    Filter filter = entry->make(rank, params);
    filter.name = std::string(text);
    return filter;
  } catch (const Error& e) {
    fail("filter '", text, "': ", e.what());
  }
}

Filter custom(std::string name, const Tensor& kernel, int rank) {
  if (kernel.numel() == 0) fail("kernel ", name, " of shape ", kernel.shape(), " has no values");
  if (kernel.rank() > rank)
    fail("kernel ", name, " of shape ", kernel.shape(), " has rank ", kernel.rank(), "; the data is ", rank_name(rank),
         ", so expected a kernel of rank 1..", rank);
  Shape shape(static_cast<size_t>(rank - kernel.rank()), 1);
  shape.insert(shape.end(), kernel.shape().begin(), kernel.shape().end());
  return {std::move(name), {kernel.reshaped(std::move(shape))}, false};
}

ConvSpec depthwise_spec(const Tensor& kernel, int64_t channels, const Options& options) {
  return {.rank = kernel.rank(), .in_channels = channels, .out_channels = channels, .kernel = kernel.shape(),
          .stride = options.stride, .dilation = options.dilation, .padding = options.padding,
          .padding_mode = options.padding_mode, .groups = channels, .flip = options.flip};
}

Tensor apply(const Filter& filter, ConstTensorView x, const Options& options) {
  if (x.rank() < 2 || x.rank() > 4)
    fail("filter ", filter.name, ": the data must be (C, W), (C, H, W) or (C, D, H, W), but got shape ", x.shape());
  if (filter.kernels.empty() || (!filter.magnitude && filter.kernels.size() != 1))
    fail("filter ", filter.name, ": has ", filter.kernels.size(), " kernels; expected 1 (or several for a magnitude)");
  const int rank = x.rank() - 1;
  const int64_t channels = x.dim(0);
  // The data as a batch of one, (1, C, spatial...), without copying.
  Shape batched_shape = x.shape(), batched_strides = x.strides();
  batched_shape.insert(batched_shape.begin(), 1);
  batched_strides.insert(batched_strides.begin(), 0);
  const ConstTensorView batched(x.data(), batched_shape, batched_strides);

  Tensor result;
  for (const Tensor& kernel : filter.kernels) {
    if (kernel.rank() != rank)
      fail("filter ", filter.name, ": kernel of shape ", kernel.shape(), " does not match data of shape ", x.shape(),
           " (", rank, " spatial axes after the channel axis)");
    // One copy of the kernel per channel: weight (C, 1, k...).
    const ConvSpec spec = depthwise_spec(kernel, channels, options);
    // The geometry first (e.g. a reflect border wider than the data is an error): before C copies of
    // the kernel are made and packed, which for a large 3D kernel is most of the work (gaussian:248,
    // 248^3 taps, on a 9^3 volume: seconds before the error).
    output_shape(spec, batched.shape());
    Tensor weight(weight_shape(spec));
    for (int64_t i = 0; i < weight.numel(); ++i) weight[i] = kernel[i % kernel.numel()];
    Tensor y = ConvPlan(spec, weight, std::nullopt, PlanOptions{.accuracy = options.accuracy}).run(batched);
    if (!filter.magnitude) {
      result = std::move(y);
    } else {
      if (result.numel() == 0) result = Tensor(y.shape());
      for (int64_t i = 0; i < y.numel(); ++i) result[i] += y[i] * y[i];
    }
  }
  if (filter.magnitude)
    for (int64_t i = 0; i < result.numel(); ++i) result[i] = std::sqrt(result[i]);
  return result.reshaped(Shape(result.shape().begin() + 1, result.shape().end()));
}

}  // namespace convkit::filters
