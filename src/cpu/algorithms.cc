// The table plans choose from, in order of preference (see algorithm.h).
#include "algorithm.h"
#include "gemm_convolution.h"
#include "reference_algorithm.h"
#include "winograd_convolution.h"

namespace convkit::cpu {

std::span<const AlgorithmEntry> algorithms() {
  static const AlgorithmEntry table[] = {
      {"winograd", &WinogradConvolution::cannot, &WinogradConvolution::prefers_not, &create<WinogradConvolution>},
      {"gemm", &GemmConvolution::cannot, &always, &create<GemmConvolution>},
      {"reference", &always, &always, &create<ReferenceAlgorithm>},
  };
  return table;
}

}  // namespace convkit::cpu
