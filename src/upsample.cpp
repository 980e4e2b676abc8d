// Fixed upsamplers, written from PyTorch's documented index rules (include/tconv/upsample.hpp).
#include "tconv/upsample.hpp"

#include <cmath>

#include "tconv/error.hpp"
#include "tconv/ops.hpp"
#include "util.hpp"

namespace tconv::upsample {

using detail::cat;
using detail::prod;

Mode mode(const std::string& n) {
    if (n == "nearest") return Mode::nearest;
    if (n == "linear" || n == "bilinear" || n == "trilinear") return Mode::linear;
    if (n == "cubic" || n == "bicubic") return Mode::cubic;
    throw Error("unknown interpolation mode '" + n + "': use nearest, linear (bilinear), or cubic (bicubic)");
}

std::string name(Mode m) { return m == Mode::nearest ? "nearest" : m == Mode::linear ? "linear" : "cubic"; }

namespace {

void check_data(const Dims& shape, const char* what) {
    if (shape.size() < 3) throw Error(cat(what, " must have shape (N, C, spatial...) with at least one spatial axis, got (", dims_str(shape, ','), ")"));
    shape_elems(shape, what);
}

// For one axis: every output index's source indices and weights.
struct Taps {
    std::vector<std::vector<std::pair<int64_t, double>>> at;
};

template <class T>
Taps axis_taps(int64_t in, int64_t out, Mode m, bool align) {
    Taps t;
    t.at.resize(static_cast<size_t>(out));
    const auto clampi = [&](int64_t v) { return std::min<int64_t>(std::max<int64_t>(v, 0), in - 1); };
    for (int64_t j = 0; j < out; ++j) {
        auto& w = t.at[static_cast<size_t>(j)];
        if (m == Mode::nearest) {  // PyTorch's nearest_idx, in float as it computes it
            int64_t src;
            if (out == in) src = j;
            else if (out == 2 * in) src = j >> 1;
            else src = std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<float>(j) * (static_cast<float>(in) / static_cast<float>(out)))), in - 1);
            w.push_back({src, 1.0});
            continue;
        }
        const T scale = align ? (out > 1 ? T(in - 1) / T(out - 1) : T(0)) : T(in) / T(out);
        if (m == Mode::linear) {
            T src = align ? scale * T(j) : scale * (T(j) + T(0.5)) - T(0.5);
            if (!align && src < 0) src = 0;
            const int64_t x0 = static_cast<int64_t>(src);
            const int64_t x1 = x0 + (x0 < in - 1 ? 1 : 0);
            const T l1 = src - T(x0), l0 = T(1) - l1;
            w.push_back({x0, double(l0)});
            w.push_back({x1, double(l1)});
        } else {
            const T src = align ? scale * T(j) : scale * (T(j) + T(0.5)) - T(0.5);
            const T fl = std::floor(src);
            const int64_t x0 = static_cast<int64_t>(fl);
            const T x = src - fl;
            const T A = T(-0.75);
            auto cc1 = [&](T v) { return ((A + 2) * v - (A + 3)) * v * v + 1; };
            auto cc2 = [&](T v) { return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A; };
            const T c[4] = {cc2(x + 1), cc1(x), cc1(1 - x), cc2(2 - x)};
            for (int q = 0; q < 4; ++q) w.push_back({clampi(x0 - 1 + q), double(c[q])});
        }
    }
    return t;
}

// Resample one axis of a (lead, n, trail) array.
template <class T>
std::vector<T> along(const std::vector<T>& x, int64_t lead, int64_t n, int64_t trail, const Taps& taps) {
    const int64_t m = static_cast<int64_t>(taps.at.size());
    std::vector<T> y(static_cast<size_t>(lead * m * trail), T(0));
    for (int64_t a = 0; a < lead; ++a)
        for (int64_t j = 0; j < m; ++j)
            for (int64_t b = 0; b < trail; ++b) {
                T acc = 0;
                for (const auto& [src, wt] : taps.at[static_cast<size_t>(j)]) acc += T(wt) * x[static_cast<size_t>((a * n + src) * trail + b)];
                y[static_cast<size_t>((a * m + j) * trail + b)] = acc;
            }
    return y;
}

// The adjoint of along(): each output gradient is sent back to the sources it was read from, with the
// same weights (the transpose of the resampling matrix).
template <class T>
std::vector<T> along_adjoint(const std::vector<T>& dy, int64_t lead, int64_t n, int64_t trail, const Taps& taps) {
    const int64_t m = static_cast<int64_t>(taps.at.size());
    std::vector<T> dx(static_cast<size_t>(lead * n * trail), T(0));
    for (int64_t a = 0; a < lead; ++a)
        for (int64_t j = 0; j < m; ++j)
            for (const auto& [src, wt] : taps.at[static_cast<size_t>(j)])
                for (int64_t b = 0; b < trail; ++b)
                    dx[static_cast<size_t>((a * n + src) * trail + b)] += T(wt) * dy[static_cast<size_t>((a * m + j) * trail + b)];
    return dx;
}

}  // namespace

