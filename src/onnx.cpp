// ONNX ConvTranspose attributes -> tconv::Problem, following the operator specification and its Python
// reference implementation (floor division where the total padding is split, so a negative total puts
// the extra row at the end, as the official test_convtranspose_output_shape case expects).
#include "tconv/onnx.hpp"

#include "tconv/error.hpp"
#include "util.hpp"

namespace tconv::onnx {

using detail::cat;

namespace {

Dims or_default(const Dims& v, int rank, int64_t dflt, const char* name) {
    if (v.empty()) return Dims(rank, dflt);
    if (static_cast<int>(v.size()) != rank)
        throw Error(cat("ONNX attribute ", name, " has ", v.size(), " values (", dims_str(v, ','), ") but X has ", rank,
                        " spatial axes"));
    return v;
}

}  // namespace

Problem problem(const Dims& x_shape, const Dims& w_shape, bool has_bias, const Attributes& at) {
    if (x_shape.size() < 3)
        throw Error(cat("ONNX input X has shape (", dims_str(x_shape, ','), "): it needs N, C and at least 1 spatial axis"));
    const int rank = static_cast<int>(x_shape.size()) - 2;
    if (static_cast<int>(w_shape.size()) != rank + 2)
        throw Error(cat("ONNX input W has shape (", dims_str(w_shape, ','), ") but X has ", rank,
                        " spatial axes: W must be (C, M/group, k1, ..., k", rank, ")"));
    if (at.group <= 0) throw Error(cat("ONNX attribute group=", at.group, " must be positive"));
    if (w_shape[0] != x_shape[1])
        throw Error(cat("ONNX input W has W[0]=", w_shape[0], " input channels but X has C=", x_shape[1]));
    const std::string& ap = at.auto_pad;
    if (ap != "NOTSET" && ap != "SAME_UPPER" && ap != "SAME_LOWER" && ap != "VALID")
        throw Error(cat("ONNX attribute auto_pad='", ap, "' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID"));

    Problem p;
    p.mb = x_shape[0];
    p.ic = x_shape[1];
    p.g = at.group;
    p.oc = detail::mul(w_shape[1], at.group, "output channels M = W[1]*group");
    p.i.assign(x_shape.begin() + 2, x_shape.end());
    const Dims wk(w_shape.begin() + 2, w_shape.end());
    p.k = at.kernel_shape.empty() ? wk : or_default(at.kernel_shape, rank, 0, "kernel_shape");
    if (p.k != wk)
        throw Error(cat("ONNX attribute kernel_shape=(", dims_str(p.k, ','), ") does not match W's kernel (",
                        dims_str(wk, ','), ")"));
    p.s = or_default(at.strides, rank, 1, "strides");
    p.d = or_default(at.dilations, rank, 1, "dilations");
    p.op = or_default(at.output_padding, rank, 0, "output_padding");
    p.bias = has_bias;
    p.pb.assign(rank, 0);
    p.pe.assign(rank, 0);
    p.validate();  // every size and sign is checked before the padding arithmetic below

    // The full output plus output padding, per axis: s*(i-1) + op + d*(k-1) + 1.
    auto full = [&](int a) {
        const std::string what = cat("ONNX output size of axis ", a);
        return detail::add(detail::add(detail::mul(p.s[a], p.i[a] - 1, what), p.op[a], what),
                           detail::add(detail::mul(p.d[a], p.k[a] - 1, what), 1, what), what);
    };
    // Split a total padding: SAME_UPPER puts the smaller half first, everything else the larger half.
    auto split = [&](int a, int64_t total) {
        const int64_t half = detail::floor_div(total, 2);
        if (ap == "SAME_UPPER") {
            p.pb[a] = half;
            p.pe[a] = total - half;
        } else {
            p.pb[a] = total - half;
            p.pe[a] = half;
        }
    };

    if (!at.output_shape.empty()) {
        const Dims os = or_default(at.output_shape, rank, 0, "output_shape");
        for (int a = 0; a < rank; ++a) {
            if (os[a] <= 0) throw Error(cat("ONNX attribute ", detail::at("output_shape", a, os[a]), " must be positive"));
            split(a, full(a) - os[a]);  // negative when the requested output is larger: extends with zeros
        }
    } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
        for (int a = 0; a < rank; ++a) {
            const int64_t target = detail::mul(p.i[a], p.s[a], "ONNX SAME output size i*s");
            const int64_t total = full(a) - target;
            split(a, std::max<int64_t>(total, 0));
            if (total < 0) p.pe[a] += total;  // a kernel shorter than the stride: zeros at the end up to i*s
        }
    } else if (ap == "NOTSET") {
        if (!at.pads.empty()) {
            if (static_cast<int>(at.pads.size()) != 2 * rank)
                throw Error(cat("ONNX attribute pads has ", at.pads.size(), " values (", dims_str(at.pads, ','),
                                ") but needs 2*", rank, "=", 2 * rank, ": all begins, then all ends"));
            for (int a = 0; a < rank; ++a) {
                p.pb[a] = at.pads[a];
                p.pe[a] = at.pads[rank + a];
                if (p.pb[a] < 0 || p.pe[a] < 0)
                    throw Error(cat("ONNX attribute pads=(", dims_str(at.pads, ','), ") must not be negative"));
            }
        }
    }  // VALID: no padding
    p.validate();
    return p;
}

}  // namespace tconv::onnx
