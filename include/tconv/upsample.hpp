// The fixed upsamplers a transposed convolution is compared with, equal to PyTorch's:
//   interpolate      F.interpolate(mode = nearest | (bi/tri)linear | bicubic, align_corners) on (N, C, spatial...)
//   pixel_shuffle    F.pixel_shuffle / nn.PixelShuffle (sub-pixel convolution's rearrangement), any rank
//   bilinear_kernel  FCN's fixed bilinear kernel for a transposed convolution upsampling by an integer factor
// and the problems that run them as transposed or regular convolutions:
//   bilinear_problem    the depthwise transposed convolution with FCN's kernel (output = factor x input)
//   resize_convolution  nearest upsampling, then a stride-1 convolution with 'same' padding (Odena et al.)
#pragma once

#include <string>
#include <vector>

#include "tconv/problem.hpp"
#include "tconv/tensor.hpp"

namespace tconv::upsample {

enum class Mode { nearest, linear, cubic };
// "nearest", "linear" (also "bilinear", "trilinear"), "cubic" (also "bicubic"); throws listing them.
Mode mode(const std::string& name);
std::string name(Mode m);

// x (N, C, spatial...) resized to `size` (spatial). align_corners applies to linear and cubic only (as in
// PyTorch, where nearest ignores it). Bicubic uses PyTorch's A = -0.75 and clamps reads at the border.
template <class T>
Tensor<T> interpolate(View<const T> x, const Dims& size, Mode mode, bool align_corners = false);

// The gradient of interpolate: dy (N, C, size...) sent back to the input (N, C, in_size...) through the
// same weights (the adjoint, as torch.autograd computes it).
template <class T>
Tensor<T> interpolate_backward(View<const T> dy, const Dims& in_size, Mode mode, bool align_corners = false);

// (N, C*r^rank, spatial...) -> (N, C, spatial*r...): output position q*r + j takes input channel
// c*r^rank + (j as an index in r^rank), position q.
template <class T>
Tensor<T> pixel_shuffle(View<const T> x, int64_t r);

// The inverse permutation (F.pixel_unshuffle): (N, C, spatial*r...) -> (N, C*r^rank, spatial...); also the
// gradient of pixel_shuffle.
template <class T>
Tensor<T> pixel_unshuffle(View<const T> y, int64_t r);

// FCN's kernel: size 2f - f%2 per axis, w[t] = prod over axes of (1 - |t - c| / ceil(size/2)) with c the
// kernel's centre; `rank` axes.
std::vector<double> bilinear_kernel(int64_t factor, int rank);
// The transposed convolution that upsamples (N, C, in...) by `factor` with that kernel: depthwise
// (groups = C), stride f, padding (f - f%2)/2, so the output is exactly f x in.
Problem bilinear_problem(int64_t channels, const Dims& in, int64_t factor);
// Weights (C, 1, k...) for bilinear_problem.
std::vector<double> bilinear_weights(int64_t channels, int64_t factor, int rank);

// Resize-convolution: nearest upsampling by `factor`, then a depthwise stride-1 convolution with the
// given kernel (k..., one per channel, the same for all) and 'same' padding (PyTorch padding='same':
// the odd extra pixel of an even kernel at the end).
template <class T>
Tensor<T> resize_convolution(View<const T> x, int64_t factor, const Dims& k, const std::vector<double>& kernel);

}  // namespace tconv::upsample
