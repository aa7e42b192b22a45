// oneDNN as a peer: convolution / deconvolution primitives (oneDNN 2.x API), forward and, for the
// backward directions, backward_data / backward_weights (with the forward training primitive as hint),
// run the way a user with plain tensors runs them.
//  - Weights: described in place (strided), reordered once into the primitive's preferred format
//    (format_tag::any), outside the timed runs, as a framework does at model load.
//  - Source and destination: the user's plain layout (ncw/nchw/ncdhw or nwc/nhwc/ndhwc). Two
//    candidates: the primitive created on the plain formats, and the primitive created with
//    format_tag::any, whose reorders from and to the plain tensors run inside the timed loop because
//    the user would pay them. The bench reports the faster.
//  - The primitive cache is off: oneDNN 2.6.3's cache returned a wrong primitive for the 1-channel
//    Sobel layer when an NCHW and an NHWC primitive of the same problem were created in one process
//    (design.md section 5).
//  - Threads: oneDNN's CPU runtime here is OpenMP, so omp_set_num_threads sets its thread count; it is
//    set before the primitive is created (its kernels split work at creation) and before each run.
#include <omp.h>

#include <dnnl.hpp>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "convkit/error.h"
#include "peer.h"

namespace convkit::cli {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// The plain activation format of `layout`: (N, C, spatial...) or (N, spatial..., C).
Tag plain_tag(int rank, Layout layout) {
  static constexpr Tag first[] = {Tag::ncw, Tag::nchw, Tag::ncdhw};
  static constexpr Tag last[] = {Tag::nwc, Tag::nhwc, Tag::ndhwc};
  return (layout == Layout::channels_first ? first : last)[rank - 1];
}

// oneDNN's logical activation dims are (N, C, spatial...) whatever the memory format.
memory::dims activation_dims(int64_t batch, int64_t channels, const Shape& spatial) {
  memory::dims dims{batch, channels};
  dims.insert(dims.end(), spatial.begin(), spatial.end());
  return dims;
}

// The suite's weights where they lie, described with strides. oneDNN's logical weight dims are
// (G, OC/G, IC/G, k...), or (OC, IC, k...) without groups, for convolution and deconvolution alike
// (OC = the layer's output channels). In memory they are (Cout, Cin/g, k...) for a convolution and
// (Cin, Cout/g, k...) for a transposed one, so only the OC and IC strides differ.
memory::desc user_weight_desc(const ConvSpec& spec, const std::vector<int64_t>& kernel) {
  const int64_t in_per_group = spec.in_channels / spec.groups, out_per_group = spec.out_channels / spec.groups;
  int64_t taps = 1;
  memory::dims kernel_strides(kernel.size());
  for (size_t a = kernel.size(); a-- > 0;) {
    kernel_strides[a] = taps;
    taps *= kernel[a];
  }
  const int64_t out_stride = spec.transposed ? taps : in_per_group * taps;
  const int64_t in_stride = spec.transposed ? out_per_group * taps : taps;
  memory::dims dims{out_per_group, in_per_group}, strides{out_stride, in_stride};
  if (spec.groups > 1) {
    dims.insert(dims.begin(), spec.groups);
    strides.insert(strides.begin(), in_per_group * out_per_group * taps);
  } else {
    dims = {spec.out_channels, spec.in_channels};
  }
  dims.insert(dims.end(), kernel.begin(), kernel.end());
  strides.insert(strides.end(), kernel_strides.begin(), kernel_strides.end());
  return memory::desc(dims, memory::data_type::f32, strides);
}

// Everything about the problem in oneDNN's terms except the source and destination formats.
struct Geometry {
  memory::dims src, dst, strides, dilates, padding_l, padding_r;
  memory::desc weights, bias, user_src, user_dst;
};

Geometry geometry_of(const PeerProblem& p) {
  Geometry g;
  const ConvSpec& spec = p.spec;
  std::vector<int64_t> kernel;
  for (const AxisGeometry& axis : p.geometry.axes) {
    kernel.push_back(axis.kernel);
    g.strides.push_back(axis.stride);
    g.dilates.push_back(axis.dilation - 1);  // oneDNN: 0 means no dilation
    g.padding_l.push_back(axis.pad_begin);
    // Deconvolution: dst = (src - 1) * stride - padding_l - padding_r + (k - 1) * dilation + 1, so the
    // output_padding cells at the end are a smaller padding_r.
    g.padding_r.push_back(axis.pad_end - axis.output_padding);
  }
  const int64_t batch = p.input.shape()[0];
  g.src = activation_dims(batch, spec.in_channels, p.geometry.input_spatial());
  g.dst = activation_dims(batch, spec.out_channels, p.geometry.output_spatial());
  g.weights = user_weight_desc(spec, kernel);
  if (p.bias) g.bias = memory::desc({spec.out_channels}, memory::data_type::f32, Tag::x);
  const Tag plain = plain_tag(spec.rank, spec.layout);
  g.user_src = memory::desc(g.src, memory::data_type::f32, plain);
  g.user_dst = memory::desc(g.dst, memory::data_type::f32, plain);
  return g;
}

// A primitive descriptor for the layer in `direction` with the given source and destination descriptors
// (diff_src and diff_dst for the backward passes, which take the forward training primitive descriptor
// as their hint, as oneDNN requires).
template <class Forward, class BackwardData, class BackwardWeights>
dnnl::primitive_desc make_primitive_desc(Direction direction, const Geometry& g, const memory::desc& src,
                                         const memory::desc& dst, dnnl::algorithm algorithm,
                                         const dnnl::engine& engine) {
  const memory::desc any_weights(g.weights.dims(), memory::data_type::f32, Tag::any);
  const auto prop =
      direction == Direction::forward ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training;
  const typename Forward::primitive_desc forward(
      typename Forward::desc(prop, algorithm, src, any_weights, g.bias, dst, g.strides, g.dilates, g.padding_l,
                             g.padding_r),
      engine);
  switch (direction) {
    case Direction::forward: return forward;
    case Direction::backward_data:
      return typename BackwardData::primitive_desc(
          typename BackwardData::desc(algorithm, src, any_weights, dst, g.strides, g.dilates, g.padding_l,
                                      g.padding_r),
          engine, forward);
    case Direction::backward_weights:
      return typename BackwardWeights::primitive_desc(
          typename BackwardWeights::desc(algorithm, src, any_weights, g.bias, dst, g.strides, g.dilates, g.padding_l,
                                         g.padding_r),
          engine, forward);
  }
  throw std::logic_error("unknown direction");
}

// A copy of `data` (described by `have`) in the format `want`, made once.
memory reordered(const float* data, const memory::desc& have, const memory::desc& want, const dnnl::engine& engine,
                 dnnl::stream& stream) {
  // oneDNN takes non-const handles; a reorder only reads its source.
  memory source(have, engine, const_cast<float*>(data));
  memory target(want, engine);
  dnnl::reorder(source, target).execute(stream, source, target);
  stream.wait();
  return target;
}

// One primitive run as a user holding plain tensors runs it: the weights reordered once into the
// primitive's format at creation; the user's tensors bound in place when the primitive takes their
// format, otherwise through reorders that run (and are timed) in every run.
class OneDnnRun final : public PeerRun {
 public:
  OneDnnRun(const dnnl::primitive_desc& pd, const dnnl::engine& engine, int threads, Shape output_shape)
      : engine_(engine), stream_(engine), threads_(threads), output_(std::move(output_shape)), primitive_(pd) {}

