// scatter: the literal definition, "distribute values" (seed 000, seed 003's mental model #1), and the
// reference every other algorithm is tested against. Written to be read, never optimised:
//   every input value src[n, ic, i] times every kernel weight wei[ic, oc, k] is added to dst[n, oc, o]
//   at o = i*s - pb + k*d (per axis), for the oc of ic's group; what falls outside [0, o) is cropped.
// Its gradients are the same sum read the other ways.
#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const Geometry G(p);
    // Start every output channel at its bias (or zero): positions no tap reaches keep exactly that.
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t oc = 0; oc < p.oc; ++oc)
            for (int64_t x = 0; x < G.osz; ++x) dst[(n * p.oc + oc) * G.osz + x] = bia ? bia[oc] : T(0);

    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t ic = 0; ic < p.ic; ++ic) {
            const int64_t grp = ic / G.icg;
            detail::for_each_index(G.i, [&](const int64_t* ii) {
                const T value = src[(n * p.ic + ic) * G.isz + flat(ii, G.i_st)];
                for (int64_t ocl = 0; ocl < G.ocg; ++ocl) {
                    const int64_t oc = grp * G.ocg + ocl;
                    detail::for_each_index(G.k, [&](const int64_t* kk) {
                        int64_t o;
                        if (!tap_target(p, G, ii, kk, o)) return;  // cropped by the padding
                        dst[(n * p.oc + oc) * G.osz + o] += value * wei[(ic * G.ocg + ocl) * G.ksz + flat(kk, G.k_st)];
                    });
                }
            });
        }
}

// diff_src[n, ic, i] = sum over (oc, k) of diff_dst[n, oc, o(i, k)] * wei[ic, oc, k]: each input position
// collects back what it distributed.
template <class T>
void backward_data(const Problem& p, const T* diff_dst, const T* wei, T* diff_src) {
    const Geometry G(p);
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t ic = 0; ic < p.ic; ++ic) {
            const int64_t grp = ic / G.icg;
            detail::for_each_index(G.i, [&](const int64_t* ii) {
                T acc = 0;
                for (int64_t ocl = 0; ocl < G.ocg; ++ocl) {
                    const int64_t oc = grp * G.ocg + ocl;
                    detail::for_each_index(G.k, [&](const int64_t* kk) {
                        int64_t o;
                        if (!tap_target(p, G, ii, kk, o)) return;
                        acc += diff_dst[(n * p.oc + oc) * G.osz + o] * wei[(ic * G.ocg + ocl) * G.ksz + flat(kk, G.k_st)];
                    });
                }
                diff_src[(n * p.ic + ic) * G.isz + flat(ii, G.i_st)] = acc;
            });
        }
}

// diff_wei[ic, oc, k] = sum over (n, i) of src[n, ic, i] * diff_dst[n, oc, o(i, k)];
// diff_bia[oc] = sum over (n, o) of diff_dst[n, oc, o].
template <class T>
void backward_weights(const Problem& p, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia) {
    const Geometry G(p);
    for (int64_t ic = 0; ic < p.ic; ++ic) {
        const int64_t grp = ic / G.icg;
        for (int64_t ocl = 0; ocl < G.ocg; ++ocl) {
            const int64_t oc = grp * G.ocg + ocl;
            detail::for_each_index(G.k, [&](const int64_t* kk) {
                T acc = 0;
                for (int64_t n = 0; n < p.mb; ++n)
                    detail::for_each_index(G.i, [&](const int64_t* ii) {
                        int64_t o;
                        if (!tap_target(p, G, ii, kk, o)) return;
                        acc += src[(n * p.ic + ic) * G.isz + flat(ii, G.i_st)] * diff_dst[(n * p.oc + oc) * G.osz + o];
                    });
                diff_wei[(ic * G.ocg + ocl) * G.ksz + flat(kk, G.k_st)] = acc;
            });
        }
    }
    if (!diff_bia) return;
    for (int64_t oc = 0; oc < p.oc; ++oc) {
        T acc = 0;
        for (int64_t n = 0; n < p.mb; ++n)
            for (int64_t x = 0; x < G.osz; ++x) acc += diff_dst[(n * p.oc + oc) * G.osz + x];
        diff_bia[oc] = acc;
    }
}

}  // namespace

Algorithm scatter() {
    return {"scatter",
            "reference: each input value times the kernel, added at its strided place (distribute values)",
            always_supported,
            {forward<float>, backward_data<float>, backward_weights<float>},
            {forward<double>, backward_data<double>, backward_weights<double>}};
}

}  // namespace tconv::algo
