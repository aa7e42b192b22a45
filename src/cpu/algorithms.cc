// The table plans choose from, in order of preference (see algorithm.h).
#include "algorithm.h"
#include "depthwise_convolution.h"
#include "gemm_convolution.h"
#include "grouped_convolution.h"
#include "reference_algorithm.h"
#include "transposed_convolution.h"

namespace convkit::cpu {

std::span<const AlgorithmEntry> algorithms() {
  static const AlgorithmEntry table[] = {
      {"depthwise", &DepthwiseConvolution::cannot, &always, &create<DepthwiseConvolution>},
      {"grouped", &GroupedConvolution::cannot, &GroupedConvolution::prefers_not, &create<GroupedConvolution>},
      {"gemm", &GemmConvolution::cannot, &always, &create<GemmConvolution>},
      {"transposed", &TransposedConvolution::cannot, &always, &create<TransposedConvolution>},
      {"reference", &always, &always, &create<ReferenceAlgorithm>},
  };
  return table;
}

}  // namespace convkit::cpu