  void bind_constant(int arg, const float* data, const memory::desc& have, const memory::desc& want) {
    args_[arg] = reordered(data, have, want, engine_, stream_);
  }
  void bind_input(int arg, const float* data, const memory::desc& have, const memory::desc& want) {
    const memory user(have, engine_, const_cast<float*>(data));  // oneDNN takes non-const handles; it only reads
    args_[arg] = have == want ? user : memory(want, engine_);
    if (have != want) before_.push_back({dnnl::reorder(user, args_[arg]), user, args_[arg]});
  }
  // The result compared with convkit's: output(), whose memory `have` describes.
  void bind_output(int arg, const memory::desc& have, const memory::desc& want) {
    const memory user(have, engine_, output_.data());
    args_[arg] = have == want ? user : memory(want, engine_);
    if (have != want) after_.push_back({dnnl::reorder(args_[arg], user), args_[arg], user});
  }
  // A further result (diff_bias), left in the primitive's format.
  void bind_result(int arg, const memory::desc& want) { args_[arg] = memory(want, engine_); }

  void run() override {
    omp_set_num_threads(threads_);  // in case anything in the process changed it since creation
    for (Reorder& r : before_) r.primitive.execute(stream_, r.from, r.to);
    primitive_.execute(stream_, args_);
    for (Reorder& r : after_) r.primitive.execute(stream_, r.from, r.to);
    stream_.wait();
  }

  Tensor output() const override { return output_; }

 private:
  struct Reorder {
    dnnl::reorder primitive;
    memory from, to;
  };
  dnnl::engine engine_;
  dnnl::stream stream_;
  int threads_;
  Tensor output_;
  dnnl::primitive primitive_;
  std::unordered_map<int, memory> args_;
  std::vector<Reorder> before_, after_;
};

class OneDnnPeer final : public Peer {
 public:
  OneDnnPeer() { dnnl::set_primitive_cache_capacity(0); }

