// The operations: transposed convolution forward and its gradients, and the regular convolution forward
// and its gradients. Tensors are dense and C-contiguous (NC + spatial; weights as documented on Kind);
// every shape is checked against the problem, and a mismatch is a tconv::Error naming the tensor.
#pragma once

#include <iosfwd>
#include <string>

#include "tconv/algorithm.hpp"
#include "tconv/problem.hpp"
#include "tconv/tensor.hpp"

namespace tconv {

// An elementwise function applied to the forward result after the bias, in the same pass where the
// algorithm allows (the phase engine), otherwise in a second pass.
struct Epilogue {
    enum class Kind { none, relu, leaky_relu, tanh, sigmoid, clamp };
    Kind kind = Kind::none;
    double alpha = 0.01;           // leaky_relu: negative slope
    double lo = 0.0, hi = 6.0;     // clamp bounds
};

// Where the channel axis of the data tensors (src, dst and their gradients) lies. Weights and bias keep
// their layouts. channels_last is PyTorch's channels_last memory format, oneDNN's nwc/nhwc/ndhwc and
// XNNPACK's NHWC: (mb, spatial..., channels) for any rank.
enum class Layout { channels_first, channels_last };

// A data shape (mb, c, spatial...) in a layout: unchanged for channels_first, (mb, spatial..., c) for
// channels_last.
Dims data_shape(const Dims& nc_shape, Layout layout);

// Copies a data tensor of at least 3 axes from one layout to the other: `in` has its shape in `from`,
// `out` must have the same tensor's shape in `to`. Throws tconv::Error naming the mismatch.
template <class T>
void convert_layout(View<const T> in, Layout from, View<T> out, Layout to);

struct Options {
    std::string algorithm = "auto";  // or a name from algorithms()
    std::ostream* log = nullptr;     // when set: the choice and every refusal are printed here
    int threads = 0;                 // 0: every core (OpenMP's default); results do not depend on it
    std::string simd;                // phase engine's SIMD target ("AVX3", "AVX2", "EMU128"...); empty: the best
    Epilogue epilogue;               // forward only
    Layout layout = Layout::channels_first;  // of src, dst, diff_src, diff_dst
    // The one-call forward (conv_transpose, and conv's backward_data) keeps, per thread, the packed weights of
    // the last layers it ran (up to 8 plans, 256 MiB; weights up to 64 MiB), each with a 128-bit digest of the
    // weights and bias it packed, and reuses them while the digest of the weights given is unchanged (reading
    // the weights once instead of packing them). Weights that change at the same address on two calls in a row
    // (training) are packed on every call and digested only every 17th call. false: pack on every call, keep
    // nothing.
    bool reuse_weights = true;
};

// What the one-call forward keeps on the calling thread (Options::reuse_weights) and how its calls went since
// the thread's first call or clear_weight_cache().
struct WeightCacheStats {
    size_t plans = 0;      // layers kept (prepared plans)
    size_t bytes = 0;      // their packed weights
    uint64_t hits = 0;     // calls that ran a kept plan (the weights' digest unchanged)
    uint64_t misses = 0;   // calls that prepared a plan (and kept it, where it fits)
    uint64_t skipped = 0;  // calls packed as without reuse: weights that keep changing, or over 64 MiB
};
WeightCacheStats weight_cache_stats();

// Frees the packed weights that the one-call forward keeps on the calling thread and zeroes its counts.
void clear_weight_cache();

// Applies an epilogue to n values in place.
template <class T>
void apply_epilogue(const Epilogue& e, T* data, int64_t n);

// Shapes below are written channels-first; with Options::layout = channels_last every data tensor has its
// channel axis last instead (see data_shape), and the results are the same numbers.

// Transposed convolution (p.kind == Kind::transposed).
//   dst (mb, oc, o...) = T(src (mb, ic, i...); wei (ic, oc/g, k...)) + bia (oc)
// `bia` must be given exactly when p.bias is set.
template <class T>
void conv_transpose(const Problem& p, View<const T> src, View<const T> wei, View<const T> bia, View<T> dst,
                    const Options& opt = {});

// Gradient with respect to the input: diff_src (mb, ic, i...). A regular convolution of diff_dst.
template <class T>
void conv_transpose_backward_data(const Problem& p, View<const T> diff_dst, View<const T> wei, View<T> diff_src,
                                  const Options& opt = {});

// Gradients with respect to the weights (ic, oc/g, k...) and, when p.bias, the bias (oc).
template <class T>
void conv_transpose_backward_weights(const Problem& p, View<const T> src, View<const T> diff_dst,
                                     View<T> diff_wei, View<T> diff_bia, const Options& opt = {});

// Regular convolution (p.kind == Kind::conv), the adjoint of the transposed convolution:
//   dst (mb, oc, o...) = conv(src (mb, ic, i...); wei (oc, ic/g, k...)) + bia (oc)
template <class T>
void conv(const Problem& p, View<const T> src, View<const T> wei, View<const T> bia, View<T> dst,
          const Options& opt = {});

template <class T>
void conv_backward_data(const Problem& p, View<const T> diff_dst, View<const T> wei, View<T> diff_src,
                        const Options& opt = {});

template <class T>
void conv_backward_weights(const Problem& p, View<const T> src, View<const T> diff_dst, View<T> diff_wei,
                           View<T> diff_bia, const Options& opt = {});

}  // namespace tconv
