// Framework conventions <-> the canonical problem. Each framework's rules are written once, in parse_*
// (layer -> canonical problem); the target side proposes attributes and then checks them by parsing them
// back, so a translation is exact exactly when the parsed windows agree, and otherwise the difference is
// the recipe's crop.
#include "tconv/translate.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "tconv/error.hpp"
#include "tconv/onnx.hpp"
#include "util.hpp"

namespace tconv::translate {

using detail::cat;

const std::vector<std::string>& framework_names() {
    static const std::vector<std::string> names = {"pytorch", "tensorflow", "keras", "onnx",
                                                   "jax",     "mxnet",      "onednn", "xnnpack"};
    return names;
}

std::string name(Framework f) { return framework_names()[static_cast<size_t>(f)]; }

Framework framework(const std::string& n) {
    const auto& names = framework_names();
    for (size_t j = 0; j < names.size(); ++j)
        if (names[j] == n) return static_cast<Framework>(j);
    std::string all;
    for (const auto& x : names) all += (all.empty() ? "" : ", ") + x;
    throw Error(cat("framework '", n, "' is not known: use one of ", all));
}

std::string WeightLayout::str() const {
    std::string r;
    for (const auto& a : axes) {
        if (!r.empty()) r += ' ';
        r += a == "gi" ? "(g i)" : a == "go" ? "(g o)" : a;
    }
    return flipped ? r + ", flipped" : r;
}

namespace {

// ---- attribute access -------------------------------------------------------------------------------------

struct Reader {
    const Layer& L;
    int rank;
    std::string fw;