template <class T>
Tensor<T> interpolate_backward(View<const T> dy, const Dims& in_size, Mode m, bool align) {
    check_data(dy.shape, "output gradient");
    const int r = static_cast<int>(dy.shape.size()) - 2;
    if (static_cast<int>(in_size.size()) != r)
        throw Error(cat("in_size has ", in_size.size(), " values; the output gradient has ", r, " spatial axes"));
    for (int a = 0; a < r; ++a)
        if (in_size[a] <= 0) throw Error(detail::at("in_size", a, in_size[a]) + " must be positive");
    std::vector<T> cur(dy.data, dy.data + prod(dy.shape));
    Dims shape = dy.shape;
    for (int a = r - 1; a >= 0; --a) {  // the forward pass resampled axes 0..r-1 in order: undo them in reverse
        const int64_t lead = prod(Dims(shape.begin(), shape.begin() + 2 + a));
        const int64_t trail = prod(Dims(shape.begin() + 3 + a, shape.end()));
        cur = along_adjoint(cur, lead, in_size[a], trail, axis_taps<T>(in_size[a], shape[2 + a], m, align));
        shape[2 + a] = in_size[a];
    }
    Tensor<T> dx;
    dx.shape = shape;
    dx.data = std::move(cur);
    return dx;
}

template <class T>
Tensor<T> interpolate(View<const T> x, const Dims& size, Mode m, bool align) {
    check_data(x.shape, "input");
    const int r = static_cast<int>(x.shape.size()) - 2;
    if (static_cast<int>(size.size()) != r)
        throw Error(cat("size has ", size.size(), " values; the input has ", r, " spatial axes"));
    for (int a = 0; a < r; ++a) {
        if (size[a] <= 0) throw Error(detail::at("size", a, size[a]) + " must be positive");
        if (x.shape[2 + a] <= 0) throw Error(cat("input axis ", 2 + a, " is empty"));
    }
    Dims out_shape(x.shape.begin(), x.shape.begin() + 2);
    out_shape.insert(out_shape.end(), size.begin(), size.end());
    shape_elems(out_shape, "output");
    std::vector<T> cur(x.data, x.data + prod(x.shape));
    Dims shape = x.shape;
    for (int a = 0; a < r; ++a) {
        const int64_t lead = prod(Dims(shape.begin(), shape.begin() + 2 + a));
        const int64_t trail = prod(Dims(shape.begin() + 3 + a, shape.end()));
        cur = along(cur, lead, shape[2 + a], trail, axis_taps<T>(shape[2 + a], size[a], m, align));
        shape[2 + a] = size[a];
    }
    Tensor<T> y;
    y.shape = shape;
    y.data = std::move(cur);
    return y;
}

namespace {

// The one index map of pixel shuffle: for image n, small-side channel c*r^rank + sub at position pos and
// large-side channel c at position q (q = pos*r + sub per axis), calls f(small_flat, large_flat).
template <class F>
void shuffle_pairs(int64_t N, int64_t C, int64_t r, int64_t rr, const Dims& in, const Dims& out, F&& f) {
    const int rank = static_cast<int>(in.size());
    const int64_t isz = prod(in), osz = prod(out);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
            detail::for_each_index(out, [&](const int64_t* q) {
                int64_t sub = 0, pos = 0, flat_out = 0;
                for (int a = 0; a < rank; ++a) {
                    sub = sub * r + q[a] % r;
                    pos = pos * in[a] + q[a] / r;
                    flat_out = flat_out * out[a] + q[a];
                }
                f(static_cast<size_t>((n * C * rr + c * rr + sub) * isz + pos), static_cast<size_t>((n * C + c) * osz + flat_out));
            });
}

int64_t power(int64_t r, int rank, const char* what) {
    if (r <= 0) throw Error(cat(what, " r=", r, " must be positive"));
    int64_t rr = 1;
    for (int a = 0; a < rank; ++a) rr = detail::mul(rr, r, "r^rank");
    return rr;
}

}  // namespace

template <class T>
Tensor<T> pixel_shuffle(View<const T> x, int64_t r) {
    check_data(x.shape, "input");
    const int rank = static_cast<int>(x.shape.size()) - 2;
    const int64_t rr = power(r, rank, "upscale factor");
    if (x.shape[1] % rr != 0)
        throw Error(cat("pixel shuffle needs C divisible by r^", rank, " = ", rr, "; the input has C=", x.shape[1]));
    const int64_t N = x.shape[0], C = x.shape[1] / rr;
    const Dims in(x.shape.begin() + 2, x.shape.end());
    Dims out = in;
    for (auto& v : out) v = detail::mul(v, r, "output size");
    Dims shape{N, C};
    shape.insert(shape.end(), out.begin(), out.end());
    Tensor<T> y(shape);
    shuffle_pairs(N, C, r, rr, in, out, [&](size_t small, size_t large) { y.data[large] = x.data[small]; });
    return y;
}

