// The problem description: one transposed convolution (or its adjoint, a regular convolution) of any
// spatial rank, with the exact PyTorch/ONNX size rules, and its canonical one-line string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tconv {

using Dims = std::vector<int64_t>;

enum class Kind {
    transposed,  // src (mb, ic, i...) -> dst (mb, oc, o...), wei (ic, oc/g, k...): the scatter
    conv,        // src (mb, ic, i...) -> dst (mb, oc, o...), wei (oc, ic/g, k...): the regular convolution
};

// Field names follow one vocabulary (see docs/design.md): mb g ic oc, and per spatial axis
// i (input size), k (kernel), s (stride), d (dilation, 1 = dense), pb/pe (padding cropped from the begin /
// end of the full output), op (output padding). For Kind::transposed `i` is the small side.
//
// Transposed, per axis:  o = s*(i-1) + d*(k-1) + 1 - pb - pe + op
//   Negative pb/pe are allowed: they extend the output with positions no tap reaches (zero plus bias);
//   ONNX needs this when output_shape is larger than the full output.
// Conv, per axis:        o = floor((i + pb + pe - d*(k-1) - 1) / s) + 1, with pb, pe >= 0 and op = 0.
struct Problem {
    Kind kind = Kind::transposed;
    int64_t mb = 1, g = 1, ic = 1, oc = 1;
    Dims i, k, s, d, pb, pe, op;
    bool bias = false;

    int rank() const { return static_cast<int>(i.size()); }

    // Throws tconv::Error naming the first broken rule. Every other function assumes a valid problem.
    void validate() const;

    // Output spatial sizes; validates first.
    Dims o() const;
    // Effective kernel extent d*(k-1)+1 of one axis.
    int64_t k_eff(int a) const { return d[a] * (k[a] - 1) + 1; }

    // Element counts of the tensors (validated, overflow-checked).
    int64_t src_elems() const;
    int64_t wei_elems() const;
    int64_t dst_elems() const;
    // Tensor shapes: src (mb, ic, i...), dst (mb, oc, o...), bia (oc), wei as documented on Kind.
    Dims src_shape() const;
    Dims wei_shape() const;
    Dims dst_shape() const;

    // The adjoint problem: a regular convolution becomes the transposed convolution with the same weight
    // tensor that maps its output back to its input size (ic and oc swap, op takes the rounding remainder);
    // a transposed convolution becomes the regular convolution whose input gradient it is (requires op < s
    // on every axis, otherwise the convolution would produce extra outputs).
    Problem adjoint() const;

    // Canonical one-line form, e.g. "mb1_ic1_oc1_i2x2_k3_s2_p1". parse(str()) == *this.
    std::string str() const;
    static Problem parse(std::string_view text);

    bool operator==(const Problem&) const = default;
};

// Build a problem the way torch.nn.functional.conv_transpose{1,2,3}d describes it. Per-axis parameters
// may hold one value (used for every axis) or one per axis. `padding` is symmetric.
Problem pytorch_problem(int64_t mb, int64_t ic, int64_t oc, const Dims& in, const Dims& kernel,
                        const Dims& stride = {1}, const Dims& padding = {0}, const Dims& output_padding = {0},
                        int64_t groups = 1, const Dims& dilation = {1}, bool bias = false);

// PyTorch's forward(output_size=...): the requested spatial sizes must lie in [min, min + s - 1] where
// min is the size with op = 0; returns the problem with op set to size - min.
Problem with_output_size(Problem p, const Dims& output_size);

// Broadcast a one-value list to `rank` values; a list of `rank` values is returned as is.
Dims broadcast(const Dims& v, int rank, const char* name);

std::string dims_str(const Dims& v, char sep = 'x');

}  // namespace tconv
