// Plans: the fast engine's API (as FFTW plans, oneDNN primitives, XNNPACK operators). Describe the
// convolution once with a ConvSpec, create a plan from it and the weights (validate, choose an
// algorithm, pack the weights into the micro-kernels' layout), then run it many times. `run` is const
// and safe to call from several threads at once; each call uses its own bounded workspace.
// Results are identical (bit for bit) for every thread count.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit {

// Threads used by plans that do not set their own; 0 (the default) = the OMP_NUM_THREADS environment
// variable when it is a positive integer (read once, as PyTorch does), else every hardware thread.
void set_num_threads(int threads);
int num_threads();

// Which algorithms a plan may choose (ConvPlan::explain states each one's error bound).
//   fast:   Winograd and FFT too, where they win; their transforms round differently from a direct sum
//           (Winograd: |error| <= 1e-5 * S, S = |b| + sum |w| |x| over the output's terms; FFT: a bound
//           relative to the largest values of its block, so small outputs beside large ones lose digits).
//   strict: direct algorithms only: each output is a sum of its K terms in float32, within the ordering
//           bound every summation order has, |error| <= K * 2^-24 / (1 - K * 2^-24) * S (Higham,
//           "Accuracy and Stability of Numerical Algorithms", 2nd ed., (3.4)-(3.5)).
enum class Accuracy { fast, strict };
std::string_view to_string(Accuracy accuracy);
// "fast" or "strict"; anything else is an Error naming `argument` and the value.
Accuracy parse_accuracy(std::string_view text, std::string_view argument = "accuracy");

struct PlanOptions {
  int threads = 0;        // 0 = convkit::num_threads() at run time
  // "" = let the plan choose. Otherwise force an entry of the algorithm table by the kernel-name grammar
  // family[.isa[.tile]]: "gemm" (that entry), "gemm.avx2" (its AVX2 kernels; an ISA this CPU runs), or a
  // whole name as ConvPlan::algorithm() returns it, which must be the kernel that entry picks for the spec.
  std::string algorithm{};
  Accuracy accuracy = Accuracy::fast;
};

class ConvPlan {
 public:
  // Validates spec, weight and bias shapes (as reference::convolution does) and packs the weights.
  ConvPlan(const ConvSpec& spec, ConstTensorView weight, std::optional<ConstTensorView> bias = std::nullopt,
           PlanOptions options = {});
  ~ConvPlan();
  ConvPlan(ConvPlan&&) noexcept;
  ConvPlan& operator=(ConvPlan&&) noexcept;

  // y = conv(x) in the spec's layout; the output shape is convkit::output_shape(spec, x.shape()).
  Tensor run(ConstTensorView input) const;
  // The same into a caller-provided view of that shape (any strides).
  void run(ConstTensorView input, TensorView output) const;

  const ConvSpec& spec() const;
  // The kernel the plan chose, named family.isa.tile: e.g. "gemm.avx512.14x32-indirect" (the table entry
  // gemm, its AVX-512 kernels, a 14 x 32 register tile reading the input through row pointers).
  std::string algorithm() const;
  // Why: one line per candidate algorithm, the chosen one and the reasons the others declined, each that
  // could compute the spec with its error bound (see Accuracy).
  std::string explain() const;
  // Memory the plan holds (packed weights and bias) and the extra memory one run needs.
  std::size_t packed_bytes() const;
  std::size_t workspace_bytes(const Shape& input_shape) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convkit
