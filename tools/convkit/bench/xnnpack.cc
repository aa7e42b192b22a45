// XNNPACK as a peer: the NHWC f32 convolution and deconvolution operators of the Debian package
// (the 2022 API: xnn_create_* packs the weights, xnn_setup_* binds the tensors, xnn_run_operator runs),
// with a pthreadpool of the benchmarked thread count.
//  - channels_last only: XNNPACK takes NHWC, and this version has no transpose operator, so a
//    channels_first user would need transposes of their own; that row is shown as n/a rather than timing
//    transposes written here.
//  - 1D runs as 2D with height 1; 3D is n/a (XNNPACK has 2D operators only).
//  - Weights are packed at creation, outside the timed runs, from (G, Cout/g, kh, kw, Cin/g) ("GOHWI"),
//    the layout both operators take; the input is copied once into a buffer with the XNN_EXTRA_BYTES
//    of slack XNNPACK may read past the end.
#include <pthreadpool.h>
#include <xnnpack.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "peer.h"

namespace convkit::cli {
namespace {

void check(xnn_status status, const char* call) {
  if (status == xnn_status_success) return;
  static const char* const names[] = {"success",          "uninitialized",         "invalid_parameter",
                                      "invalid_state",    "unsupported_parameter", "unsupported_hardware",
                                      "out_of_memory"};
  const auto index = static_cast<size_t>(status);
  const std::string message =
      std::string(call) + " failed: xnn_status_" + (index < std::size(names) ? names[index] : std::to_string(index));
  if (status == xnn_status_unsupported_parameter || status == xnn_status_unsupported_hardware)
    throw PeerUnsupported(message);
  throw std::runtime_error(message);
}

// The 2D view of a 1D or 2D layer: (height, width) of each per-axis quantity, height 1 for 1D.
struct Axes2d {
  AxisGeometry h, w;
};

Axes2d axes_2d(const ConvGeometry& geometry) {
  if (geometry.axes.size() == 1) return {AxisGeometry{.input = 1, .output = 1}, geometry.axes[0]};
  return {geometry.axes[0], geometry.axes[1]};
}

// The weights as (G, Cout/g, kh, kw, Cin/g) from the suite's (Cout, Cin/g, k...) or, transposed,
// (Cin, Cout/g, k...).
std::vector<float> gohwi_weights(const PeerProblem& p, const Axes2d& axes) {
  const ConvSpec& s = p.spec;
  const int64_t groups = s.groups, in_g = s.in_channels / groups, out_g = s.out_channels / groups;
  const int64_t kh = axes.h.kernel, kw = axes.w.kernel;
  const Tensor w = Tensor::copy_of(p.weight);
  std::vector<float> packed;
  packed.reserve(static_cast<size_t>(w.numel()));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o = 0; o < out_g; ++o)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          for (int64_t i = 0; i < in_g; ++i) {
            const int64_t tap = y * kw + x;
            packed.push_back(s.transposed ? w[((g * in_g + i) * out_g + o) * kh * kw + tap]
                                          : w[((g * out_g + o) * in_g + i) * kh * kw + tap]);
          }
  return packed;
}

class XnnpackRun final : public PeerRun {
 public:
  explicit XnnpackRun(const PeerProblem& p)
      : pool_(pthreadpool_create(static_cast<size_t>(p.threads))), output_(p.output_shape) {
    if (!pool_) throw std::runtime_error("pthreadpool_create failed");
    const Tensor input = Tensor::copy_of(p.input);
    input_.assign(input.values().begin(), input.values().end());
    input_.resize(input_.size() + XNN_EXTRA_BYTES / sizeof(float));
    const ConvSpec& s = p.spec;
    const Axes2d a = axes_2d(p.geometry);
    const std::vector<float> weights = gohwi_weights(p, a);
    const auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
    const auto size = [](int64_t v) { return static_cast<size_t>(v); };
    // Both operators take the same description; pads are (top, right, bottom, left), and for the
    // deconvolution they crop the output, as PyTorch's padding does.
    const auto create = [&](auto create_function, const char* name) {
      xnn_operator_t op = nullptr;
      check(create_function(u32(a.h.pad_begin), u32(a.w.pad_end), u32(a.h.pad_end), u32(a.w.pad_begin),
                            u32(a.h.kernel), u32(a.w.kernel), u32(a.h.stride), u32(a.w.stride), u32(a.h.dilation),
                            u32(a.w.dilation), u32(s.groups), size(s.in_channels / s.groups),
                            size(s.out_channels / s.groups), size(s.in_channels), size(s.out_channels),
                            weights.data(), p.bias ? p.bias->data() : nullptr, -INFINITY, INFINITY, 0, &op),
            name);
      op_.reset(op);
    };
    const size_t batch = size(p.input.shape()[0]), height = size(a.h.input), width = size(a.w.input);
    if (s.transposed) {
      create(xnn_create_deconvolution2d_nhwc_f32, "xnn_create_deconvolution2d_nhwc_f32");
      check(xnn_setup_deconvolution2d_nhwc_f32(op_.get(), batch, height, width, u32(a.h.output_padding),
                                               u32(a.w.output_padding), input_.data(), output_.data(), pool_.get()),
            "xnn_setup_deconvolution2d_nhwc_f32");
    } else {
      create(xnn_create_convolution2d_nhwc_f32, "xnn_create_convolution2d_nhwc_f32");
      check(xnn_setup_convolution2d_nhwc_f32(op_.get(), batch, height, width, input_.data(), output_.data(),
                                             pool_.get()),
            "xnn_setup_convolution2d_nhwc_f32");
    }
  }

