// Peer libraries run side by side with convkit on the same layers, in the same process (`--peers`):
// oneDNN and XNNPACK, compiled in only with the CMake option CONVKIT_PEERS=ON.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "convkit/shape.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "direction.h"

namespace convkit::cli {

// The layer as the user holds it. The weight is in channels-first order whatever the layout, as the
// suite states it; a peer reorders it once into its own format, outside the timed runs. The views
// stay valid as long as the prepared runs exist.
// Backward directions: grad_output is dL/dy in the user's layout; backward_data outputs dL/dx (the
// input's shape, user's layout), backward_weights outputs dL/dw in the weight's channels-first order
// (and computes dL/db too when the layer has a bias).
struct PeerProblem {
  ConvSpec spec;            // in the user's layout
  ConvGeometry geometry;    // pads and sizes resolved
  ConstTensorView input;    // in the user's layout
  ConstTensorView weight;   // (Cout, Cin/g, k...), transposed (Cin, Cout/g, k...)
  std::optional<ConstTensorView> bias;  // (Cout), when the layer has one
  Shape output_shape;       // of what the direction computes (see above)
  int threads = 1;
  Direction direction = Direction::forward;
  ConstTensorView grad_output{};  // backward directions only
};

// One way a peer computes the problem, prepared (weights packed, buffers allocated) and ready to time.
class PeerRun {
 public:
  virtual ~PeerRun() = default;
  // The user's input to the user's output, including every reorder the user would pay for.
  virtual void run() = 0;
  // The output of the last run, in the user's layout and shape.
  virtual Tensor output() const = 0;
};

struct PeerCandidate {
  std::string variant;  // how it runs, e.g. "jit:avx512_core, src/dst nChw16c + reorders"
  std::unique_ptr<PeerRun> run;
};

// Thrown by Peer::prepare when the peer cannot compute this kind of layer at all (shown as "n/a").
class PeerUnsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string name() const = 0;     // "onednn", "xnnpack" (the JSON's impl)
  virtual std::string title() const = 0;    // for the table header, e.g. "oneDNN"
  virtual std::string version() const = 0;
  // The ways the peer can run the problem (the bench reports the fastest); PeerUnsupported with the
  // reason, or the library's own error, when it cannot.
  virtual std::vector<PeerCandidate> prepare(const PeerProblem& problem) = 0;
};

// Whether this convkit was built with the peers (CONVKIT_PEERS=ON).
bool peers_built();
// oneDNN and XNNPACK, ready to prepare layers; an Error naming the build option when not built in.
std::vector<std::unique_ptr<Peer>> make_peers();

}  // namespace convkit::cli
