// Problem validation, output sizes, the canonical string (print and parse) and the PyTorch-style builders.
#include "tconv/problem.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "tconv/error.hpp"
#include "tconv/tensor.hpp"
#include "util.hpp"

namespace tconv {

using detail::at;
using detail::cat;

namespace {

constexpr int kMaxRank = 6;

// The per-axis lists of a problem with their names, in canonical order.
struct AxisField {
    const char* key;
    const char* name;  // as used in messages
    Dims Problem::*member;
};
const AxisField kAxisFields[] = {
    {"k", "kernel k", &Problem::k},         {"s", "stride s", &Problem::s},
    {"d", "dilation d", &Problem::d},       {"pb", "padding begin pb", &Problem::pb},
    {"pe", "padding end pe", &Problem::pe}, {"op", "output_padding op", &Problem::op},
};

// One axis of the output, overflow-checked. Assumes the per-axis values were checked for sign.
int64_t out_size(const Problem& p, int a) {
    const auto what = [a] { return cat("output size o[", a, "]"); };  // formatted only on overflow
    const int64_t keff = detail::add(detail::mul(p.d[a], p.k[a] - 1, what), 1, what);
    if (p.kind == Kind::transposed) {
        int64_t full = detail::add(detail::mul(p.s[a], p.i[a] - 1, what), keff, what);
        return detail::add(detail::sub(detail::sub(full, p.pb[a], what), p.pe[a], what), p.op[a], what);
    }
    const int64_t span = detail::sub(detail::add(detail::add(p.i[a], p.pb[a], what), p.pe[a], what), keff, what);
    if (span < 0) return 0;  // reported by validate()
    return span / p.s[a] + 1;
}

}  // namespace

std::string dims_str(const Dims& v, char sep) {
    std::string r;
    for (size_t a = 0; a < v.size(); ++a) {
        if (a) r += sep;
        r += std::to_string(v[a]);
    }
    return r;
}

Dims broadcast(const Dims& v, int rank, const char* name) {
    if (static_cast<int>(v.size()) == rank) return v;
    if (v.size() == 1) return Dims(rank, v[0]);
    throw Error(cat(name, " has ", v.size(), " values (", dims_str(v, ','), ") but the problem has ", rank,
                    " spatial axes: give 1 value or ", rank));
}

int64_t shape_elems(const Dims& shape, const char* name) {
    int64_t n = 1;
    for (size_t a = 0; a < shape.size(); ++a) {
        if (shape[a] < 0) throw Error(cat(name, " shape[", a, "]=", shape[a], " must not be negative"));
        n = detail::mul(n, shape[a], [&] { return cat("the element count of ", name, " (", dims_str(shape), ")"); });
    }
    return n;
}

void Problem::validate() const {
    if (i.empty()) throw Error("input sizes i are empty: a problem needs at least 1 spatial axis");
    if (rank() > kMaxRank) throw Error(cat("rank=", rank(), " (number of input sizes i) exceeds the maximum ", kMaxRank));
    for (const auto& f : kAxisFields) {
        const Dims& v = this->*f.member;
        if (static_cast<int>(v.size()) != rank())
            throw Error(cat(f.name, " has ", v.size(), " values but the input sizes i have ", rank(), " axes"));
    }
    const std::pair<const char*, int64_t> counts[] = {{"mb", mb}, {"groups g", g}, {"ic", ic}, {"oc", oc}};
    for (const auto& [name, v] : counts)
        if (v <= 0) throw Error(cat(name, "=", v, " must be positive"));
    if (ic % g) throw Error(cat("ic=", ic, " must be divisible by groups g=", g));
    if (oc % g) throw Error(cat("oc=", oc, " must be divisible by groups g=", g));
    for (int a = 0; a < rank(); ++a) {
        if (i[a] <= 0) throw Error(at("input size i", a, i[a]) + " must be positive");
        if (k[a] <= 0) throw Error(at("kernel k", a, k[a]) + " must be positive");
        if (s[a] <= 0) throw Error(at("stride s", a, s[a]) + " must be positive");
        if (d[a] <= 0) throw Error(at("dilation d", a, d[a]) + " must be positive (1 means a dense kernel)");
        if (op[a] < 0) throw Error(at("output_padding op", a, op[a]) + " must not be negative");
        if (kind == Kind::conv) {
            if (op[a] != 0)
                throw Error(at("output_padding op", a, op[a]) + " must be 0: a regular convolution has no output padding");
            if (pb[a] < 0) throw Error(at("padding begin pb", a, pb[a]) + " must not be negative for a convolution");
            if (pe[a] < 0) throw Error(at("padding end pe", a, pe[a]) + " must not be negative for a convolution");
        } else if (op[a] >= std::max(s[a], d[a])) {
            throw Error(cat(at("output_padding op", a, op[a]), " must be smaller than ", at("stride s", a, s[a]),
                            " or ", at("dilation d", a, d[a])));
        }
    }
    for (int a = 0; a < rank(); ++a) {
        const int64_t o = out_size(*this, a);
        if (o > 0) continue;
        if (kind == Kind::transposed)
            throw Error(cat("output size o[", a, "]=", o, " must be positive: s*(i-1) + d*(k-1) + 1 - pb - pe + op = ",
                            s[a], "*(", i[a], "-1) + ", d[a], "*(", k[a], "-1) + 1 - ", pb[a], " - ", pe[a], " + ",
                            op[a]));
        throw Error(cat(at("convolution input size i", a, i[a]), " padded by pb+pe=", pb[a] + pe[a],
                        " is smaller than the effective kernel d*(k-1)+1=", k_eff(a), ": the output would be empty"));
    }
    // Element and byte counts of every tensor must fit in 64 bits (8 bytes per element at most).
    const std::pair<const char*, Dims> tensors[] = {{"src", src_shape()}, {"wei", wei_shape()}, {"dst", dst_shape()}};
    for (const auto& [name, shape] : tensors) detail::mul(shape_elems(shape, name), 8, [&] { return cat("the byte size of ", name); });
}

Dims Problem::o() const {
    validate();
    Dims r(rank());
    for (int a = 0; a < rank(); ++a) r[a] = out_size(*this, a);
    return r;
}

// Shapes are computed without validate() (which itself uses them); the public callers validate first.
Dims Problem::src_shape() const {
    Dims r{mb, ic};
    r.insert(r.end(), i.begin(), i.end());
    return r;
}
Dims Problem::wei_shape() const {
    Dims r = kind == Kind::transposed ? Dims{ic, oc / g} : Dims{oc, ic / g};
    r.insert(r.end(), k.begin(), k.end());
    return r;
}
Dims Problem::dst_shape() const {
    Dims r{mb, oc};
    for (int a = 0; a < rank(); ++a) r.push_back(out_size(*this, a));
    return r;
}
int64_t Problem::src_elems() const { validate(); return detail::prod(src_shape()); }
int64_t Problem::wei_elems() const { validate(); return detail::prod(wei_shape()); }
int64_t Problem::dst_elems() const { validate(); return detail::prod(dst_shape()); }

Problem Problem::adjoint() const {
    validate();
    Problem r = *this;
    std::swap(r.ic, r.oc);
    r.bias = false;
    r.i = o();
    if (kind == Kind::conv) {
        r.kind = Kind::transposed;
        for (int a = 0; a < rank(); ++a)  // the rows of the padded input the strided kernel never reaches
            r.op[a] = (i[a] + pb[a] + pe[a] - k_eff(a)) % s[a];
    } else {
        for (int a = 0; a < rank(); ++a) {
            if (op[a] >= s[a])
                throw Error(cat(at("output_padding op", a, op[a]), " is not smaller than ", at("stride s", a, s[a]),
                                ": no regular convolution with these parameters maps back to i[", a, "]=", i[a]));
            if (pb[a] < 0 || pe[a] < 0)
                throw Error(cat("negative padding (pb[", a, "]=", pb[a], ", pe[", a, "]=", pe[a],
                                ") has no regular-convolution adjoint with the same parameters"));
        }
        r.kind = Kind::conv;
        r.op.assign(rank(), 0);
    }
    r.validate();
    return r;
}

// Canonical form: fields in a fixed order, defaults left out (g1, s1, d1, p0, op0, no bias); per-axis lists
// other than i collapse to one value when all axes agree.
std::string Problem::str() const {
    auto list = [&](const Dims& v) {
        bool same = std::all_of(v.begin(), v.end(), [&](int64_t x) { return x == v[0]; });
        return same && !v.empty() ? std::to_string(v[0]) : dims_str(v);
    };
    auto all_eq = [](const Dims& v, int64_t x) { return std::all_of(v.begin(), v.end(), [&](int64_t y) { return y == x; }); };
    std::string r = kind == Kind::conv ? "conv_" : "";
    r += cat("mb", mb);
    if (g != 1) r += cat("_g", g);
    r += cat("_ic", ic, "_oc", oc, "_i", dims_str(i), "_k", list(k));
    if (!all_eq(s, 1)) r += "_s" + list(s);
    if (!all_eq(d, 1)) r += "_d" + list(d);
    if (pb == pe) {
        if (!all_eq(pb, 0)) r += "_p" + list(pb);
    } else {
        r += "_pb" + list(pb) + "_pe" + list(pe);
    }
    if (!all_eq(op, 0)) r += "_op" + list(op);
    if (bias) r += "_bias";
    return r;
}

Problem Problem::parse(std::string_view text) {
    const std::string whole(text);
    auto fail = [&](const std::string& why) -> Error { return Error(cat("problem string '", whole, "': ", why)); };
    Problem p;
    std::map<std::string, Dims> lists;
    std::map<std::string, int64_t> scalars;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find('_', pos);
        if (end == std::string_view::npos) end = text.size();
        const std::string tok(text.substr(pos, end - pos));
        pos = end + 1;
        if (tok.empty()) throw fail("empty field (doubled or trailing '_')");
        size_t n = 0;
        while (n < tok.size() && std::isalpha(static_cast<unsigned char>(tok[n])) && tok[n] != 'x') ++n;
        // No field name contains 'x', so 'x' can separate the values of a list.
        const std::string key = tok.substr(0, n), val = tok.substr(n);
        if (key == "conv" || key == "bias") {
            if (!val.empty()) throw fail(cat("field '", key, "' takes no value, got '", tok, "'"));
            if (key == "conv") p.kind = Kind::conv; else p.bias = true;
            continue;
        }
        const bool is_scalar = key == "mb" || key == "g" || key == "ic" || key == "oc";
        const bool is_list = key == "i" || key == "k" || key == "s" || key == "d" || key == "p" || key == "pb" ||
                             key == "pe" || key == "op";
        if (!is_scalar && !is_list) throw fail(cat("unknown field '", key, "' in '", tok, "'"));
        if (scalars.count(key) || lists.count(key)) throw fail(cat("field '", key, "' given twice"));
        Dims values;
        size_t q = 0;
        while (true) {
            size_t e = val.find('x', q);
            if (e == std::string::npos) e = val.size();
            const std::string num = val.substr(q, e - q);
            size_t used = 0;
            long long x = 0;
            try {
                x = std::stoll(num, &used);
            } catch (const std::exception&) {
                used = std::string::npos;
            }
            if (num.empty() || used != num.size()) throw fail(cat("field '", key, "' has a malformed value '", val, "'"));
            values.push_back(x);
            if (e == val.size()) break;
            q = e + 1;
        }
        if (is_scalar) {
            if (values.size() != 1) throw fail(cat("field '", key, "' takes one value, got '", val, "'"));
            scalars[key] = values[0];
        } else {
            lists[key] = values;
        }
    }
    for (const char* req : {"ic", "oc"})
        if (!scalars.count(req)) throw fail(cat("missing field '", req, "'"));
    for (const char* req : {"i", "k"})
        if (!lists.count(req)) throw fail(cat("missing field '", req, "'"));
    if (lists.count("p") && (lists.count("pb") || lists.count("pe")))
        throw fail("give either 'p' (symmetric) or 'pb' and 'pe', not both");
    if (lists.count("pb") != lists.count("pe")) throw fail("'pb' and 'pe' must be given together");
    p.mb = scalars.count("mb") ? scalars["mb"] : 1;
    p.g = scalars.count("g") ? scalars["g"] : 1;
    p.ic = scalars["ic"];
    p.oc = scalars["oc"];
    p.i = lists["i"];
    const int r = p.rank();
    auto get = [&](const char* key, int64_t dflt) {
        auto it = lists.find(key);
        if (it == lists.end()) return Dims(r, dflt);
        try {
            return broadcast(it->second, r, key);
        } catch (const Error& e) {
            throw fail(e.what());
        }
    };
    p.k = get("k", 1);
    p.s = get("s", 1);
    p.d = get("d", 1);
    if (lists.count("p")) {
        p.pb = p.pe = get("p", 0);
    } else {
        p.pb = get("pb", 0);
        p.pe = get("pe", 0);
    }
    p.op = get("op", 0);
    return p;
}

