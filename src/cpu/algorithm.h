// The engine's algorithms behind one interface, and the table plans choose from.
//
// A plan walks algorithms() in order and takes the first entry that can compute the spec and does not
// prefer to step aside; PlanOptions::algorithm forces an entry by name (then only `cannot` counts).
// Adding an algorithm = one class deriving from Algorithm + one line in algorithms.cc.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "isa.h"

namespace convkit::cpu {

// One way of computing the convolution of one spec, with its weights packed at creation.
class Algorithm {
 public:
  virtual ~Algorithm() = default;
  // `input` and `output` contiguous in the spec's layout; shapes already checked by the plan.
  virtual void run(ConstTensorView input, float* output, int threads) const = 0;
  // The same into an output view of any strides, written in place; false (nothing written) when the
  // algorithm needs a contiguous output, which the plan then stages.
  virtual bool run_strided(ConstTensorView /*input*/, TensorView /*output*/, int /*threads*/) const { return false; }
  // The kernel, e.g. "gemm.avx512.14x32-indirect" (family.isa.tile: isa.h kernel_name).
  virtual std::string name() const = 0;
  // One line for ConvPlan::explain: what it does for this spec.
  virtual std::string details() const = 0;
  virtual std::size_t packed_bytes() const = 0;
  virtual std::size_t workspace_bytes(const Shape& input_shape, int threads) const = 0;
};

struct AlgorithmEntry {
  std::string_view name;  // what PlanOptions::algorithm names, e.g. "gemm"
  // Empty when the algorithm computes `spec`, otherwise why it cannot.
  std::string (*cannot)(const ConvSpec& spec);
  // Empty when the plan should choose it for `spec` (it can and is expected to be fastest), otherwise why
  // not (e.g. "slower than gemm below 16 channels"). Forcing the algorithm ignores this.
  std::string (*prefers_not)(const ConvSpec& spec);
  // `weight` in the spec's layout (shape checked); `bias` has out_channels values or is null.
  std::unique_ptr<Algorithm> (*create)(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);
  // True when each output is a float sum of its terms (any order): within the ordering bound, so
  // Accuracy::strict may choose it. Winograd and FFT transform the data and are not.
  bool direct;
  // Its error bound for `spec`, for ConvPlan::explain, e.g. "|error| <= 1.7e-05 * S (...)".
  std::string (*error_bound)(const ConvSpec& spec);
};

// Every algorithm, in order of preference; the last one (reference) computes every spec.
std::span<const AlgorithmEntry> algorithms();

// An algorithm that computes `spec` term by term as the reference does, so that NaN and Inf propagate as
// the definition says (a non-finite value reaches only the outputs that read it; +Inf and -Inf terms give
// NaN, 0 * Inf gives NaN). Winograd and fft hand a run to it when their input holds a non-finite value,
// which their transforms would spread over a whole tile or block. With finite weights: the one a plan
// chooses when winograd and fft are left out. With NaN or Inf in the weights: the reference, the only one
// with no term for a zero-padding cell (the others multiply the weight by a staged zero: 0 * Inf = NaN).
std::unique_ptr<Algorithm> create_direct(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

// The bound of a direct sum of at most K = Cin/groups x taps (+ 1 for a bias) terms in float32, in any order:
// |y - y_exact| <= gamma_K * S, gamma_K = K u / (1 - K u), u = 2^-24, S = |b| + sum |w| |x| over the
// output's terms (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., (3.4)-(3.5)).
std::string direct_error_bound(const ConvSpec& spec);

// Helpers for entries.
inline std::string always(const ConvSpec&) { return {}; }
template <class A>
std::unique_ptr<Algorithm> create(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa) {
  return std::make_unique<A>(spec, weight, bias, isa);
}

}  // namespace convkit::cpu
