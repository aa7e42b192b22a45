// The table plans choose from, in order of preference (see algorithm.h).
#include "algorithm.h"
#include "depthwise_convolution.h"
#include "gemm_convolution.h"
#include "reference_algorithm.h"

namespace convkit::cpu {

std::span<const AlgorithmEntry> algorithms() {
  static const AlgorithmEntry table[] = {
      {"depthwise", &DepthwiseConvolution::cannot, &DepthwiseConvolution::prefers_not, &create<DepthwiseConvolution>},
      {"gemm", &GemmConvolution::cannot, &always, &create<GemmConvolution>},
      {"reference", &always, &always, &create<ReferenceAlgorithm>},
  };
  return table;
}

}  // namespace convkit::cpu
