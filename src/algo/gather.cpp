// gather: "collect values" (seed 003's mental model #2, seed 002's zero-padded equivalence). Insert s-1
// zeros between input samples, pad by k_eff-1-pb at the begin and k_eff-1-pe+op at the end (a negative
// amount crops), then run a stride-1 convolution with the kernel spatially FLIPPED and its channel axes
// swapped. It multiplies by every inserted zero on purpose: it shows the model, not the fast way.
#include <vector>

#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

// The zero-inserted, padded input of one image and group holds icg * prod(o + k_eff - 1) values.
int64_t upsampled_elems(const Problem& p) {
    int64_t n = p.ic / p.g;
    const Dims o = p.o();
    for (int a = 0; a < p.rank(); ++a) n = detail::mul(n, o[a] + p.k_eff(a) - 1, "gather buffer");
    return n;
}

constexpr int64_t kMaxBuffer = int64_t(1) << 26;

std::string supports(const Problem& p, Direction) {
    int64_t n = 0;
    try {
        n = upsampled_elems(p);
    } catch (const Error&) {
        n = kMaxBuffer + 1;
    }
    if (n > kMaxBuffer)
        return detail::cat("its zero-inserted input would hold ", n, " values per image and group (limit ", kMaxBuffer, ")");
    return {};
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const Geometry G(p);
    Dims u(G.rank), lo(G.rank), keff(G.rank);
    for (int a = 0; a < G.rank; ++a) {
        keff[a] = p.k_eff(a);
        lo[a] = keff[a] - 1 - p.pb[a];
        u[a] = G.o[a] + keff[a] - 1;  // = (i-1)*s + 1 + lo + (k_eff-1-pe+op)
    }
    const Dims u_st = detail::row_major_strides(u);
    const int64_t usz = detail::prod(u);

    // The flipped kernel with channels swapped: flip[g][ocl][icl][k] = wei[g*icg+icl][ocl][K-1-k].
    std::vector<T> flip(static_cast<size_t>(p.g * G.ocg * G.icg * G.ksz));
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (int64_t ocl = 0; ocl < G.ocg; ++ocl)
            for (int64_t icl = 0; icl < G.icg; ++icl)
                detail::for_each_index(G.k, [&](const int64_t* kk) {
                    int64_t mirrored = 0;
                    for (int a = 0; a < G.rank; ++a) mirrored += (G.k[a] - 1 - kk[a]) * G.k_st[a];
                    flip[((grp * G.ocg + ocl) * G.icg + icl) * G.ksz + flat(kk, G.k_st)] =
                        wei[((grp * G.icg + icl) * G.ocg + ocl) * G.ksz + mirrored];
                });

    std::vector<T> up(static_cast<size_t>(G.icg * usz));
    for (int64_t n = 0; n < p.mb; ++n)
        for (int64_t grp = 0; grp < p.g; ++grp) {
            // Build the zero-inserted, padded input of this group's channels.
            for (int64_t icl = 0; icl < G.icg; ++icl) {
                const T* s = src + (n * p.ic + grp * G.icg + icl) * G.isz;
                detail::for_each_index(u, [&](const int64_t* uu) {
                    int64_t off = 0;
                    for (int a = 0; a < G.rank; ++a) {
                        const int64_t j = uu[a] - lo[a];  // position in the zero-inserted input
                        if (j < 0 || j % p.s[a] != 0 || j / p.s[a] >= G.i[a]) {
                            up[icl * usz + flat(uu, u_st)] = T(0);
                            return;
                        }
                        off += (j / p.s[a]) * G.i_st[a];
                    }
                    up[icl * usz + flat(uu, u_st)] = s[off];
                });
            }
            // Stride-1 convolution with the flipped kernel; dilation spaces the taps by d.
            for (int64_t ocl = 0; ocl < G.ocg; ++ocl) {
                const int64_t oc = grp * G.ocg + ocl;
                detail::for_each_index(G.o, [&](const int64_t* oo) {
                    T acc = bia ? bia[oc] : T(0);
                    for (int64_t icl = 0; icl < G.icg; ++icl)
                        detail::for_each_index(G.k, [&](const int64_t* kk) {
                            int64_t uoff = 0;
                            for (int a = 0; a < G.rank; ++a) uoff += (oo[a] + kk[a] * p.d[a]) * u_st[a];
                            acc += up[icl * usz + uoff] * flip[((grp * G.ocg + ocl) * G.icg + icl) * G.ksz + flat(kk, G.k_st)];
                        });
                    dst[(n * p.oc + oc) * G.osz + flat(oo, G.o_st)] = acc;
                });
            }
        }
}

}  // namespace

Algorithm gather() {
    return {"gather",
            "collect values: stride-1 convolution of the zero-inserted, padded input with the flipped kernel",
            supports,
            {forward<float>, nullptr, nullptr},
            {forward<double>, nullptr, nullptr}};
}

}  // namespace tconv::algo