  void run() override { check(xnn_run_operator(op_.get(), pool_.get()), "xnn_run_operator"); }
  Tensor output() const override { return output_; }

 private:
  struct PoolDeleter {
    void operator()(pthreadpool_t pool) const { pthreadpool_destroy(pool); }
  };
  struct OperatorDeleter {
    void operator()(xnn_operator_t op) const { xnn_delete_operator(op); }
  };
  std::unique_ptr<pthreadpool, PoolDeleter> pool_;
  std::unique_ptr<xnn_operator, OperatorDeleter> op_;
  std::vector<float> input_;
  Tensor output_;
};

class XnnpackPeer final : public Peer {
 public:
  XnnpackPeer() : status_(xnn_initialize(nullptr)) {}
  ~XnnpackPeer() override {
    if (status_ == xnn_status_success) xnn_deinitialize();
  }
  XnnpackPeer(const XnnpackPeer&) = delete;
  XnnpackPeer& operator=(const XnnpackPeer&) = delete;

  std::string name() const override { return "xnnpack"; }
  std::string title() const override { return "XNNPACK"; }
  std::string version() const override { return "Debian libxnnpack (no version API)"; }

  std::vector<PeerCandidate> prepare(const PeerProblem& p) override {
    check(status_, "xnn_initialize");
    if (p.direction != Direction::forward) throw PeerUnsupported("XNNPACK has no backward (training) operators");
    if (p.spec.rank == 3) throw PeerUnsupported("3D: XNNPACK has 2D operators only");
    if (p.spec.layout == Layout::channels_first)
      throw PeerUnsupported("NHWC only: channels_first input would need transposes (none in this XNNPACK)");
    std::vector<PeerCandidate> candidates;
    candidates.push_back({p.spec.transposed ? "deconvolution2d_nhwc_f32" : "convolution2d_nhwc_f32",
                          std::make_unique<XnnpackRun>(p)});
    return candidates;
  }

 private:
  xnn_status status_;
};

}  // namespace

std::unique_ptr<Peer> make_xnnpack_peer() { return std::make_unique<XnnpackPeer>(); }

}  // namespace convkit::cli
