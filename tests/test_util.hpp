// Helpers shared by the tests: deterministic fills, running any algorithm in any direction, shape files.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tconv/tconv.hpp"

namespace tconv::test {

// The message of the tconv::Error that f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}
#define EXPECT_ERROR(stmt, text) \
    EXPECT_NE(::tconv::test::error_of([&] { stmt; }).find(text), std::string::npos) << ::tconv::test::error_of([&] { stmt; })

// Small integers in [-range, range]: float32 sums of such products stay exact for the test sizes.
template <class T>
Tensor<T> small_ints(const Dims& shape, uint64_t seed, int range = 3) {
    Tensor<T> t(shape);
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> dist(-range, range);
    for (T& v : t.data) v = static_cast<T>(dist(rng));
    return t;
}

template <class T>
Tensor<T> uniform(const Dims& shape, uint64_t seed) {
    Tensor<T> t(shape);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    for (T& v : t.data) v = static_cast<T>(dist(rng));
    return t;
}

template <class T>
Tensor<T> make(const Dims& shape, std::vector<T> values) {
    Tensor<T> t(shape);
    EXPECT_EQ(t.data.size(), values.size());
    t.data = std::move(values);
    return t;
}

// The same tensor (mb, c, spatial...) with its channel axis moved last: (mb, spatial..., c). Written here
// with plain index arithmetic, independently of the library's own conversion.
template <class T>
Tensor<T> channels_last(const Tensor<T>& t) {
    const int64_t mb = t.shape[0], c = t.shape[1], sp = t.size() / std::max<int64_t>(1, mb * c);
    Dims shape(t.shape.begin() + 2, t.shape.end());
    shape.insert(shape.begin(), mb);
    shape.push_back(c);
    Tensor<T> r(shape);
    for (int64_t n = 0; n < mb; ++n)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t x = 0; x < sp; ++x) r.data[static_cast<size_t>((n * sp + x) * c + ch)] = t.data[static_cast<size_t>((n * c + ch) * sp + x)];
    return r;
}

// One computation of a transposed problem by a named algorithm (data in o.layout).
template <class T>
Tensor<T> forward(const Problem& p, const Tensor<T>& src, const Tensor<T>& wei, const Tensor<T>* bia,
                  const std::string& algorithm, Options o = {}) {
    Tensor<T> dst(data_shape(p.dst_shape(), o.layout), T(12345));  // sentinel: every element must be overwritten
    o.algorithm = algorithm;
    conv_transpose<T>(p, src.view(), wei.view(), bia ? bia->view() : View<const T>{}, dst.view(), o);
    return dst;
}

// winograd's F(6,2) (along the last axis of 1-D layers) rounds: its results are compared within 64 epsilons of
// the output's largest sum of |terms| (the scatter reference run on |src|, |wei| and |bias|), below the 1 that a
// term missed or added costs on small integers for every layer the tests use (checked by the callers).
template <class T>
double f62_tolerance(const Problem& p, const Tensor<T>& src, const Tensor<T>& wei, const Tensor<T>* bia) {
    auto absolute = [](Tensor<T> t) {
        for (T& v : t.data) v = std::abs(v);
        return t;
    };
    const Tensor<T> abia = bia ? absolute(*bia) : Tensor<T>{};
    const auto mag = forward<T>(p, absolute(src), absolute(wei), bia ? &abia : nullptr, "scatter");
    return 64 * static_cast<double>(std::numeric_limits<T>::epsilon()) *
           static_cast<double>(*std::max_element(mag.data.begin(), mag.data.end()));
}

template <class T>
Tensor<T> backward_data(const Problem& p, const Tensor<T>& diff_dst, const Tensor<T>& wei, const std::string& algorithm,
                        Options o) {
    Tensor<T> diff_src(data_shape(p.src_shape(), o.layout), T(12345));
    o.algorithm = algorithm;
    conv_transpose_backward_data<T>(p, diff_dst.view(), wei.view(), diff_src.view(), o);
    return diff_src;
}
template <class T>
Tensor<T> backward_data(const Problem& p, const Tensor<T>& diff_dst, const Tensor<T>& wei, const std::string& algorithm,
                        Layout layout = Layout::channels_first) {
    Options o;
    o.layout = layout;
    return backward_data(p, diff_dst, wei, algorithm, o);
}

template <class T>
std::pair<Tensor<T>, Tensor<T>> backward_weights(const Problem& p, const Tensor<T>& src, const Tensor<T>& diff_dst,
                                                 const std::string& algorithm, Options o) {
    Tensor<T> diff_wei(p.wei_shape(), T(12345));
    Tensor<T> diff_bia(p.bias ? Dims{p.oc} : Dims{0}, T(12345));
    o.algorithm = algorithm;
    conv_transpose_backward_weights<T>(p, src.view(), diff_dst.view(), diff_wei.view(),
                                       p.bias ? diff_bia.view() : View<T>{}, o);
    return {diff_wei, diff_bia};
}
template <class T>
std::pair<Tensor<T>, Tensor<T>> backward_weights(const Problem& p, const Tensor<T>& src, const Tensor<T>& diff_dst,
                                                 const std::string& algorithm, Layout layout = Layout::channels_first) {
    Options o;
    o.layout = layout;
    return backward_weights(p, src, diff_dst, algorithm, o);
}

// Names of the algorithms that implement and support a direction for this problem.
std::vector<std::string> supporting(const Problem& p, Direction dir);

// Problems listed in a shape file under tests/shapes (one canonical string per line, '#' comments).
std::vector<std::string> read_shapes(const std::string& file);

std::string data_path(const std::string& rel);

// Runs a shell command, returning its exit status and filling `out` with stdout and stderr.
int run_command(const std::string& cmd, std::string& out);

}  // namespace tconv::test
