// The table plans choose from, in order of preference (see algorithm.h).
#include "algorithm.h"

#include <iomanip>
#include <sstream>
#include <vector>

#include "convkit/shape.h"
#include "depthwise_convolution.h"
#include "fft_convolution.h"
#include "finite_scan.h"
#include "gemm_convolution.h"
#include "grouped_convolution.h"
#include "grouped_gemm_convolution.h"
#include "reference_algorithm.h"
#include "spatial_convolution.h"
#include "transposed_convolution.h"
#include "winograd_convolution.h"

namespace convkit::cpu {

std::string direct_error_bound(const ConvSpec& spec) {
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  double terms = static_cast<double>(spec.in_channels / spec.groups);
  for (int64_t k : kernel) terms *= static_cast<double>(k);
  if (spec.bias) terms += 1.0;
  const double u = 0x1p-24, gamma = terms * u / (1.0 - terms * u);
  std::ostringstream out;
  out << std::setprecision(2) << "|error| <= " << gamma << " * S (a float sum of at most K = " << terms
      << " terms in any order: gamma_K = K u / (1 - K u), u = 2^-24, S = |b| + sum |w| |x|)";
  return out.str();
}

namespace {

std::string reference_error_bound(const ConvSpec&) {
  return "|error| <= 2^-24 |y| + tiny (double accumulation, one rounding to float)";
}

}  // namespace

std::span<const AlgorithmEntry> algorithms() {
  static const AlgorithmEntry table[] = {
      {"fft", &FftConvolution::cannot, &FftConvolution::prefers_not, &create<FftConvolution>, false,
       &FftConvolution::error_bound},
      {"depthwise", &DepthwiseConvolution::cannot, &DepthwiseConvolution::prefers_not, &create<DepthwiseConvolution>,
       true, &direct_error_bound},
      {"grouped", &GroupedConvolution::cannot, &GroupedConvolution::prefers_not, &create<GroupedConvolution>, true,
       &direct_error_bound},
      {"spatial", &SpatialConvolution::cannot, &SpatialConvolution::prefers_not, &create<SpatialConvolution>, true,
       &direct_error_bound},
      {"grouped_gemm", &GroupedGemmConvolution::cannot, &GroupedGemmConvolution::prefers_not,
       &create<GroupedGemmConvolution>, true, &direct_error_bound},
      {"winograd", &WinogradConvolution::cannot, &WinogradConvolution::prefers_not, &create<WinogradConvolution>, false,
       &WinogradConvolution::error_bound},
      {"gemm", &GemmConvolution::cannot, &always, &create<GemmConvolution>, true, &direct_error_bound},
      {"transposed", &TransposedConvolution::cannot, &always, &create<TransposedConvolution>, true, &direct_error_bound},
      {"reference", &always, &always, &create<ReferenceAlgorithm>, true, &reference_error_bound},
  };
  return table;
}

std::unique_ptr<Algorithm> create_direct(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa) {
  if (all_finite(weight.data(), weight.numel()))
    for (const AlgorithmEntry& entry : algorithms())
      if (entry.direct && entry.cannot(spec).empty() && entry.prefers_not(spec).empty())
        return entry.create(spec, weight, bias, isa);
  return create<ReferenceAlgorithm>(spec, weight, bias, isa);
}

}  // namespace convkit::cpu