  std::string name() const override { return "onednn"; }
  std::string title() const override { return "oneDNN"; }
  std::string version() const override {
    const dnnl::version_t* v = dnnl::version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  }

  std::vector<PeerCandidate> prepare(const PeerProblem& p) override {
    omp_set_num_threads(p.threads);
    const Geometry g = geometry_of(p);
    std::vector<PeerCandidate> candidates;
    std::string errors;
    for (const bool plain : {true, false}) {
      try {
        const dnnl::primitive_desc pd =
            plain ? primitive_desc(p, g, g.user_src, g.user_dst)
                  : primitive_desc(p, g, memory::desc(g.src, memory::data_type::f32, Tag::any),
                                   memory::desc(g.dst, memory::data_type::f32, Tag::any));
        // The formats the primitive wants for the activation-shaped tensors (x or dx, y or dy).
        const memory::desc src = p.direction == Direction::backward_data ? pd.diff_src_desc() : pd.src_desc();
        const memory::desc dst = p.direction == Direction::forward ? pd.dst_desc() : pd.diff_dst_desc();
        const bool reorders = src != g.user_src || dst != g.user_dst;
        if (!plain && !reorders) continue;  // format any chose the plain formats: the first candidate again
        std::string how = reorders ? ", src/dst format any, reorders from/to plain timed" : ", plain src/dst";
        if (p.direction == Direction::backward_weights) how += ", diff_weights reordered to plain (timed)";
        candidates.push_back({pd.impl_info_str() + how, make_run(p, g, pd)});
      } catch (const dnnl::error& e) {
        errors += std::string(errors.empty() ? "" : "; ") + e.what();
      }
    }
    if (candidates.empty()) throw std::runtime_error(errors);
    return candidates;
  }

 private:
  dnnl::primitive_desc primitive_desc(const PeerProblem& p, const Geometry& g, const memory::desc& src,
                                      const memory::desc& dst) const {
    // convolution_auto lets oneDNN pick Winograd where it has it; deconvolution is direct on CPU.
    if (p.spec.transposed)
      return make_primitive_desc<dnnl::deconvolution_forward, dnnl::deconvolution_backward_data,
                                 dnnl::deconvolution_backward_weights>(p.direction, g, src, dst,
                                                                       dnnl::algorithm::deconvolution_direct, engine_);
    return make_primitive_desc<dnnl::convolution_forward, dnnl::convolution_backward_data,
                               dnnl::convolution_backward_weights>(p.direction, g, src, dst,
                                                                   dnnl::algorithm::convolution_auto, engine_);
  }

  std::unique_ptr<PeerRun> make_run(const PeerProblem& p, const Geometry& g, const dnnl::primitive_desc& pd) {
    auto run = std::make_unique<OneDnnRun>(pd, engine_, p.threads, p.output_shape);
    switch (p.direction) {
      case Direction::forward:
        run->bind_constant(DNNL_ARG_WEIGHTS, p.weight.data(), g.weights, pd.weights_desc());
        if (p.bias) run->bind_constant(DNNL_ARG_BIAS, p.bias->data(), g.bias, pd.weights_desc(1));
        run->bind_input(DNNL_ARG_SRC, p.input.data(), g.user_src, pd.src_desc());
        run->bind_output(DNNL_ARG_DST, g.user_dst, pd.dst_desc());
        break;
      case Direction::backward_data:
        run->bind_constant(DNNL_ARG_WEIGHTS, p.weight.data(), g.weights, pd.weights_desc());
        run->bind_input(DNNL_ARG_DIFF_DST, p.grad_output.data(), g.user_dst, pd.diff_dst_desc());
        run->bind_output(DNNL_ARG_DIFF_SRC, g.user_src, pd.diff_src_desc());
        break;
      case Direction::backward_weights:
        run->bind_input(DNNL_ARG_SRC, p.input.data(), g.user_src, pd.src_desc());
        run->bind_input(DNNL_ARG_DIFF_DST, p.grad_output.data(), g.user_dst, pd.diff_dst_desc());
        run->bind_output(DNNL_ARG_DIFF_WEIGHTS, g.weights, pd.diff_weights_desc());
        if (p.bias) run->bind_result(DNNL_ARG_DIFF_BIAS, pd.diff_weights_desc(1));
        break;
    }
    return run;
  }

  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
};

}  // namespace

std::unique_ptr<Peer> make_onednn_peer() { return std::make_unique<OneDnnPeer>(); }

}  // namespace convkit::cli