Problem pytorch_problem(int64_t mb, int64_t ic, int64_t oc, const Dims& in, const Dims& kernel, const Dims& stride,
                        const Dims& padding, const Dims& output_padding, int64_t groups, const Dims& dilation,
                        bool bias) {
    Problem p;
    p.mb = mb;
    p.ic = ic;
    p.oc = oc;
    p.g = groups;
    p.i = in;
    const int r = p.rank();
    if (r == 0) throw Error("input sizes are empty: a problem needs at least 1 spatial axis");
    p.k = broadcast(kernel, r, "kernel_size");
    p.s = broadcast(stride, r, "stride");
    p.pb = p.pe = broadcast(padding, r, "padding");
    p.op = broadcast(output_padding, r, "output_padding");
    p.d = broadcast(dilation, r, "dilation");
    p.bias = bias;
    for (int a = 0; a < r; ++a)
        if (p.pb[a] < 0) throw Error(at("padding", a, p.pb[a]) + " must not be negative");
    p.validate();
    return p;
}

Problem with_output_size(Problem p, const Dims& output_size) {
    if (p.kind != Kind::transposed) throw Error("output_size applies to transposed convolutions only");
    p.op.assign(p.rank(), 0);
    p.validate();
    if (static_cast<int>(output_size.size()) != p.rank())
        throw Error(cat("output_size has ", output_size.size(), " values (", dims_str(output_size, ','),
                        ") but the problem has ", p.rank(), " spatial axes"));
    const Dims min = p.o();
    for (int a = 0; a < p.rank(); ++a) {
        const int64_t max = min[a] + p.s[a] - 1;
        if (output_size[a] < min[a] || output_size[a] > max)
            throw Error(cat(at("output_size", a, output_size[a]), " is out of range: with ", at("stride s", a, p.s[a]),
                            " the valid sizes are ", min[a], " to ", max, " (min + stride - 1)"));
        p.op[a] = output_size[a] - min[a];
    }
    p.validate();
    return p;
}

}  // namespace tconv
