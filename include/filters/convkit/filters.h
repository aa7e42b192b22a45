// Classic image and signal filters as convolution kernels, and applying them channel by channel.
//
// Convention: deep-learning convolutions are cross-correlations (PyTorch, TensorFlow, ONNX, and also
// OpenCV's filter2D and scipy.ndimage.correlate): the kernel is not reversed, so sobel-x responds
// positively where the values grow to the right, as OpenCV's Sobel(dx=1) and scipy.ndimage.sobel do.
// Options::flip reverses the kernel on every axis for true convolution (scipy.signal.convolve).
//
// Spatial axes are in (D, H, W) order: x is the last axis (W), y the one before it (H), z the first of a
// 3D volume (D). Kernels below are defined for 1D, 2D and 3D where the definition carries over.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "convkit/conv.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::filters {

// --- Kernels (spatial shape only: (W,), (H, W) or (D, H, W)); `rank` is the spatial rank 1..3 ---

// The delta: one tap of weight 1 (shape 1 on every axis).
Tensor identity(int rank);
// Normalised box / moving average: size^rank taps of 1/size^rank (OpenCV blur, scipy uniform_filter).
Tensor box(int rank, int64_t size);
// Gaussian, the outer product of OpenCV's getGaussianKernel(size, sigma) on every axis: taps
// exp(-(i - (size-1)/2)^2 / (2 sigma^2)) normalised to sum 1; sigma <= 0 means OpenCV's default
// 0.3*((size-1)*0.5 - 1) + 0.8, and odd sizes up to 7 with sigma <= 0 use OpenCV's fixed tables.
Tensor gaussian(int rank, int64_t size, double sigma);
// Laplacian (scipy.ndimage.laplace; OpenCV Laplacian ksize=1): sum of second differences [1, -2, 1]
// along every axis, so centre -2*rank and +1 at the 2*rank face neighbours. 2D: [[0,1,0],[1,-4,1],[0,1,0]].
Tensor laplacian(int rank);
// Edge ("outline"): -1 everywhere in 3^rank, centre 3^rank - 1, so flat regions give 0 and edges stand
// out bright. 2D: [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]] (Wikipedia "Kernel (image processing)", edge detection).
Tensor edge(int rank);
// Sharpen = identity - laplacian: centre 1 + 2*rank, -1 at the face neighbours, sum 1.
// 2D: [[0,-1,0],[-1,5,-1],[0,-1,0]] (GIMP "Convolution matrix" sharpen, Wikipedia).
Tensor sharpen(int rank);
// Sobel derivative along spatial axis `axis` (0-based in (D, H, W) order of this rank): the central
// difference [-1, 0, 1] along that axis times the smoothing [1, 2, 1] along every other one, exactly
// scipy.ndimage.sobel. 2D along W (sobel-x): [[-1,0,1],[-2,0,2],[-1,0,1]] (OpenCV Sobel dx=1, ksize=3).
Tensor sobel(int rank, int axis);
// Emboss (rank 2 or 3): the tap at offset o in {-1,0,1}^rank is o_1 + ... + o_rank, the centre is 1.
// 2D: [[-2,-1,0],[-1,1,1],[0,1,2]] (GIMP "Convolution matrix" emboss).
Tensor emboss(int rank);

// --- Named filters, as the CLI takes them: "NAME" or "NAME:P1,P2" ---

// A filter resolved for one spatial rank: one kernel, or (sobel) one derivative kernel per axis whose
// results combine into the gradient magnitude sqrt(sum_i (x * k_i)^2) (scipy.ndimage.generic_gradient_magnitude
// with sobel; in 2D the OpenCV tutorial's sqrt(Gx^2 + Gy^2)).
struct Filter {
  std::string name{};             // as given, e.g. "gaussian:5,1.5"
  std::vector<Tensor> kernels{};  // each of the spatial rank, e.g. (3, 3)
  bool magnitude = false;
};

// Every name with its parameters and defaults, one per line, for --help and error messages:
//   identity | box[:size=3] | gaussian[:size=5[,sigma=auto]] | sharpen | laplacian | edge | sobel-x |
//   sobel-y (2D, 3D) | sobel-z (3D) | sobel (gradient magnitude) | emboss (2D, 3D) | smooth[:size=5] (1D)
// smooth is the moving average of a signal (numpy.convolve(x, ones(size)/size)), box for rank 1.
std::string catalogue();

// Parses "NAME" or "NAME:P1,P2,..." into the filter for data of spatial rank `rank`. Errors name the
// text, the parameter and what was expected (unknown names list the catalogue).
Filter named(std::string_view text, int rank);

// A user kernel of rank <= `rank`, lifted to `rank` by leading axes of size 1 (numpy broadcasting:
// a row [1, 2, 1] used on an image is a 1x3 horizontal filter).
Filter custom(std::string name, const Tensor& kernel, int rank);

struct Options {
  Padding padding = Padding::same();                // output as large as the input (stride 1)
  PaddingMode padding_mode = PaddingMode::reflect;  // OpenCV's default border, BORDER_REFLECT_101
  std::vector<int64_t> stride{};
  std::vector<int64_t> dilation{};
  bool flip = false;  // true convolution: every kernel reversed on every axis
  Accuracy accuracy = Accuracy::fast;  // strict: no FFT for long kernels (see convkit::Accuracy)
};

// The depthwise convolution that applies `kernel` (spatial shape) to each of `channels` channels:
// groups = in_channels = out_channels = channels, weight (C, 1, k...) (for conv_cost, or a ConvPlan).
ConvSpec depthwise_spec(const Tensor& kernel, int64_t channels, const Options& options);

// Applies `filter` to every channel of `x` (C, spatial...) separately: a depthwise convolution
// (groups = C, the same kernel for each channel) run through a ConvPlan. Returns (C, spatial_out...).
Tensor apply(const Filter& filter, ConstTensorView x, const Options& options = {});

}  // namespace convkit::filters
