// The four mental models, each written as its own literal algorithm (see include/tconv/explain.hpp).
#include "tconv/explain.hpp"

#include <algorithm>
#include <cmath>

#include "tconv/error.hpp"
#include "util.hpp"

namespace tconv::explain {

using detail::cat;
using detail::for_each_index;
using detail::prod;
using detail::row_major_strides;

namespace {

int64_t flat(const Dims& idx, const Dims& ext) {
    int64_t f = 0;
    for (size_t a = 0; a < idx.size(); ++a) f = f * ext[a] + idx[a];
    return f;
}
int64_t flat(const int64_t* idx, const Dims& ext) {
    int64_t f = 0;
    for (size_t a = 0; a < ext.size(); ++a) f = f * ext[a] + idx[a];
    return f;
}

Example make(std::string name, std::string source, std::string description, const char* problem,
             std::vector<double> src, std::vector<double> wei, std::vector<double> expected) {
    Example e{std::move(name), std::move(source), std::move(description), Problem::parse(problem),
              std::move(src), std::move(wei), {}, std::move(expected)};
    return e;
}

}  // namespace

const std::vector<Example>& examples() {
    static const std::vector<Example> list = [] {
        std::vector<Example> v;
        v.push_back(make("seed000-1d", "seed 000, '1D Example'",
                         "input [2,3], kernel [1,2,3], stride 2: each value lays a scaled kernel down, 2 apart",
                         "mb1_ic1_oc1_i2_k3_s2", {2, 3}, {1, 2, 3}, {2, 4, 9, 6, 9}));
        v.push_back(make("seed000-2d", "seed 000, '2D Example'",
                         "input [[1,2],[3,4]], a horizontal-edge kernel, stride 2, padding 1: 5x5 carved to 3x3",
                         "mb1_ic1_oc1_i2x2_k3_s2_p1", {1, 2, 3, 4}, {1, 1, 1, 0, 0, 0, -1, -1, -1},
                         {0, 0, 0, 2, 4, 2, 0, 0, 0}));
        v.push_back(make("seed001-1d", "seed 001, C_ij = k(s*y_i - x_j) (numbers chosen here to illustrate it)",
                         "the transpose of a stride-2 convolution with the centred kernel [0.5,1,0.5]: "
                         "linear interpolation",
                         "mb1_ic1_oc1_i3_k3_s2_p1", {1, 2, 3}, {0.5, 1, 0.5}, {1, 1.5, 2, 2.5, 3}));
        v.push_back(make("seed002", "seed 002, 'Transposed Convolution Matrix': C.T @ x2",
                         "the 2x2 x2 times the transpose of the 4x4-input convolution matrix: 4x4 "
                         "(kernel and x2 are pictures there; these are the unique small integers that give "
                         "both of its printed results)",
                         "mb1_ic1_oc1_i2x2_k3", {1, 3, 2, 3}, {2, 3, 2, 1, 4, 2, 3, 4, 1},
                         {2, 9, 11, 6, 5, 19, 27, 12, 5, 24, 29, 9, 6, 17, 14, 3}));
        v.push_back(make("seed003-ones", "seed 003, Mental Model #1 (Figure 4)",
                         "a 4x4 input of ones and a 3x3 kernel of ones: the overlap counts, edges get less",
                         "mb1_ic1_oc1_i4x4_k3", std::vector<double>(16, 1), std::vector<double>(9, 1),
                         {1, 2, 3, 3, 2, 1, 2, 4, 6, 6, 4, 2, 3, 6, 9, 9, 6, 3,
                          3, 6, 9, 9, 6, 3, 2, 4, 6, 6, 4, 2, 1, 2, 3, 3, 2, 1}));
        const std::vector<double> x3{1, 3, 2, 1, 1, 3, 3, 1, 2, 1, 1, 3, 3, 2, 3, 3};
        const std::vector<double> k3{1, 2, 3, 0, 1, 0, 2, 1, 2};
        const char* why = " (input and kernel are pictures there; these are the unique ones that give its printed output)";
        v.push_back(make("seed003", "seed 003, Mental Model #2 (Figures 6-10)",
                         std::string("a 4x4 input and a 3x3 kernel, no padding: the 6x6 full output") + why,
                         "mb1_ic1_oc1_i4x4_k3", x3, k3,
                         {1, 5, 11, 14, 8, 3, 1, 6, 15, 18, 12, 3, 4, 13, 21, 21, 15, 11,
                          5, 17, 28, 27, 25, 11, 4, 7, 9, 12, 8, 6, 6, 7, 14, 13, 9, 6}));
        v.push_back(make("seed003-padding", "seed 003, 'GNIDDAP!' (Figure 11)",
                         "the same with padding 2: the centre 2x2 of the 6x6 output", "mb1_ic1_oc1_i4x4_k3_p2", x3,
                         k3, {21, 21, 28, 27}));
        v.push_back(make("seed003-stride", "seed 003, 'SEDIRTS!' (Figures 12-13)",
                         "a 2x2 input and the same kernel with stride 2: 5x5, a fractional stride of 1/2",
                         "mb1_ic1_oc1_i2x2_k3_s2", {3, 3, 1, 1}, k3,
                         {3, 6, 12, 6, 9, 0, 3, 0, 3, 0, 7, 5, 16, 5, 9, 0, 1, 0, 1, 0, 2, 1, 4, 1, 2}));
        return v;
    }();
    return list;
}

const Example& example(const std::string& name) {
    std::string names;
    for (const auto& e : examples()) {
        if (e.name == name) return e;
        names += (names.empty() ? "" : ", ") + e.name;
    }
    throw Error("unknown example '" + name + "': the examples are " + names);
}

Dims Explanation::dst_shape() const {
    Dims s{p.oc};
    const Dims o = p.o();
    s.insert(s.end(), o.begin(), o.end());
    return s;
}

double Explanation::disagreement() const {
    double worst = 0;
    for (const auto* v : {&collect, &matrix, &gradient})
        for (size_t x = 0; x < distribute.size(); ++x) worst = std::max(worst, std::fabs((*v)[x] - distribute[x]));
    return worst;
}

namespace {

void check_limit(int64_t n, int64_t limit, const std::string& what) {
    if (n > limit)
        throw Error(cat(what, " has ", n, " elements; explain shows at most ", limit,
                        " (use a smaller problem, or `tconv run` for the result alone)"));
}

// distribute: every input value times the kernel, added at pos*s + k*d into the full output.
void distribute(Explanation& e) {
    const Problem& p = e.p;
    const int r = p.rank();
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
    const int64_t fsz = prod(e.full);
    e.full_out.assign(static_cast<size_t>(p.oc * fsz), 0.0);
    for (int64_t ic = 0; ic < p.ic; ++ic)
        for_each_index(p.i, [&](const int64_t* ii) {
            Explanation::Step st;
            st.ic = ic;
            st.pos.assign(ii, ii + r);
            st.value = e.src[ic * prod(p.i) + flat(ii, p.i)];
            st.at.resize(r);
            for (int a = 0; a < r; ++a) st.at[a] = ii[a] * p.s[a];
            const int64_t grp = ic / icg;
            for (int64_t ol = 0; ol < ocg; ++ol) {
                const int64_t oc = grp * ocg + ol;
                for_each_index(p.k, [&](const int64_t* kk) {
                    Dims f(r);
                    for (int a = 0; a < r; ++a) f[a] = ii[a] * p.s[a] + kk[a] * p.d[a];
                    e.full_out[oc * fsz + flat(f, e.full)] += st.value * e.wei[(ic * ocg + ol) * prod(p.k) + flat(kk, p.k)];
                });
            }
            st.running = e.full_out;
            e.steps.push_back(std::move(st));
        });
    // Carve: output position j of an axis is full position j + pb; beyond [0, F) nothing was distributed.
    const Dims o = p.o();
    const int64_t osz = prod(o);
    e.distribute.assign(static_cast<size_t>(p.oc * osz), 0.0);
    for (int64_t oc = 0; oc < p.oc; ++oc)
        for_each_index(o, [&](const int64_t* jj) {
            Dims f(r);
            bool inside = true;
            for (int a = 0; a < r; ++a) {
                f[a] = jj[a] + p.pb[a];
                inside = inside && f[a] >= 0 && f[a] < e.full[a];
            }
            double v = inside ? e.full_out[oc * fsz + flat(f, e.full)] : 0.0;
            if (!e.bia.empty()) v += e.bia[oc];
            e.distribute[oc * osz + flat(jj, o)] = v;
        });
}

// collect: insert s-1 zeros between input values, pad (or cut) by d*(k-1) - pb before and d*(k-1) - pe + op
// after, and correlate with the kernel turned 180 degrees (and dilated).
void collect(Explanation& e) {
    const Problem& p = e.p;
    const int r = p.rank();
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
    e.inserted.resize(r);
    e.lead.resize(r);
    e.trail.resize(r);
    e.padded_size.resize(r);
    e.k_eff.resize(r);
    for (int a = 0; a < r; ++a) {
        e.k_eff[a] = p.k_eff(a);
        e.inserted[a] = (p.i[a] - 1) * p.s[a] + 1;
        e.lead[a] = e.k_eff[a] - 1 - p.pb[a];
        e.trail[a] = e.k_eff[a] - 1 - p.pe[a] + p.op[a];
        e.padded_size[a] = e.inserted[a] + e.lead[a] + e.trail[a];
    }
    const int64_t psz = prod(e.padded_size), ksz = prod(e.k_eff);
    e.padded.assign(static_cast<size_t>(p.ic * psz), 0.0);
    e.padded_value.assign(e.padded.size(), 0);
    for (int64_t ic = 0; ic < p.ic; ++ic)
        for_each_index(p.i, [&](const int64_t* ii) {
            Dims q(r);
            for (int a = 0; a < r; ++a) {
                q[a] = ii[a] * p.s[a] + e.lead[a];
                if (q[a] < 0 || q[a] >= e.padded_size[a]) return;  // cut off by a negative lead/trail
            }
            e.padded[ic * psz + flat(q, e.padded_size)] = e.src[ic * prod(p.i) + flat(ii, p.i)];
            e.padded_value[ic * psz + flat(q, e.padded_size)] = 1;
        });
    e.flipped.assign(static_cast<size_t>(p.oc * icg * ksz), 0.0);
    e.flipped_tap.assign(e.flipped.size(), 0);
    for (int64_t oc = 0; oc < p.oc; ++oc)
        for (int64_t il = 0; il < icg; ++il) {
            const int64_t ic = (oc / ocg) * icg + il;
            for_each_index(p.k, [&](const int64_t* kk) {
                Dims t(r);
                for (int a = 0; a < r; ++a) t[a] = e.k_eff[a] - 1 - kk[a] * p.d[a];
                e.flipped[(oc * icg + il) * ksz + flat(t, e.k_eff)] =
                    e.wei[(ic * ocg + oc % ocg) * prod(p.k) + flat(kk, p.k)];
                e.flipped_tap[(oc * icg + il) * ksz + flat(t, e.k_eff)] = 1;
            });
        }
    const Dims o = p.o();
    const int64_t osz = prod(o);
    e.collect.assign(static_cast<size_t>(p.oc * osz), 0.0);
    for (int64_t oc = 0; oc < p.oc; ++oc)
        for_each_index(o, [&](const int64_t* jj) {
            double acc = e.bia.empty() ? 0.0 : e.bia[oc];
            for (int64_t il = 0; il < icg; ++il) {
                const int64_t ic = (oc / ocg) * icg + il;
                for_each_index(e.k_eff, [&](const int64_t* tt) {
                    Dims q(r);
                    for (int a = 0; a < r; ++a) q[a] = jj[a] + tt[a];
                    acc += e.padded[ic * psz + flat(q, e.padded_size)] * e.flipped[(oc * icg + il) * ksz + flat(tt, e.k_eff)];
                });
            }
            e.collect[oc * osz + flat(jj, o)] = acc;
        });
}

// matrix: C of the convolution (rows: small side, columns: large side); the transposed convolution is C^T x.
void matrix(Explanation& e) {
    Problem one = e.p;
    one.bias = false;
    e.C = conv_matrix<double>(one, e.wei.data());
    const SparseMatrix<double> Ct = e.C.transposed();
    e.matrix.assign(static_cast<size_t>(Ct.rows), 0.0);
    Ct.multiply(e.src.data(), e.matrix.data());
    if (!e.bia.empty()) {
        const int64_t osz = prod(e.p.o());
        for (int64_t x = 0; x < Ct.rows; ++x) e.matrix[x] += e.bia[x / osz];
    }
}

// gradient: the convolution y = K z, y[ic, i] = sum w[ic, oc, t] z[oc, s*i - pb + d*t], read literally;
// dL/dz_j = <dL/dy, K e_j> for each unit vector e_j of the large side, with dL/dy = src.
void gradient(Explanation& e) {
    const Problem& p = e.p;
    const int r = p.rank();
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
    const Dims o = p.o();
    const int64_t osz = prod(o), isz = prod(p.i);
    auto conv = [&](const std::vector<double>& z) {  // K z
        std::vector<double> y(static_cast<size_t>(p.ic * isz), 0.0);
        for (int64_t ic = 0; ic < p.ic; ++ic)
            for_each_index(p.i, [&](const int64_t* ii) {
                double acc = 0;
                for (int64_t ol = 0; ol < ocg; ++ol) {
                    const int64_t oc = (ic / icg) * ocg + ol;
                    for_each_index(p.k, [&](const int64_t* kk) {
                        Dims zj(r);
                        for (int a = 0; a < r; ++a) {
                            zj[a] = ii[a] * p.s[a] - p.pb[a] + kk[a] * p.d[a];
                            if (zj[a] < 0 || zj[a] >= o[a]) return;  // the convolution's zero padding
                        }
                        acc += e.wei[(ic * ocg + ol) * prod(p.k) + flat(kk, p.k)] * z[oc * osz + flat(zj, o)];
                    });
                }
                y[ic * isz + flat(ii, p.i)] = acc;
            });
        return y;
    };
    e.gradient.assign(static_cast<size_t>(p.oc * osz), 0.0);
    std::vector<double> unit(static_cast<size_t>(p.oc * osz), 0.0);
    for (size_t j = 0; j < unit.size(); ++j) {
        unit[j] = 1;
        const auto y = conv(unit);
        unit[j] = 0;
        double dot = 0;
        for (size_t x = 0; x < y.size(); ++x) dot += e.src[x] * y[x];
        e.gradient[j] = dot + (e.bia.empty() ? 0.0 : e.bia[j / osz]);
    }
}

}  // namespace

Explanation explain(const Problem& p, const std::vector<double>& src, const std::vector<double>& wei,
                    const std::vector<double>& bia, const Limits& limits) {
    p.validate();
    if (p.kind != Kind::transposed) throw Error("explain shows transposed convolutions; the problem is a regular convolution");
    if (p.mb != 1) throw Error(cat("explain shows one image: mb=", p.mb, " must be 1"));
    if (static_cast<int64_t>(src.size()) != p.src_elems())
        throw Error(cat("input has ", src.size(), " values; the problem's input (", dims_str(p.src_shape(), ','), ") needs ", p.src_elems()));
    if (static_cast<int64_t>(wei.size()) != p.wei_elems())
        throw Error(cat("kernel has ", wei.size(), " values; the problem's weights (", dims_str(p.wei_shape(), ','), ") need ", p.wei_elems()));
    if (!bia.empty() && static_cast<int64_t>(bia.size()) != p.oc)
        throw Error(cat("bias has ", bia.size(), " values; it needs one per output channel (", p.oc, ")"));
    Explanation e;
    e.p = p;
    e.p.bias = !bia.empty();
    e.src = src;
    e.wei = wei;
    e.bia = bia;
    e.full.resize(p.rank());
    for (int a = 0; a < p.rank(); ++a) e.full[a] = p.s[a] * (p.i[a] - 1) + p.k_eff(a);
    check_limit(p.oc * prod(e.full), limits.max_elems, "the full output (" + dims_str(e.full, 'x') + " per channel)");
    check_limit(p.dst_elems(), limits.max_elems, "the output (" + dims_str(p.dst_shape(), ',') + ")");
    check_limit(p.src_elems(), limits.max_steps, "the input (" + dims_str(p.src_shape(), ',') + "), one distribute step per value,");
    Dims padded(p.rank());
    for (int a = 0; a < p.rank(); ++a)
        padded[a] = (p.i[a] - 1) * p.s[a] + 1 + 2 * (p.k_eff(a) - 1) - p.pb[a] - p.pe[a] + p.op[a];
    check_limit(p.ic * prod(padded), limits.max_elems, "the padded, zero-inserted input (" + dims_str(padded, 'x') + " per channel)");
    distribute(e);
    collect(e);
    matrix(e);
    gradient(e);
    return e;
}

std::vector<Term> cell_terms(const Explanation& e, int64_t oc, const Dims& cell) {
    const Problem& p = e.p;
    const int r = p.rank();
    const Dims o = p.o();
    bool ok = oc >= 0 && oc < p.oc && static_cast<int>(cell.size()) == r;
    for (int a = 0; ok && a < r; ++a) ok = cell[a] >= 0 && cell[a] < o[a];
    if (!ok)
        throw Error(cat("cell (channel ", oc, ", position ", dims_str(cell, ','), ") is outside the output: ", p.oc,
                        " channels of ", dims_str(o, 'x'), " (positions count from 0)"));
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
    std::vector<Term> terms;
    for (int64_t il = 0; il < icg; ++il) {
        const int64_t ic = (oc / ocg) * icg + il;
        for_each_index(p.i, [&](const int64_t* ii) {
            for_each_index(p.k, [&](const int64_t* kk) {
                for (int a = 0; a < r; ++a)
                    if (ii[a] * p.s[a] + kk[a] * p.d[a] - p.pb[a] != cell[a]) return;
                Term t;
                t.ic = ic;
                t.pos.assign(ii, ii + r);
                t.value = e.src[ic * prod(p.i) + flat(ii, p.i)];
                t.k.assign(kk, kk + r);
                t.flipped.resize(r);
                t.padded.resize(r);
                for (int a = 0; a < r; ++a) {
                    t.flipped[a] = e.k_eff[a] - 1 - kk[a] * p.d[a];
                    t.padded[a] = ii[a] * p.s[a] + e.lead[a];
                }
                t.weight = e.wei[(ic * ocg + oc % ocg) * prod(p.k) + flat(kk, p.k)];
                terms.push_back(std::move(t));
            });
        });
    }
    return terms;
}

int64_t cell_zero_taps(const Explanation& e, int64_t oc, const Dims& cell) {
    const int64_t taps = (e.p.ic / e.p.g) * prod(e.k_eff);
    int64_t on_values = 0;
    for (const Term& t : cell_terms(e, oc, cell)) {
        bool inside = true;  // a value cut off by a negative lead/trail is not in the padded input
        for (size_t a = 0; a < t.padded.size(); ++a) inside = inside && t.padded[a] >= 0 && t.padded[a] < e.padded_size[a];
        on_values += inside;
    }
    return taps - on_values;
}

}  // namespace tconv::explain