    void only(std::initializer_list<const char*> known) const {
        std::set<std::string> k(known.begin(), known.end());
        for (const auto& [key, v] : L.attrs)
            if (!k.count(key)) {
                std::string list;
                for (const char* x : known) list += (list.empty() ? "" : ", ") + std::string(x);
                throw Error(cat(fw, " has no attribute '", key, "' (", fw, " attributes: ", list, ")"));
            }
    }
    const Value* find(const std::string& key) const {
        auto it = L.attrs.find(key);
        return it == L.attrs.end() ? nullptr : &it->second;
    }
    bool has(const std::string& key) const { return find(key) != nullptr; }
    // A per-axis list: one value broadcasts; empty or absent gives the default.
    Dims dims(const std::string& key, int64_t dflt, int n = -1) const {
        if (n < 0) n = rank;
        const Value* v = find(key);
        if (!v) return Dims(n, dflt);
        const Dims* d = std::get_if<Dims>(v);
        if (!d) throw Error(cat(fw, " attribute ", key, " must be a list of integers"));
        if (d->empty()) return Dims(n, dflt);
        if (d->size() == 1) return Dims(n, (*d)[0]);
        if (static_cast<int>(d->size()) != n)
            throw Error(cat(fw, " attribute ", key, "=(", dims_str(*d, ','), ") has ", d->size(), " values but needs ", n,
                            " (one per spatial axis, or one for all)"));
        return *d;
    }
    int64_t scalar(const std::string& key, int64_t dflt) const {
        const Value* v = find(key);
        if (!v) return dflt;
        const Dims* d = std::get_if<Dims>(v);
        if (!d || d->size() != 1) throw Error(cat(fw, " attribute ", key, " must be one integer"));
        return (*d)[0];
    }
    bool flag(const std::string& key, bool dflt) const {
        const Value* v = find(key);
        if (!v) return dflt;
        const bool* b = std::get_if<bool>(v);
        if (!b) throw Error(cat(fw, " attribute ", key, " must be true or false"));
        return *b;
    }
    // A string attribute, or nullptr when the attribute holds a list (explicit padding).
    const std::string* text(const std::string& key) const {
        const Value* v = find(key);
        if (!v) return nullptr;
        if (std::get_if<bool>(v)) throw Error(cat(fw, " attribute ", key, " must be a string or a list of integers"));
        return std::get_if<std::string>(v);
    }
    void positive(const Dims& v, const char* key) const {
        for (int a = 0; a < static_cast<int>(v.size()); ++a)
            if (v[a] <= 0) throw Error(cat(fw, " attribute ", detail::at(key, a, v[a]), " must be positive"));
    }
    void nonneg(const Dims& v, const char* key) const {
        for (int a = 0; a < static_cast<int>(v.size()); ++a)
            if (v[a] < 0) throw Error(cat(fw, " attribute ", detail::at(key, a, v[a]), " must not be negative"));
    }
};

std::string tf_format(int rank, bool last) {
    static const char* sp[] = {"W", "HW", "DHW"};
    return last ? cat("N", sp[rank - 1], "C") : cat("NC", sp[rank - 1]);
}

bool is_channels_last(const Layer& L, int rank) {
    const Reader r{L, rank, name(L.framework)};
    switch (L.framework) {
        case Framework::tensorflow: {
            const std::string* f = r.text("data_format");
            if (!f) return true;
            if (*f == tf_format(rank, true)) return true;
            if (*f == tf_format(rank, false)) return false;
            throw Error(cat("tensorflow attribute data_format='", *f, "' must be '", tf_format(rank, true), "' or '",
                            tf_format(rank, false), "' for ", rank, " spatial axes"));
        }
        case Framework::keras: {
            const std::string* f = r.text("data_format");
            if (!f || *f == "channels_last") return true;
            if (*f == "channels_first") return false;
            throw Error(cat("keras attribute data_format='", *f, "' must be 'channels_last' or 'channels_first'"));
        }
        case Framework::jax:
        case Framework::xnnpack: return true;
        default: return false;
    }
}

int rank_of(const Layer& L) {
    if (L.input_shape.size() < 3)
        throw Error(cat(name(L.framework), " input shape (", dims_str(L.input_shape, ','),
                        ") needs a batch axis, a channel axis and at least 1 spatial axis"));
    if (L.input_shape.size() > 5)
        throw Error(cat(name(L.framework), " input shape (", dims_str(L.input_shape, ','),
                        ") has more than 3 spatial axes: translation covers ranks 1 to 3"));
    return static_cast<int>(L.input_shape.size()) - 2;
}

int64_t groups_of(const Layer& L, int rank) {
    const Reader r{L, rank, name(L.framework)};
    switch (L.framework) {
        case Framework::pytorch:
        case Framework::onednn:
        case Framework::xnnpack: return r.scalar("groups", 1);
        case Framework::onnx: return r.scalar("group", 1);
        case Framework::mxnet: return r.scalar("num_group", 1);
        default: return 1;
    }
}

WeightLayout layout_for(Framework f, int64_t g, bool transpose_kernel) {
    switch (f) {
        case Framework::pytorch:
        case Framework::onnx:
        case Framework::mxnet: return {{"gi", "o", "k"}, false};
        case Framework::tensorflow:
        case Framework::keras: return {{"k", "o", "gi"}, false};
        case Framework::jax: return transpose_kernel ? WeightLayout{{"k", "o", "gi"}, false} : WeightLayout{{"k", "gi", "o"}, true};
        case Framework::onednn: return g == 1 ? WeightLayout{{"o", "gi", "k"}, false} : WeightLayout{{"g", "o", "i", "k"}, false};
        case Framework::xnnpack: return {{"go", "k", "i"}, false};
    }
    return {};
}

// The canonical sizes behind a weight shape in some layout.
struct WeightDims {
    int64_t g = 1, ic_g = 0, oc_g = 0;
    Dims k;
};

WeightDims decompose(const WeightLayout& lay, const Dims& shape, int64_t g, int rank, const std::string& who) {
    const int want = static_cast<int>(lay.axes.size()) - 1 + rank;
    if (static_cast<int>(shape.size()) != want)
        throw Error(cat(who, " weight shape (", dims_str(shape, ','), ") must have ", want, " axes: ", lay.str()));
    WeightDims w;
    w.g = g;
    size_t j = 0;
    for (const auto& ax : lay.axes) {
        if (ax == "k") {
            w.k.assign(shape.begin() + j, shape.begin() + j + rank);
            j += rank;
            continue;
        }
        const int64_t n = shape[j++];
        if (n <= 0) throw Error(cat(who, " weight shape (", dims_str(shape, ','), ") has an empty axis"));
        if (ax == "gi" || ax == "go") {
            if (n % g != 0)
                throw Error(cat(who, " weight axis ", j - 1, " (", ax == "gi" ? "input" : "output", " channels) = ", n,
                                " is not divisible by groups=", g));
            (ax == "gi" ? w.ic_g : w.oc_g) = n / g;
        } else if (ax == "g") {
            if (n != g) throw Error(cat(who, " weight axis ", j - 1, " = ", n, " must equal groups=", g));
        } else {
            (ax == "i" ? w.ic_g : w.oc_g) = n;
        }
    }
    for (int64_t x : w.k)
        if (x <= 0) throw Error(cat(who, " weight shape (", dims_str(shape, ','), ") has an empty kernel axis"));
    return w;
}

Dims compose(const WeightLayout& lay, const WeightDims& w) {
    Dims s;
    for (const auto& ax : lay.axes) {
        if (ax == "k") s.insert(s.end(), w.k.begin(), w.k.end());
        else if (ax == "gi") s.push_back(w.g * w.ic_g);
        else if (ax == "go") s.push_back(w.g * w.oc_g);
        else if (ax == "g") s.push_back(w.g);
        else if (ax == "i") s.push_back(w.ic_g);
        else s.push_back(w.oc_g);
    }
    return s;
}

// ---- layer -> canonical problem ---------------------------------------------------------------------------

// The common skeleton: channels and spatial sizes from the shapes; strides etc. filled by the caller.
Problem skeleton(const Layer& L, int rank, int64_t g, const WeightDims& w) {
    const bool last = is_channels_last(L, rank);
    Problem p;
    p.mb = L.input_shape[0];
    p.ic = last ? L.input_shape.back() : L.input_shape[1];
    p.i.assign(L.input_shape.begin() + (last ? 1 : 2), L.input_shape.begin() + (last ? 1 : 2) + rank);
    p.g = g;
    if (g <= 0) throw Error(cat(name(L.framework), " groups=", g, " must be positive"));
    if (p.ic != g * w.ic_g)
        throw Error(cat(name(L.framework), " input has ", p.ic, " channels but the weight (", dims_str(L.weight_shape, ','),
                        ") expects ", g * w.ic_g, " (", g, " group(s) of ", w.ic_g, ")"));
    p.oc = g * w.oc_g;
    p.k = w.k;
    p.bias = L.bias;
    p.op.assign(rank, 0);
    return p;
}

int64_t full(const Problem& p, int a) { return p.s[a] * (p.i[a] - 1) + p.k_eff(a); }

// TensorFlow: the transposed convolution is the input gradient of tf.nn.conv*d on an input of output_shape.
Problem tf_like(Problem p, const Dims& out, const Value* padding, const std::string& who) {
    const int rank = p.rank();
    p.pb.assign(rank, 0);
    p.pe.assign(rank, 0);
    const std::string* mode = padding ? std::get_if<std::string>(padding) : nullptr;
    const Dims* explicit_pads = padding ? std::get_if<Dims>(padding) : nullptr;
    if (padding && !mode && !explicit_pads) throw Error(cat(who, " padding must be a string or a list of integers"));
    if (explicit_pads && rank != 2)
        throw Error(cat(who, " explicit padding exists for conv2d_transpose only; use 'SAME' or 'VALID' for ", rank,
                        " spatial axes"));
    if (explicit_pads && explicit_pads->size() != 4)
        throw Error(cat(who, " explicit padding (", dims_str(*explicit_pads, ','),
                        ") needs 4 values: top, bottom, left, right"));
    const std::string m = mode ? *mode : explicit_pads ? "EXPLICIT" : "VALID";
    if (m != "SAME" && m != "VALID" && m != "EXPLICIT")
        throw Error(cat(who, " padding='", m, "' must be 'SAME', 'VALID' or explicit pairs"));
    for (int a = 0; a < rank; ++a) {
        if (out[a] <= 0) throw Error(cat(who, " ", detail::at("output_shape", a, out[a]), " must be positive"));
        const int64_t keff = p.k_eff(a);
        int64_t conv_out, before;
        if (m == "SAME") {
            conv_out = (out[a] + p.s[a] - 1) / p.s[a];
            const int64_t total = std::max<int64_t>((conv_out - 1) * p.s[a] + keff - out[a], 0);
            before = total / 2;
        } else if (m == "VALID") {
            conv_out = out[a] >= keff ? (out[a] - keff) / p.s[a] + 1 : 0;
            before = 0;
        } else {
            before = (*explicit_pads)[2 * a];
            const int64_t after = (*explicit_pads)[2 * a + 1];
            if (before < 0 || after < 0)
                throw Error(cat(who, " explicit padding (", dims_str(*explicit_pads, ','), ") must not be negative"));
            const int64_t span = out[a] + before + after - keff;
            conv_out = span >= 0 ? span / p.s[a] + 1 : 0;
        }
        if (conv_out != p.i[a])
            throw Error(cat(who, " ", detail::at("output_shape", a, out[a]), " is inconsistent with the input: a ", m,
                            " convolution of that size gives ", conv_out, " outputs, not i=", p.i[a]));
        p.pb[a] = before;
        p.pe[a] = full(p, a) - before - out[a];  // negative: rows the convolution never reads (zero + bias)
    }
    return p;
}

Problem parse(const Layer& L) {
    const int rank = rank_of(L);
    const std::string fw = name(L.framework);
    const Reader r{L, rank, fw};
    const int64_t g = groups_of(L, rank);
    if (g <= 0) throw Error(cat(fw, " groups=", g, " must be positive"));
    const bool tk = L.framework == Framework::jax && r.flag("transpose_kernel", false);
    const WeightDims w = decompose(layout_for(L.framework, g, tk), L.weight_shape, g, rank, fw);
    Problem p = skeleton(L, rank, g, w);

    switch (L.framework) {
        case Framework::pytorch: {
            r.only({"stride", "padding", "output_padding", "groups", "dilation", "output_size"});
            p.s = r.dims("stride", 1);
            p.d = r.dims("dilation", 1);
            p.pb = r.dims("padding", 0);
            r.nonneg(p.pb, "padding");
            p.pe = p.pb;
            p.op = r.dims("output_padding", 0);
            if (r.has("output_size")) {
                p.validate();
                p = with_output_size(p, r.dims("output_size", 0));
            }
            break;
        }
        case Framework::onnx: {
            r.only({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"});
            onnx::Attributes at;
            if (const std::string* ap = r.text("auto_pad")) at.auto_pad = *ap;
            auto list = [&](const char* key) {
                const Value* v = r.find(key);
                if (!v) return Dims{};
                const Dims* d = std::get_if<Dims>(v);
                if (!d) throw Error(cat("onnx attribute ", key, " must be a list of integers"));
                return *d;
            };
            at.dilations = list("dilations");
            at.group = g;
            at.kernel_shape = list("kernel_shape");
            at.output_padding = list("output_padding");
            at.output_shape = list("output_shape");
            at.pads = list("pads");
            at.strides = list("strides");
            Dims x = {p.mb, p.ic};
            x.insert(x.end(), p.i.begin(), p.i.end());
            return onnx::problem(x, L.weight_shape, L.bias, at);
        }
        case Framework::mxnet: {
            r.only({"kernel", "stride", "dilate", "pad", "adj", "target_shape", "num_filter", "num_group", "no_bias"});
            if (r.has("kernel") && r.dims("kernel", 0) != p.k)
                throw Error(cat("mxnet attribute kernel=(", dims_str(r.dims("kernel", 0), ','), ") does not match the weight's kernel (",
                                dims_str(p.k, ','), ")"));
            if (r.has("num_filter") && r.scalar("num_filter", 0) != p.oc)
                throw Error(cat("mxnet attribute num_filter=", r.scalar("num_filter", 0), " does not match the weight: ",
                                p.oc, " output channels"));
            if (r.has("no_bias") && r.flag("no_bias", true) == L.bias)
                throw Error(cat("mxnet attribute no_bias=", r.flag("no_bias", true) ? "true" : "false",
                                " contradicts whether a bias is given"));
            p.s = r.dims("stride", 1);
            p.d = r.dims("dilate", 1);
            r.positive(p.s, "stride");
            r.positive(p.d, "dilate");
            const Dims target = r.dims("target_shape", 0);
            const bool use_target = std::any_of(target.begin(), target.end(), [](int64_t x) { return x != 0; });
            if (use_target) {  // MXNet: total = full - target, pad = ceil(total/2), adj = total % 2
                p.pb.resize(rank);
                p.pe.resize(rank);
                for (int a = 0; a < rank; ++a) {
                    const int64_t total = full(p, a) - target[a];
                    if (target[a] <= 0 || total < 0)
                        throw Error(cat("mxnet attribute ", detail::at("target_shape", a, target[a]), " must lie in [1, ", full(p, a),
                                        "] (the uncropped output)"));
                    p.pb[a] = (total + 1) / 2;
                    p.pe[a] = total - p.pb[a];
                }
            } else {
                p.pb = r.dims("pad", 0);
                r.nonneg(p.pb, "pad");
                p.pe = p.pb;
                p.op = r.dims("adj", 0);
                r.nonneg(p.op, "adj");
                for (int a = 0; a < rank; ++a)
                    if (p.op[a] >= p.s[a])
                        throw Error(cat("mxnet attribute ", detail::at("adj", a, p.op[a]), " must be smaller than ",
                                        detail::at("stride", a, p.s[a])));
            }
            break;
        }
        case Framework::tensorflow: {
            r.only({"strides", "padding", "output_shape", "dilations", "data_format"});
            p.s = r.dims("strides", 1);
            p.d = r.dims("dilations", 1);
            r.positive(p.s, "strides");
            r.positive(p.d, "dilations");
            if (!r.has("output_shape"))
                throw Error("tensorflow attribute output_shape is required (the spatial sizes of the result)");
            Dims out = r.dims("output_shape", 0);
            p = tf_like(p, out, r.find("padding"), "tensorflow");
            break;
        }
        case Framework::keras: {
            r.only({"filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate", "use_bias"});
            if (r.has("filters") && r.scalar("filters", 0) != p.oc)
                throw Error(cat("keras attribute filters=", r.scalar("filters", 0), " does not match the weight: ", p.oc,
                                " output channels"));
            if (r.has("kernel_size") && r.dims("kernel_size", 0) != p.k)
                throw Error(cat("keras attribute kernel_size=(", dims_str(r.dims("kernel_size", 0), ','),
                                ") does not match the weight's kernel (", dims_str(p.k, ','), ")"));
            if (r.has("use_bias") && r.flag("use_bias", true) != L.bias)
                throw Error(cat("keras attribute use_bias=", r.flag("use_bias", true) ? "true" : "false",
                                " contradicts whether a bias is given"));
            p.s = r.dims("strides", 1);
            p.d = r.dims("dilation_rate", 1);
            r.positive(p.s, "strides");
            r.positive(p.d, "dilation_rate");
            const std::string* pm = r.text("padding");
            const std::string mode = pm ? *pm : "valid";
            if (mode != "valid" && mode != "same") throw Error(cat("keras attribute padding='", mode, "' must be 'valid' or 'same'"));
            Dims out(rank);
            const bool has_op = r.has("output_padding");
            const Dims op = r.dims("output_padding", 0);
            r.nonneg(op, "output_padding");
            for (int a = 0; a < rank; ++a) {
                const int64_t keff = p.k_eff(a);
                if (has_op && op[a] >= p.s[a])
                    throw Error(cat("keras attribute ", detail::at("output_padding", a, op[a]),
                                    " must be smaller than ", detail::at("strides", a, p.s[a])));
                if (!has_op)  // keras deconv_output_length
                    out[a] = mode == "valid" ? p.i[a] * p.s[a] + std::max<int64_t>(keff - p.s[a], 0) : p.i[a] * p.s[a];
                else
                    out[a] = (p.i[a] - 1) * p.s[a] + keff - 2 * (mode == "same" ? keff / 2 : 0) + op[a];
            }
            const Value tfpad = std::string(mode == "same" ? "SAME" : "VALID");
            p = tf_like(p, out, &tfpad, "keras (through tf.nn.conv_transpose)");
            break;
        }
        case Framework::jax: {
            r.only({"strides", "padding", "rhs_dilation", "transpose_kernel"});
            p.s = r.dims("strides", 1);
            p.d = r.dims("rhs_dilation", 1);
            r.positive(p.s, "strides");
            r.positive(p.d, "rhs_dilation");
            p.pb.resize(rank);
            p.pe.resize(rank);
            const Value* pad = r.find("padding");
            const std::string* mode = pad ? std::get_if<std::string>(pad) : nullptr;
            const Dims* pairs = pad ? std::get_if<Dims>(pad) : nullptr;
            if (pad && !mode && !pairs) throw Error("jax padding must be 'SAME', 'VALID' or (low, high) pairs");
            if (mode && *mode != "SAME" && *mode != "VALID")
                throw Error(cat("jax attribute padding='", *mode, "' must be 'SAME', 'VALID' or (low, high) pairs"));
            if (pairs && static_cast<int>(pairs->size()) != 2 * rank)
                throw Error(cat("jax attribute padding (", dims_str(*pairs, ','), ") needs one (low, high) pair per axis: ",
                                2 * rank, " values"));
            for (int a = 0; a < rank; ++a) {
                const int64_t k = p.k_eff(a), s = p.s[a];
                int64_t lo, hi;  // padding of the stride-dilated input (lax._conv_transpose_padding)
                if (pairs) {
                    lo = (*pairs)[2 * a];
                    hi = (*pairs)[2 * a + 1];
                } else {
                    const std::string m = mode ? *mode : "VALID";
                    int64_t len;
                    if (m == "SAME") {
                        len = k + s - 2;
                        lo = s > k - 1 ? k - 1 : (len + 1) / 2;
                    } else {
                        len = k + s - 2 + std::max<int64_t>(k - s, 0);
                        lo = k - 1;
                    }
                    hi = len - lo;
                }
                p.pb[a] = k - 1 - lo;
                p.pe[a] = k - 1 - hi;
            }
            break;
        }
        case Framework::onednn: {
            r.only({"strides", "dilates", "padding_l", "padding_r", "groups"});
            p.s = r.dims("strides", 1);
            r.positive(p.s, "strides");
            p.d = r.dims("dilates", 0);
            r.nonneg(p.d, "dilates");
            for (auto& x : p.d) ++x;  // oneDNN counts dilation from 0
            p.pb = r.dims("padding_l", 0);
            r.nonneg(p.pb, "padding_l");
            p.pe = r.dims("padding_r", 0);  // may be negative: output rows past the full output (output padding)
            break;
        }
        case Framework::xnnpack: {
            r.only({"padding_top", "padding_right", "padding_bottom", "padding_left", "stride_height", "stride_width",
                    "dilation_height", "dilation_width", "groups", "adjustment_height", "adjustment_width"});
            if (rank != 2) throw Error(cat("xnnpack has only a 2-D deconvolution (NHWC); this layer has ", rank, " spatial axes"));
            p.s = {r.scalar("stride_height", 1), r.scalar("stride_width", 1)};
            p.d = {r.scalar("dilation_height", 1), r.scalar("dilation_width", 1)};
            p.pb = {r.scalar("padding_top", 0), r.scalar("padding_left", 0)};
            p.pe = {r.scalar("padding_bottom", 0), r.scalar("padding_right", 0)};
            p.op = {r.scalar("adjustment_height", 0), r.scalar("adjustment_width", 0)};
            r.positive(p.s, "stride");
            r.positive(p.d, "dilation");
            r.nonneg(p.pb, "padding (top, left)");
            r.nonneg(p.pe, "padding (bottom, right)");
            r.nonneg(p.op, "adjustment");
            for (int a = 0; a < 2; ++a)
                if (p.op[a] >= p.s[a])
                    throw Error(cat("xnnpack ", a ? "adjustment_width=" : "adjustment_height=", p.op[a],
                                    " must be smaller than the stride ", p.s[a]));
            break;
        }
    }
    p.validate();
    return p;
}

// ---- canonical -> target ----------------------------------------------------------------------------------

struct Window {
    Dims b, e;  // crop at the begin, net crop at the end (pe - op), of the full output
};
Window window(const Problem& p) {
    Window w{p.pb, p.pe};
    for (int a = 0; a < p.rank(); ++a) w.e[a] -= p.op[a];
    return w;
}

Dims input_shape(const Problem& p, bool last) {
    Dims s = {p.mb};
    if (!last) s.push_back(p.ic);
    s.insert(s.end(), p.i.begin(), p.i.end());
    if (last) s.push_back(p.ic);
    return s;
}

Dims data_shape(int64_t mb, int64_t c, const Dims& sp, bool last) {
    Dims s = {mb};
    if (!last) s.push_back(c);
    s.insert(s.end(), sp.begin(), sp.end());
    if (last) s.push_back(c);
    return s;
}

int64_t clamp(int64_t x, int64_t lo, int64_t hi) { return std::max(lo, std::min(x, hi)); }

// Tries to parse a candidate target layer; returns false (and leaves out untouched) when it is invalid.
bool try_parse(const Layer& L, Problem& out) {
    try {
        out = parse(L);
        return true;
    } catch (const Error&) {
        return false;
    }
}

std::string tuple(const Dims& v) {
    if (v.size() == 1) return cat("(", v[0], ",)");
    return cat("(", dims_str(v, ','), ")");  // (cat, not "(" + string: GCC 12 warns -Wrestrict on the latter)
}
std::string tuple_sp(const Dims& v) {
    std::string r = "(";
    for (size_t a = 0; a < v.size(); ++a) r += (a ? ", " : "") + std::to_string(v[a]);
    return r + (v.size() == 1 ? ",)" : ")");
}
std::string list_sp(const Dims& v) {
    std::string r = "[";
    for (size_t a = 0; a < v.size(); ++a) r += (a ? ", " : "") + std::to_string(v[a]);
    return r + "]";
}
Dims get(const Attrs& at, const std::string& key) {
    auto it = at.find(key);
    if (it == at.end()) return {};
    const Dims* d = std::get_if<Dims>(&it->second);
    return d ? *d : Dims{};
}
std::string get_text(const Attrs& at, const std::string& key) {
    auto it = at.find(key);
    if (it == at.end()) return "";
    const std::string* s = std::get_if<std::string>(&it->second);
    return s ? *s : "";
}

// A padding attribute in code: a quoted mode string, or explicit values formatted by `pairs`.
template <class F>
std::string padding_code(const Attrs& at, F pairs) {
    const Value& v = at.at("padding");
    if (const std::string* s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
    return pairs(std::get<Dims>(v));
}

std::string code_for(const Translation& t, const Problem& target) {
    const Layer& L = t.layer;
    const Attrs& at = L.attrs;
    const int rank = target.rank();
    const std::string nd = std::to_string(rank) + "d";
    std::ostringstream os;
    switch (L.framework) {
        case Framework::pytorch:
            os << "y = torch.nn.functional.conv_transpose" << nd << "(x, w, " << (L.bias ? "b" : "None")
               << ", stride=" << tuple_sp(get(at, "stride")) << ", padding=" << tuple_sp(get(at, "padding"))
               << ", output_padding=" << tuple_sp(get(at, "output_padding")) << ", groups=" << get(at, "groups")[0]
               << ", dilation=" << tuple_sp(get(at, "dilation")) << ")";
            break;
        case Framework::tensorflow: {
            const std::string pad = padding_code(at, [&](const Dims& e) {
                const std::string sp = cat("[", e[0], ", ", e[1], "], [", e[2], ", ", e[3], "]");
                return t.channels_last ? "[[0, 0], " + sp + ", [0, 0]]" : "[[0, 0], [0, 0], " + sp + "]";
            });
            os << "y = tf.nn.conv" << (rank == 1 ? "1d" : nd) << "_transpose(x, w, output_shape=" << list_sp(t.output_shape)
               << ", strides=" << list_sp(get(at, "strides")) << ", padding=" << pad << ", data_format=\""
               << get_text(at, "data_format") << "\", dilations=" << list_sp(get(at, "dilations")) << ")";
            if (L.bias) os << "\ny = tf.nn.bias_add(y, b, data_format=\"" << get_text(at, "data_format") << "\")";
            break;
        }
        case Framework::keras: {
            os << "layer = keras.layers.Conv" << (rank == 1 ? "1D" : rank == 2 ? "2D" : "3D") << "Transpose(filters="
               << target.oc << ", kernel_size=" << tuple_sp(target.k) << ", strides=" << tuple_sp(get(at, "strides"))
               << ", padding=\"" << get_text(at, "padding") << "\"";
            if (at.count("output_padding")) os << ", output_padding=" << tuple_sp(get(at, "output_padding"));
            os << ", data_format=\"" << get_text(at, "data_format") << "\", dilation_rate="
               << tuple_sp(get(at, "dilation_rate")) << ", use_bias=" << (L.bias ? "True" : "False") << ")\n";
            os << "layer.build(" << tuple_sp(L.input_shape) << "); layer.set_weights([w" << (L.bias ? ", b" : "") << "])\n";
            os << "y = layer(x)";
            break;
        }
        case Framework::onnx: {
            os << "node = onnx.helper.make_node(\"ConvTranspose\", [\"X\", \"W\"" << (L.bias ? ", \"B\"" : "") << "], [\"Y\"]";
            for (const auto& [key, v] : at) {
                if (const std::string* s = std::get_if<std::string>(&v)) os << ", " << key << "=\"" << *s << "\"";
                else if (const Dims* d = std::get_if<Dims>(&v)) os << ", " << key << "=" << (key == "group" ? std::to_string((*d)[0]) : list_sp(*d));
            }
            os << ")";
            break;
        }
        case Framework::jax: {
            const std::string pad = padding_code(at, [&](const Dims& e) {
                std::string r = "(";
                for (int a = 0; a < rank; ++a) r += cat(a ? ", " : "", "(", e[2 * a], ", ", e[2 * a + 1], ")");
                return r + (rank == 1 ? ",)" : ")");
            });
            static const char* dn[] = {"(\"NWC\", \"WIO\", \"NWC\")", "(\"NHWC\", \"HWIO\", \"NHWC\")",
                                       "(\"NDHWC\", \"DHWIO\", \"NDHWC\")"};
            const bool tk = std::get<bool>(at.at("transpose_kernel"));
            os << "y = jax.lax.conv_transpose(x, w, strides=" << tuple_sp(get(at, "strides")) << ", padding=" << pad
               << ", rhs_dilation=" << tuple_sp(get(at, "rhs_dilation")) << ", dimension_numbers=" << dn[rank - 1]
               << ", transpose_kernel=" << (tk ? "True" : "False") << ")";
            if (L.bias) os << "\ny = y + b";
            break;
        }
        case Framework::mxnet:
            os << "y = mx.nd.Deconvolution(data=x, weight=w" << (L.bias ? ", bias=b" : "") << ", kernel="
               << tuple_sp(target.k) << ", stride=" << tuple_sp(get(at, "stride")) << ", dilate=" << tuple_sp(get(at, "dilate"))
               << ", pad=" << tuple_sp(get(at, "pad")) << ", adj=" << tuple_sp(get(at, "adj")) << ", num_filter=" << target.oc
               << ", num_group=" << target.g << ", no_bias=" << (L.bias ? "False" : "True") << ")";
            break;
        case Framework::onednn: {
            auto braces = [](const Dims& v) { return cat("{", dims_str(v, ','), "}"); };
            os << "// src " << braces(L.input_shape) << " (plain N C spatial), weights " << braces(L.weight_shape) << " ("
               << t.weights.str() << "), dst " << braces(t.output_shape) << "\n";
            os << "auto pd = dnnl::deconvolution_forward::primitive_desc(eng, dnnl::prop_kind::forward_inference,\n"
                  "    dnnl::algorithm::deconvolution_direct, src_md, wei_md, "
               << (L.bias ? "bia_md" : "dnnl::memory::desc()") << ", dst_md,\n    /*strides*/ "
               << braces(get(at, "strides")) << ", /*dilates*/ " << braces(get(at, "dilates")) << ", /*padding_l*/ "
               << braces(get(at, "padding_l")) << ", /*padding_r*/ " << braces(get(at, "padding_r")) << ");";
            break;
        }
        case Framework::xnnpack: {
            auto v = [&](const char* key) { return get(at, key)[0]; };
            os << "xnn_create_deconvolution2d_nhwc_f32(" << v("padding_top") << ", " << v("padding_right") << ", "
               << v("padding_bottom") << ", " << v("padding_left") << ", " << target.k[0] << ", " << target.k[1] << ", "
               << v("stride_height") << ", " << v("stride_width") << ", " << v("dilation_height") << ", "
               << v("dilation_width") << ", " << target.g << ", " << target.ic / target.g << ", " << target.oc / target.g
               << ", " << target.ic << ", " << target.oc << ", w, " << (L.bias ? "b" : "NULL")
               << ", -INFINITY, INFINITY, 0, NULL, NULL, &op);\n";
            os << "xnn_reshape_deconvolution2d_nhwc_f32(op, " << target.mb << ", " << target.i[0] << ", " << target.i[1]
               << ", " << v("adjustment_height") << ", " << v("adjustment_width") << ", &out_h, &out_w, threadpool);";
            break;
        }
    }
    // The recipe, in the target's own terms.
    bool crop = false;
    for (int a = 0; a < rank; ++a) crop |= t.crop_begin[a] != 0 || t.crop_end[a] != 0;
    if (crop && L.framework != Framework::onednn && L.framework != Framework::xnnpack) {
        bool extend = false;
        for (int a = 0; a < rank; ++a) extend |= t.crop_begin[a] < 0 || t.crop_end[a] < 0;
        os << "\n# not expressible exactly: crop the result (tconv translate recipe)";
        if (extend) os << "; negative counts mean: pad with zeros";
        os << "\ny = y[" << (t.channels_last ? ":, " : ":, :, ");
        for (int a = 0; a < rank; ++a) {
            const int64_t b = std::max<int64_t>(t.crop_begin[a], 0), e = std::max<int64_t>(t.crop_end[a], 0);
            os << (a ? ", " : "") << b << ":" << (e ? std::to_string(-e) : "");
        }
        os << "]";
        if (extend) {
            os << "\n# then pad with zeros (begin, end) per spatial axis:";
            for (int a = 0; a < rank; ++a)
                os << " (" << std::max<int64_t>(-t.crop_begin[a], 0) << ", " << std::max<int64_t>(-t.crop_end[a], 0) << ")";
        }
        if (t.bias_after) os << "\ny = y + b  # bias added after the zero padding (per channel)";
    }
    return os.str();
}

// Proposes the target layer's attributes for problem p (whose window is `want`).
Layer propose(const Problem& p, Framework to, const Attrs& options, bool& representable, std::vector<std::string>& notes,
              bool& last) {
    const int rank = p.rank();
    const Window want = window(p);
    Layer L;
    L.framework = to;
    L.bias = p.bias;
    last = false;
    bool tk = false;
    for (const auto& [key, v] : options) {
        if (key == "channels_last" && std::get_if<bool>(&v)) last = std::get<bool>(v);
        else if (key == "transpose_kernel" && std::get_if<bool>(&v)) tk = std::get<bool>(v);
        else throw Error(cat("translate option '", key, "' is not known: use channels_last (tensorflow, keras) or "
                             "transpose_kernel (jax), both true or false"));
    }
    if (to == Framework::tensorflow || to == Framework::keras) {
        if (!options.count("channels_last")) last = true;
    } else if (to == Framework::jax || to == Framework::xnnpack) {
        last = true;
    } else {
        last = false;
    }
    if (to == Framework::jax) L.attrs["transpose_kernel"] = tk;

    // Groups and ranks the target cannot express at all.
    if (p.g != 1 && (to == Framework::tensorflow || to == Framework::keras || to == Framework::jax)) {
        representable = false;
        notes.push_back(cat(name(to), " transposed convolutions have no groups: run ", p.g,
                            " layers, one per group (input channels [j*", p.ic / p.g, ", (j+1)*", p.ic / p.g,
                            "), weight rows likewise), and concatenate their outputs along the channel axis"));
    }
    if (to == Framework::xnnpack && rank != 2) {
        representable = false;
        notes.push_back(cat("xnnpack has only a 2-D deconvolution; a ", rank,
                            "-D layer needs reshaping (a 1-D layer is a 2-D one with height 1)"));
    }

    WeightDims wd{p.g, p.ic / p.g, p.oc / p.g, p.k};
    const WeightLayout wl = layout_for(to, p.g, tk);
    L.weight_shape = compose(wl, wd);
    L.input_shape = input_shape(p, last);
    if (!representable) return L;

    Dims m(rank);  // output padding limit of PyTorch
    for (int a = 0; a < rank; ++a) m[a] = std::max(p.s[a], p.d[a]);

    switch (to) {
        case Framework::pytorch:
        case Framework::mxnet: {
            Dims pad(rank), op(rank);
            for (int a = 0; a < rank; ++a) {
                const int64_t lim = to == Framework::mxnet ? p.s[a] : m[a];
                pad[a] = std::max<int64_t>(0, std::min(want.b[a], want.e[a] + lim - 1));
                op[a] = clamp(pad[a] - want.e[a], 0, lim - 1);
            }
            if (to == Framework::pytorch) {
                L.attrs = {{"stride", p.s}, {"padding", pad}, {"output_padding", op}, {"groups", Dims{p.g}}, {"dilation", p.d}};
            } else {
                L.attrs = {{"kernel", p.k}, {"stride", p.s}, {"dilate", p.d}, {"pad", pad}, {"adj", op},
                           {"num_filter", Dims{p.oc}}, {"num_group", Dims{p.g}}, {"no_bias", !p.bias}};
            }
            break;
        }
        case Framework::onnx: {
            Dims pads(2 * rank), op(rank);
            for (int a = 0; a < rank; ++a) {
                pads[a] = std::max<int64_t>(want.b[a], 0);
                op[a] = clamp(-want.e[a], 0, m[a] - 1);
                pads[rank + a] = std::max<int64_t>(want.e[a] + op[a], 0);
            }
            L.attrs = {{"strides", p.s}, {"pads", pads}, {"output_padding", op}, {"dilations", p.d},
                       {"group", Dims{p.g}}, {"kernel_shape", p.k}};
            Problem q;
            if (try_parse(L, q) && window(q).b == want.b && window(q).e == want.e) break;
            // Outputs that start before the full output, or grow by a stride or more: output_shape does that.
            const Dims o = p.o();
            for (const char* ap : {"NOTSET", "SAME_UPPER", "SAME_LOWER"}) {
                Layer c = L;
                c.attrs = {{"strides", p.s}, {"output_shape", o}, {"dilations", p.d}, {"group", Dims{p.g}},
                           {"kernel_shape", p.k}, {"auto_pad", std::string(ap)}};
                Dims cop(rank);
                bool ok = true;
                for (int a = 0; a < rank && ok; ++a) {
                    ok = false;
                    for (int64_t x = 0; x < m[a] && !ok; ++x) {
                        const int64_t total = want.b[a] + want.e[a] + x;  // F + op - o
                        const int64_t half = detail::floor_div(total, 2);
                        const int64_t b = std::string(ap) == "SAME_UPPER" ? half : total - half;
                        if (b == want.b[a]) cop[a] = x, ok = true;
                    }
                }
                if (!ok) continue;
                c.attrs["output_padding"] = cop;
                if (try_parse(c, q) && window(q).b == want.b && window(q).e == want.e) return c;
            }
            break;
        }
        case Framework::onednn: {
            Dims pl(rank), dil(rank);
            for (int a = 0; a < rank; ++a) pl[a] = std::max<int64_t>(want.b[a], 0), dil[a] = p.d[a] - 1;
            L.attrs = {{"strides", p.s}, {"dilates", dil}, {"padding_l", pl}, {"padding_r", want.e}, {"groups", Dims{p.g}}};
            break;
        }
        case Framework::xnnpack: {
            Dims b(2), e(2), adj(2);
            for (int a = 0; a < 2; ++a) {
                b[a] = std::max<int64_t>(want.b[a], 0);
                adj[a] = clamp(-want.e[a], 0, p.s[a] - 1);
                e[a] = std::max<int64_t>(want.e[a] + adj[a], 0);
            }
            L.attrs = {{"padding_top", Dims{b[0]}},        {"padding_left", Dims{b[1]}},   {"padding_bottom", Dims{e[0]}},
                       {"padding_right", Dims{e[1]}},      {"stride_height", Dims{p.s[0]}}, {"stride_width", Dims{p.s[1]}},
                       {"dilation_height", Dims{p.d[0]}},  {"dilation_width", Dims{p.d[1]}}, {"groups", Dims{p.g}},
                       {"adjustment_height", Dims{adj[0]}}, {"adjustment_width", Dims{adj[1]}}};
            break;
        }
        case Framework::jax: {
            Problem q;
            for (const char* mode : {"SAME", "VALID"}) {
                Layer c = L;
                c.attrs = {{"strides", p.s}, {"padding", std::string(mode)}, {"rhs_dilation", p.d}, {"transpose_kernel", tk}};
                if (try_parse(c, q) && window(q).b == want.b && window(q).e == want.e) return c;
            }
            Dims pairs(2 * rank);
            for (int a = 0; a < rank; ++a) {  // negative padding is left to the recipe
                pairs[2 * a] = std::max<int64_t>(p.k_eff(a) - 1 - want.b[a], 0);
                pairs[2 * a + 1] = std::max<int64_t>(p.k_eff(a) - 1 - want.e[a], 0);
            }
            L.attrs = {{"strides", p.s}, {"padding", pairs}, {"rhs_dilation", p.d}, {"transpose_kernel", tk}};
            break;
        }
        case Framework::tensorflow: {
            const std::string fmt = tf_format(rank, last);
            const Dims o = p.o();
            Problem q;
            for (const char* mode : {"SAME", "VALID"}) {
                Layer c = L;
                c.attrs = {{"strides", p.s}, {"padding", std::string(mode)}, {"output_shape", o}, {"dilations", p.d},
                           {"data_format", fmt}};
                if (try_parse(c, q) && window(q).b == want.b && window(q).e == want.e) return c;
            }
            if (rank == 2) {
                Dims pads(4), out(2);
                for (int a = 0; a < 2; ++a) {
                    pads[2 * a] = std::max<int64_t>(want.b[a], 0);
                    pads[2 * a + 1] = std::max<int64_t>(want.e[a], 0);
                    // rows past the full output (output padding) are fine while the convolution still fits
                    out[a] = full(p, a) - pads[2 * a] - pads[2 * a + 1] + clamp(-want.e[a], 0, p.s[a] - 1);
                }
                L.attrs = {{"strides", p.s}, {"padding", pads}, {"output_shape", out}, {"dilations", p.d}, {"data_format", fmt}};
            } else {
                Dims out(rank);
                for (int a = 0; a < rank; ++a) out[a] = full(p, a) + clamp(-want.e[a], 0, p.s[a] - 1);
                L.attrs = {{"strides", p.s}, {"padding", std::string("VALID")}, {"output_shape", out}, {"dilations", p.d},
                           {"data_format", fmt}};
            }
            break;
        }
        case Framework::keras: {
            const std::string fmt = last ? "channels_last" : "channels_first";
            Problem q;
            for (const char* mode : {"same", "valid"}) {
                for (int64_t x = -1; x < *std::max_element(p.s.begin(), p.s.end()); ++x) {
                    Layer c = L;
                    c.attrs = {{"filters", Dims{p.oc}}, {"kernel_size", p.k}, {"strides", p.s}, {"padding", std::string(mode)},
                               {"data_format", fmt}, {"dilation_rate", p.d}, {"use_bias", p.bias}};
                    if (x >= 0) {  // per axis: the same output padding where the stride allows it
                        Dims op(rank);
                        for (int a = 0; a < rank; ++a) op[a] = std::min(x, p.s[a] - 1);
                        c.attrs["output_padding"] = op;
                    }
                    if (try_parse(c, q) && window(q).b == want.b && window(q).e == want.e) return c;
                }
            }
            Dims op(rank);
            for (int a = 0; a < rank; ++a) op[a] = clamp(-want.e[a], 0, p.s[a] - 1);
            L.attrs = {{"filters", Dims{p.oc}}, {"kernel_size", p.k}, {"strides", p.s}, {"padding", std::string("valid")},
                       {"output_padding", op}, {"data_format", fmt}, {"dilation_rate", p.d}, {"use_bias", p.bias}};
            break;
        }
    }
    return L;
}

}  // namespace

Problem to_problem(const Layer& layer) { return parse(layer); }

bool channels_last(const Layer& layer) { return is_channels_last(layer, rank_of(layer)); }

WeightLayout weight_layout(const Layer& layer) {
    const int rank = rank_of(layer);
    const Reader r{layer, rank, name(layer.framework)};
    return layout_for(layer.framework, groups_of(layer, rank), layer.framework == Framework::jax && r.flag("transpose_kernel", false));
}

Translation translate(const Layer& from, Framework to, const Attrs& options) {
    const Problem p = parse(from);
    const int rank = p.rank();
    Translation t;
    t.layer = propose(p, to, options, t.representable, t.notes, t.channels_last);
    t.weights = layout_for(to, p.g, to == Framework::jax && std::get<bool>(t.layer.attrs.at("transpose_kernel")));
    t.crop_begin.assign(rank, 0);
    t.crop_end.assign(rank, 0);
    if (!t.representable) {
        t.exact = false;
        t.final_shape = data_shape(p.mb, p.oc, p.o(), t.channels_last);
        t.code = "# " + t.notes.front();
        return t;
    }
    const Problem q = parse(t.layer);  // the target layer, read back by its own rules
    const Window want = window(p), got = window(q);
    for (int a = 0; a < rank; ++a) {
        t.crop_begin[a] = want.b[a] - got.b[a];
        t.crop_end[a] = want.e[a] - got.e[a];
        if (t.crop_begin[a] || t.crop_end[a]) t.exact = false;
        if (p.bias && (t.crop_begin[a] < 0 || t.crop_end[a] < 0)) t.bias_after = true;
    }
    if (t.bias_after) {
        t.layer.bias = false;
        if (to == Framework::mxnet) t.layer.attrs["no_bias"] = true;
        if (to == Framework::keras) t.layer.attrs["use_bias"] = false;
    }
    t.output_shape = data_shape(q.mb, q.oc, q.o(), t.channels_last);
    t.final_shape = data_shape(p.mb, p.oc, p.o(), t.channels_last);
    if (!t.exact) {
        std::ostringstream os;
        os << name(to) << " cannot express this layer's alignment exactly (cropped from the full output: begin "
           << tuple(want.b) << ", end " << tuple(want.e) << "; the closest " << name(to) << " layer crops begin "
           << tuple(got.b) << ", end " << tuple(got.e) << "). Recipe: run it, then crop begin " << tuple(t.crop_begin)
           << " and end " << tuple(t.crop_end) << " per spatial axis"
           << (t.bias_after ? " (negative: pad with zeros), then add the bias" : "") << ".";
        t.notes.push_back(os.str());
    }
    if (to == Framework::pytorch || to == Framework::mxnet) {
        for (int a = 0; a < rank; ++a)
            if (want.b[a] != want.e[a] && want.b[a] - want.e[a] != get(t.layer.attrs, to == Framework::pytorch ? "output_padding" : "adj")[a]) {
                t.notes.push_back("TF/JAX 'SAME' and ONNX SAME_UPPER put the odd pixel at the end; PyTorch's symmetric padding "
                                  "puts it at the begin, so such layers need the crop recipe");
                break;
            }
    }
    if (to == Framework::onednn)
        for (int a = 0; a < rank; ++a)
            if (want.e[a] < 0) {
                t.notes.push_back("oneDNN expresses output padding as a negative padding_r (as PyTorch's oneDNN path does)");
                break;
            }
    t.code = code_for(t, q);
    return t;
}

template <class T>
Tensor<T> convert_weights(View<const T> w, const WeightLayout& from, const WeightLayout& to, int64_t groups) {
    int n_k = 0;
    for (const auto& a : from.axes) n_k += a == "k";
    if (n_k != 1) throw Error("weight layout must name the spatial axes 'k' once");
    const int rank = static_cast<int>(w.shape.size()) - (static_cast<int>(from.axes.size()) - 1);
    if (rank < 1) throw Error(cat("weight shape (", dims_str(w.shape, ','), ") has no spatial axes for layout ", from.str()));
    const WeightDims d = decompose(from, w.shape, groups, rank, "source");
    Tensor<T> out(compose(to, d));
    // Strides of the canonical components (g, i, o, k[a]) in a layout.
    struct St {
        int64_t g = 0, i = 0, o = 0;
        Dims k;
    };
    auto strides = [&](const WeightLayout& lay) {
        const Dims shape = compose(lay, d);
        const Dims rm = detail::row_major_strides(shape);
        St st;
        st.k.assign(rank, 0);
        size_t j = 0;
        for (const auto& ax : lay.axes) {
            if (ax == "k") {
                for (int a = 0; a < rank; ++a) st.k[a] = rm[j + a];
                j += rank;
                continue;
            }
            const int64_t s = rm[j++];
            if (ax == "gi") st.g += s * d.ic_g, st.i += s;
            else if (ax == "go") st.g += s * d.oc_g, st.o += s;
            else if (ax == "g") st.g += s;
            else if (ax == "i") st.i += s;
            else st.o += s;
        }
        return st;
    };
    const St a = strides(from), b = strides(to);
    Dims ext = {d.g, d.ic_g, d.oc_g};
    ext.insert(ext.end(), d.k.begin(), d.k.end());
    detail::for_each_index(ext, [&](const int64_t* idx) {
        int64_t sa = idx[0] * a.g + idx[1] * a.i + idx[2] * a.o;
        int64_t sb = idx[0] * b.g + idx[1] * b.i + idx[2] * b.o;
        for (int x = 0; x < rank; ++x) {
            const int64_t k = idx[3 + x], kf = d.k[x] - 1 - k;
            sa += (from.flipped ? kf : k) * a.k[x];
            sb += (to.flipped ? kf : k) * b.k[x];
        }
        out.data[sb] = w.data[sa];
    });
    return out;
}

template Tensor<float> convert_weights(View<const float>, const WeightLayout&, const WeightLayout&, int64_t);
template Tensor<double> convert_weights(View<const double>, const WeightLayout&, const WeightLayout&, int64_t);

}  // namespace tconv::translate
