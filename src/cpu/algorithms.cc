// The table plans choose from, in order of preference (see algorithm.h).
#include "algorithm.h"
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

std::span<const AlgorithmEntry> algorithms() {
  static const AlgorithmEntry table[] = {
      {"fft", &FftConvolution::cannot, &FftConvolution::prefers_not, &create<FftConvolution>},
      {"depthwise", &DepthwiseConvolution::cannot, &DepthwiseConvolution::prefers_not, &create<DepthwiseConvolution>},
      {"grouped", &GroupedConvolution::cannot, &GroupedConvolution::prefers_not, &create<GroupedConvolution>},
      {"spatial", &SpatialConvolution::cannot, &SpatialConvolution::prefers_not, &create<SpatialConvolution>},
      {"grouped_gemm", &GroupedGemmConvolution::cannot, &GroupedGemmConvolution::prefers_not,
       &create<GroupedGemmConvolution>},
      {"winograd", &WinogradConvolution::cannot, &WinogradConvolution::prefers_not, &create<WinogradConvolution>},
      {"gemm", &GemmConvolution::cannot, &always, &create<GemmConvolution>},
      {"transposed", &TransposedConvolution::cannot, &always, &create<TransposedConvolution>},
      {"reference", &always, &always, &create<ReferenceAlgorithm>},
  };
  return table;
}

std::unique_ptr<Algorithm> create_direct(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa) {
  if (all_finite(weight.data(), weight.numel()))
    for (const AlgorithmEntry& entry : algorithms()) {
      const bool transform = entry.name == "winograd" || entry.name == "fft";
      if (!transform && entry.cannot(spec).empty() && entry.prefers_not(spec).empty())
        return entry.create(spec, weight, bias, isa);
    }
  return create<ReferenceAlgorithm>(spec, weight, bias, isa);
}

}  // namespace convkit::cpu
