// The table plans choose from, in order of preference (see algorithm.h).
#include "algorithm.h"
#include "fft_convolution.h"
#include "gemm_convolution.h"
#include "reference_algorithm.h"
#include "spatial_convolution.h"

namespace convkit::cpu {

std::span<const AlgorithmEntry> algorithms() {
  static const AlgorithmEntry table[] = {
      {"fft", &FftConvolution::cannot, &FftConvolution::prefers_not, &create<FftConvolution>},
      {"spatial", &SpatialConvolution::cannot, &SpatialConvolution::prefers_not, &create<SpatialConvolution>},
      {"gemm", &GemmConvolution::cannot, &always, &create<GemmConvolution>},
      {"reference", &always, &always, &create<ReferenceAlgorithm>},
  };
  return table;
}

}  // namespace convkit::cpu
