// Overlap counts and per-phase weight sums (include/tconv/checkerboard.hpp).
#include "tconv/checkerboard.hpp"

#include <algorithm>
#include <cmath>

#include "tconv/error.hpp"
#include "tconv/ops.hpp"
#include "util.hpp"

namespace tconv::checkerboard {

using detail::cat;
using detail::floor_div;
using detail::for_each_index;
using detail::prod;

double unevenness(const std::vector<double>& v) {
    if (v.empty()) return 0;
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double scale = std::max(std::fabs(*lo), std::fabs(*hi));
    return scale == 0 ? 0 : (*hi - *lo) / scale;
}

namespace {

Map finish(Dims shape, std::vector<double> values) {
    Map m;
    m.shape = std::move(shape);
    m.values = std::move(values);
    if (!m.values.empty()) {
        m.min = *std::min_element(m.values.begin(), m.values.end());
        m.max = *std::max_element(m.values.begin(), m.values.end());
        double sum = 0;
        for (double x : m.values) sum += x;
        m.mean = sum / static_cast<double>(m.values.size());
    }
    m.unevenness = unevenness(m.values);
    return m;
}

int64_t flat(const int64_t* idx, const Dims& ext) {
    int64_t f = 0;
    for (size_t a = 0; a < ext.size(); ++a) f = f * ext[a] + idx[a];
    return f;
}

void check_stack(const std::vector<Problem>& stack) {
    if (stack.empty()) throw Error("the stack of layers is empty: give at least one layer");
    for (size_t l = 0; l < stack.size(); ++l) {
        if (stack[l].kind != Kind::transposed) throw Error(cat("layer ", l, " is a regular convolution, not a transposed one"));
        if (stack[l].rank() != stack[0].rank())
            throw Error(cat("layer ", l, " has ", stack[l].rank(), " spatial axes but layer 0 has ", stack[0].rank()));
    }
}

// One channel, ones kernel, the given input size.
Problem single(const Problem& p, const Dims& in) {
    Problem q = p;
    q.mb = q.ic = q.oc = q.g = 1;
    q.bias = false;
    q.i = in;
    return q;
}

}  // namespace

Map overlap(const Problem& p) { return overlap(std::vector<Problem>{p}); }

Map overlap(const std::vector<Problem>& stack) {
    check_stack(stack);
    Dims size = stack[0].i;
    std::vector<double> x(static_cast<size_t>(prod(size)), 1.0);
    for (size_t l = 0; l < stack.size(); ++l) {
        const Problem q = single(stack[l], size);
        try {
            q.validate();
        } catch (const Error& e) {
            throw Error(cat("layer ", l, " (reading ", dims_str(size, 'x'), "): ", e.what()));
        }
        std::vector<double> ones(static_cast<size_t>(prod(q.k)), 1.0), y(static_cast<size_t>(q.dst_elems()));
        Options opt;
        opt.algorithm = "scatter";
        conv_transpose<double>(q, {x.data(), q.src_shape()}, {ones.data(), q.wei_shape()}, {}, {y.data(), q.dst_shape()}, opt);
        x = std::move(y);
        size = q.o();
    }
    return finish(size, std::move(x));
}

Map pattern(const std::vector<Problem>& stack) {
    check_stack(stack);
    const int r = stack[0].rank();
    Dims period(r, 1);
    std::vector<double> in{1.0};
    for (const Problem& p : stack) {
        Dims next(r);
        for (int a = 0; a < r; ++a) next[a] = detail::mul(period[a], p.s[a], "the period of the stack");
        if (prod(next) > (int64_t(1) << 22)) throw Error("the stack's period " + dims_str(next, 'x') + " is too large to tabulate");
        std::vector<double> out(static_cast<size_t>(prod(next)), 0.0);
        for_each_index(next, [&](const int64_t* jj) {
            double acc = 0;
            for_each_index(p.k, [&](const int64_t* tt) {
                int64_t src = 0;
                for (int a = 0; a < r; ++a) {
                    const int64_t f = jj[a] + p.pb[a] - tt[a] * p.d[a];  // = i*s for the input position i
                    if (((f % p.s[a]) + p.s[a]) % p.s[a] != 0) return;
                    const int64_t i = floor_div(f, p.s[a]);
                    src = src * period[a] + ((i % period[a]) + period[a]) % period[a];
                }
                acc += in[static_cast<size_t>(src)];
            });
            out[static_cast<size_t>(flat(jj, next))] = acc;
        });
        period = std::move(next);
        in = std::move(out);
    }
    return finish(period, std::move(in));
}

Map weight_pattern(const Problem& p, const std::vector<double>& wei) {
    p.validate();
    if (static_cast<int64_t>(wei.size()) != p.wei_elems())
        throw Error(cat("weights have ", wei.size(), " values; the problem's weights (", dims_str(p.wei_shape(), ','), ") need ", p.wei_elems()));
    const int r = p.rank();
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g, ksz = prod(p.k), ssz = prod(p.s);
    std::vector<double> out(static_cast<size_t>(p.oc * ssz), 0.0);
    double worst = 0;
    for (int64_t oc = 0; oc < p.oc; ++oc) {
        for_each_index(p.s, [&](const int64_t* rr) {
            double acc = 0;
            for (int64_t il = 0; il < icg; ++il) {
                const int64_t ic = (oc / ocg) * icg + il;
                for_each_index(p.k, [&](const int64_t* tt) {
                    for (int a = 0; a < r; ++a) {
                        const int64_t f = rr[a] + p.pb[a] - tt[a] * p.d[a];
                        if (((f % p.s[a]) + p.s[a]) % p.s[a] != 0) return;
                    }
                    acc += wei[static_cast<size_t>((ic * ocg + oc % ocg) * ksz + flat(tt, p.k))];
                });
            }
            out[static_cast<size_t>(oc * ssz + flat(rr, p.s))] = acc;
        });
        worst = std::max(worst, unevenness(std::vector<double>(out.begin() + oc * ssz, out.begin() + (oc + 1) * ssz)));
    }
    Dims shape{p.oc};
    shape.insert(shape.end(), p.s.begin(), p.s.end());
    Map m = finish(shape, std::move(out));
    m.unevenness = worst;
    return m;
}

}  // namespace tconv::checkerboard
