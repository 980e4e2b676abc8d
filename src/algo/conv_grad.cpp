// conv_grad: the transposed convolution computed as the input gradient of the regular convolution
// (seed 001: the transpose of a strided convolution as a linear map; seed 003's "Advanced" note).
// The problem is turned into its adjoint convolution q (x: q.i, y: q.o, y[j] = sum_k w[k] x[j*s - pb + k*d]),
// and dL/dx[x] is formed the way a convolution's backward pass writes it: for every tap k, the output j
// that read x through k must satisfy j*s = x + pb - k*d, so it exists only when s divides x + pb - k*d.
// Its own gradient, the transposed convolution's backward_data, is then q's forward pass.
#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

std::string supports(const Problem& p, Direction) {
    for (int a = 0; a < p.rank(); ++a) {
        if (p.op[a] >= p.s[a])
            return detail::cat("output_padding op[", a, "]=", p.op[a], " is not smaller than stride s[", a, "]=", p.s[a],
                               ": no convolution with these parameters has this input size");
        if (p.pb[a] < 0 || p.pe[a] < 0) return "negative padding has no convolution adjoint";
    }
    return {};
}

// The input gradient of convolution q: weights (q.oc, q.ic/g, k) = the transposed problem's wei.
template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const Problem q = p.adjoint();   // q.i = conv input (our output), q.o() = conv output (our input)
    const Geometry G(p);            // strides of our tensors: i = conv output, o = conv input
    const int64_t qicg = q.ic / q.g, qocg = q.oc / q.g;
    const Dims y = q.o();
    for (int64_t n = 0; n < q.mb; ++n)
        for (int64_t xc = 0; xc < q.ic; ++xc) {  // conv input channel = our output channel
            const int64_t grp = xc / qicg;
            detail::for_each_index(q.i, [&](const int64_t* xx) {
                T grad = bia ? bia[xc] : T(0);
                for (int64_t ycl = 0; ycl < qocg; ++ycl) {
                    const int64_t yc = grp * qocg + ycl;  // conv output channel = our input channel
                    detail::for_each_index(q.k, [&](const int64_t* kk) {
                        int64_t yoff = 0;
                        for (int a = 0; a < q.rank(); ++a) {
                            const int64_t t = xx[a] + q.pb[a] - kk[a] * q.d[a];
                            if (t < 0 || t % q.s[a] != 0 || t / q.s[a] >= y[a]) return;
                            yoff += (t / q.s[a]) * G.i_st[a];
                        }
                        grad += src[(n * q.oc + yc) * G.isz + yoff] * wei[(yc * qicg + xc % qicg) * G.ksz + flat(kk, G.k_st)];
                    });
                }
                dst[(n * q.ic + xc) * G.osz + flat(xx, G.o_st)] = grad;
            });
        }
}

// The convolution's forward pass: y[n, yc, j] = sum over (xc, k) of x[n, xc, j*s - pb + k*d] * w[yc, xc, k].
template <class T>
void backward_data(const Problem& p, const T* diff_dst, const T* wei, T* diff_src) {
    const Problem q = p.adjoint();
    const Geometry G(p);
    const int64_t qicg = q.ic / q.g, qocg = q.oc / q.g;
    for (int64_t n = 0; n < q.mb; ++n)
        for (int64_t yc = 0; yc < q.oc; ++yc) {
            const int64_t grp = yc / qocg;
            detail::for_each_index(G.i, [&](const int64_t* jj) {
                T acc = 0;
                for (int64_t xcl = 0; xcl < qicg; ++xcl)
                    detail::for_each_index(q.k, [&](const int64_t* kk) {
                        int64_t xoff = 0;
                        for (int a = 0; a < q.rank(); ++a) {
                            const int64_t x = jj[a] * q.s[a] - q.pb[a] + kk[a] * q.d[a];
                            if (x < 0 || x >= q.i[a]) return;  // reads the convolution's zero padding
                            xoff += x * G.o_st[a];
                        }
                        acc += diff_dst[(n * q.ic + grp * qicg + xcl) * G.osz + xoff] *
                               wei[(yc * qicg + xcl) * G.ksz + flat(kk, G.k_st)];
                    });
                diff_src[(n * q.oc + yc) * G.isz + flat(jj, G.i_st)] = acc;
            });
        }
}

}  // namespace

Algorithm conv_grad() {
    return {"conv_grad",
            "the input gradient of the adjoint regular convolution (taps where s divides x + pb - k*d)",
            supports,
            {forward<float>, backward_data<float>, nullptr},
            {forward<double>, backward_data<double>, nullptr}};
}

}  // namespace tconv::algo