template <class T>
Tensor<T> pixel_unshuffle(View<const T> y, int64_t r) {
    check_data(y.shape, "input");
    const int rank = static_cast<int>(y.shape.size()) - 2;
    const int64_t rr = power(r, rank, "downscale factor");
    const Dims out(y.shape.begin() + 2, y.shape.end());
    Dims in = out;
    for (int a = 0; a < rank; ++a) {
        if (out[a] % r != 0) throw Error(cat("pixel unshuffle needs every spatial size divisible by r=", r, "; axis ", a, " has ", out[a]));
        in[a] = out[a] / r;
    }
    const int64_t N = y.shape[0], C = y.shape[1];
    Dims shape{N, detail::mul(C, rr, "channels")};
    shape.insert(shape.end(), in.begin(), in.end());
    Tensor<T> x(shape);
    shuffle_pairs(N, C, r, rr, in, out, [&](size_t small, size_t large) { x.data[small] = y.data[large]; });
    return x;
}

std::vector<double> bilinear_kernel(int64_t f, int rank) {
    if (f <= 0) throw Error(cat("factor=", f, " must be positive"));
    const int64_t k = 2 * f - f % 2, factor = (k + 1) / 2;
    const double centre = k % 2 == 1 ? double(factor - 1) : double(factor) - 0.5;
    std::vector<double> w1(static_cast<size_t>(k));
    for (int64_t t = 0; t < k; ++t) w1[t] = 1 - std::fabs(double(t) - centre) / double(factor);
    std::vector<double> w{1.0};
    for (int a = 0; a < rank; ++a) {
        std::vector<double> next;
        for (double u : w)
            for (double v : w1) next.push_back(u * v);
        w = std::move(next);
    }
    return w;
}

Problem bilinear_problem(int64_t channels, const Dims& in, int64_t f) {
    if (f <= 0) throw Error(cat("factor=", f, " must be positive"));
    const int64_t k = 2 * f - f % 2;
    return pytorch_problem(1, channels, channels, in, {k}, {f}, {(f - f % 2) / 2}, {0}, channels);
}

std::vector<double> bilinear_weights(int64_t channels, int64_t f, int rank) {
    const auto k = bilinear_kernel(f, rank);
    std::vector<double> w;
    for (int64_t c = 0; c < channels; ++c) w.insert(w.end(), k.begin(), k.end());
    return w;
}

template <class T>
Tensor<T> resize_convolution(View<const T> x, int64_t f, const Dims& k, const std::vector<double>& kernel) {
    check_data(x.shape, "input");
    if (f <= 0) throw Error(cat("factor=", f, " must be positive"));
    const int rank = static_cast<int>(x.shape.size()) - 2;
    const Dims kk = broadcast(k, rank, "kernel");
    if (static_cast<int64_t>(kernel.size()) != prod(kk))
        throw Error(cat("the kernel has ", kernel.size(), " values; a ", dims_str(kk, 'x'), " kernel needs ", prod(kk)));
    Dims up;
    for (int a = 0; a < rank; ++a) up.push_back(detail::mul(x.shape[2 + a], f, "upsampled size"));
    const Tensor<T> near = interpolate<T>(x, up, Mode::nearest);
    Problem p;
    p.kind = Kind::conv;
    p.mb = x.shape[0];
    p.ic = p.oc = p.g = x.shape[1];
    p.i = up;
    p.k = kk;
    p.s = p.d = Dims(rank, 1);
    p.op = Dims(rank, 0);
    for (int a = 0; a < rank; ++a) {
        p.pb.push_back((kk[a] - 1) / 2);
        p.pe.push_back(kk[a] - 1 - (kk[a] - 1) / 2);
    }
    p.validate();
    std::vector<T> w;
    for (int64_t c = 0; c < p.oc; ++c)
        for (double v : kernel) w.push_back(static_cast<T>(v));
    Tensor<T> y(p.dst_shape());
    conv<T>(p, near.view(), {w.data(), p.wei_shape()}, {}, y.view());
    return y;
}

template Tensor<float> interpolate<float>(View<const float>, const Dims&, Mode, bool);
template Tensor<double> interpolate<double>(View<const double>, const Dims&, Mode, bool);
template Tensor<float> pixel_shuffle<float>(View<const float>, int64_t);
template Tensor<float> pixel_unshuffle<float>(View<const float>, int64_t);
template Tensor<double> pixel_unshuffle<double>(View<const double>, int64_t);
template Tensor<float> interpolate_backward<float>(View<const float>, const Dims&, Mode, bool);
template Tensor<double> interpolate_backward<double>(View<const double>, const Dims&, Mode, bool);
template Tensor<double> pixel_shuffle<double>(View<const double>, int64_t);
template Tensor<float> resize_convolution<float>(View<const float>, int64_t, const Dims&, const std::vector<double>&);
template Tensor<double> resize_convolution<double>(View<const double>, int64_t, const Dims&, const std::vector<double>&);

}  // namespace tconv::upsample
