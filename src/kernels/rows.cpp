// The row kernels of the small-channel path (src/algo/rows.cpp), for each Highway target (this file is
// compiled once per target through foreach_target.h). Vectors run along the output row of one phase, so a
// layer with one to four output channels per group keeps every lane busy.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/rows.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "src/kernels/rows.hpp"

HWY_BEFORE_NAMESPACE();
namespace tconv::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// OCG output channels x CH vectors of positions stay in registers over all terms.
template <size_t OCG, size_t CH, class T>
HWY_ATTR HWY_INLINE void RowsBlock(const T* const* HWY_RESTRICT rows, const T* HWY_RESTRICT w, size_t nterms,
                                   size_t q0, T* HWY_RESTRICT out, size_t ldo) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V acc[OCG][CH];
    for (size_t o = 0; o < OCG; ++o)
        for (size_t c = 0; c < CH; ++c) acc[o][c] = hn::Zero(d);
    for (size_t j = 0; j < nterms; ++j) {
        const T* r = rows[j] + q0;
        V x[CH];
        for (size_t c = 0; c < CH; ++c) x[c] = hn::LoadU(d, r + c * N);
        for (size_t o = 0; o < OCG; ++o) {
            const V wv = hn::Set(d, w[j * OCG + o]);
            for (size_t c = 0; c < CH; ++c) acc[o][c] = hn::MulAdd(wv, x[c], acc[o][c]);
        }
    }
    for (size_t o = 0; o < OCG; ++o)
        for (size_t c = 0; c < CH; ++c) hn::StoreU(acc[o][c], d, out + o * ldo + q0 + c * N);
}

template <size_t OCG, class T>
HWY_ATTR void RowsOcg(const T* const* rows, const T* w, size_t nterms, size_t nvec, T* out, size_t ldo) {
    const size_t N = hn::Lanes(hn::ScalableTag<T>());
    constexpr size_t CH = OCG == 1 ? 8 : OCG == 2 ? 6 : 4;
    size_t v = 0;
    for (; v + CH <= nvec; v += CH) RowsBlock<OCG, CH>(rows, w, nterms, v * N, out, ldo);
    for (; v + 2 <= nvec; v += 2) RowsBlock<OCG, 2>(rows, w, nterms, v * N, out, ldo);
    for (; v < nvec; ++v) RowsBlock<OCG, 1>(rows, w, nterms, v * N, out, ldo);
}

template <class T>
HWY_ATTR void RowsT(const T* const* rows, const T* w, size_t nterms, size_t ocg, size_t nvec, T* out, size_t ldo) {
    switch (ocg) {
        case 1: return RowsOcg<1>(rows, w, nterms, nvec, out, ldo);
        case 2: return RowsOcg<2>(rows, w, nterms, nvec, out, ldo);
        case 3: return RowsOcg<3>(rows, w, nterms, nvec, out, ldo);
        default: return RowsOcg<4>(rows, w, nterms, nvec, out, ldo);
    }
}

// Both phases of a stride-2 row at once, interleaved into the output: dst[oc*ldd + 2q + r] = bias[oc] +
// sum_j w_r[j*OCG + oc] * rows_r[j][q] for q < n (phase r = 0: even outputs, 1: odd outputs).
template <size_t OCG, size_t CH, class T>
HWY_ATTR HWY_INLINE void Rows2Block(const T* const* HWY_RESTRICT ra, const T* HWY_RESTRICT wa, size_t na,
                                    const T* const* HWY_RESTRICT rb, const T* HWY_RESTRICT wb, size_t nb, size_t q0,
                                    size_t n, const T* HWY_RESTRICT bias, T* HWY_RESTRICT dst, size_t ldd) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V acc[2][OCG][CH];
    for (size_t o = 0; o < OCG; ++o)
        for (size_t c = 0; c < CH; ++c) acc[0][o][c] = acc[1][o][c] = hn::Set(d, bias[o]);
    for (size_t ph = 0; ph < 2; ++ph) {
        const T* const* rows = ph ? rb : ra;
        const T* w = ph ? wb : wa;
        const size_t nt = ph ? nb : na;
        for (size_t j = 0; j < nt; ++j) {
            const T* r = rows[j] + q0;
            V x[CH];
            for (size_t c = 0; c < CH; ++c) x[c] = hn::LoadU(d, r + c * N);
            for (size_t o = 0; o < OCG; ++o) {
                const V wv = hn::Set(d, w[j * OCG + o]);
                for (size_t c = 0; c < CH; ++c) acc[ph][o][c] = hn::MulAdd(wv, x[c], acc[ph][o][c]);
            }
        }
    }
    for (size_t o = 0; o < OCG; ++o)
        for (size_t c = 0; c < CH; ++c) {
            const size_t q = q0 + c * N;
            if (q + N <= n) {
                hn::StoreInterleaved2(acc[0][o][c], acc[1][o][c], d, dst + o * ldd + 2 * q);
            } else if (q < n) {  // the row's tail
                HWY_ALIGN T a[hn::MaxLanes(d)], b[hn::MaxLanes(d)];
                hn::Store(acc[0][o][c], d, a);
                hn::Store(acc[1][o][c], d, b);
                for (size_t m = 0; q + m < n; ++m) dst[o * ldd + 2 * (q + m)] = a[m], dst[o * ldd + 2 * (q + m) + 1] = b[m];
            }
        }
}

template <size_t OCG, class T>
HWY_ATTR void Rows2Ocg(const T* const* ra, const T* wa, size_t na, const T* const* rb, const T* wb, size_t nb,
                       size_t n, const T* bias, T* dst, size_t ldd) {
    const size_t N = hn::Lanes(hn::ScalableTag<T>());
    constexpr size_t CH = OCG == 1 ? 4 : OCG == 2 ? 3 : 2;
    const size_t nvec = (n + N - 1) / N;
    size_t v = 0;
    for (; v + CH <= nvec; v += CH) Rows2Block<OCG, CH>(ra, wa, na, rb, wb, nb, v * N, n, bias, dst, ldd);
    for (; v < nvec; ++v) Rows2Block<OCG, 1>(ra, wa, na, rb, wb, nb, v * N, n, bias, dst, ldd);
}

template <class T>
HWY_ATTR void Rows2T(const T* const* ra, const T* wa, size_t na, const T* const* rb, const T* wb, size_t nb,
                     size_t ocg, size_t n, const T* bias, T* dst, size_t ldd) {
    switch (ocg) {
        case 1: return Rows2Ocg<1>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd);
        case 2: return Rows2Ocg<2>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd);
        case 3: return Rows2Ocg<3>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd);
        default: return Rows2Ocg<4>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd);
    }
}

// dst[s*q + r] = src[r][q] + bias for q < n (whole vectors first, then the tail), s = 1 or 2.
template <class T>
HWY_ATTR void StoreRowT(const T* const* src, size_t s, size_t n, T bias, T* dst) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    const auto b = hn::Set(d, bias);
    size_t q = 0;
    if (s == 1) {
        for (; q + N <= n; q += N) hn::StoreU(hn::Add(hn::LoadU(d, src[0] + q), b), d, dst + q);
    } else {
        for (; q + N <= n; q += N)
            hn::StoreInterleaved2(hn::Add(hn::LoadU(d, src[0] + q), b), hn::Add(hn::LoadU(d, src[1] + q), b), d,
                                  dst + 2 * q);
    }
    for (; q < n; ++q)
        for (size_t r = 0; r < s; ++r) dst[s * q + r] = src[r][q] + bias;
}

HWY_ATTR void RowsF32(const float* const* rows, const float* w, size_t nterms, size_t ocg, size_t nvec, float* out,
                      size_t ldo) {
    RowsT(rows, w, nterms, ocg, nvec, out, ldo);
}
HWY_ATTR void RowsF64(const double* const* rows, const double* w, size_t nterms, size_t ocg, size_t nvec, double* out,
                      size_t ldo) {
    RowsT(rows, w, nterms, ocg, nvec, out, ldo);
}
HWY_ATTR void Rows2F32(const float* const* ra, const float* wa, size_t na, const float* const* rb, const float* wb,
                       size_t nb, size_t ocg, size_t n, const float* bias, float* dst, size_t ldd) {
    Rows2T(ra, wa, na, rb, wb, nb, ocg, n, bias, dst, ldd);
}
HWY_ATTR void Rows2F64(const double* const* ra, const double* wa, size_t na, const double* const* rb, const double* wb,
                       size_t nb, size_t ocg, size_t n, const double* bias, double* dst, size_t ldd) {
    Rows2T(ra, wa, na, rb, wb, nb, ocg, n, bias, dst, ldd);
}
HWY_ATTR void StoreRowF32(const float* const* src, size_t s, size_t n, float bias, float* dst) {
    StoreRowT(src, s, n, bias, dst);
}
HWY_ATTR void StoreRowF64(const double* const* src, size_t s, size_t n, double bias, double* dst) {
    StoreRowT(src, s, n, bias, dst);
}

}  // namespace tconv::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace tconv::kernels {

HWY_EXPORT(RowsF32);
HWY_EXPORT(RowsF64);
HWY_EXPORT(StoreRowF32);
HWY_EXPORT(StoreRowF64);
HWY_EXPORT(Rows2F32);
HWY_EXPORT(Rows2F64);

namespace {

template <class T>
const std::vector<RowKernels<T>>& table() {
    static const std::vector<RowKernels<T>> t = [] {
        std::vector<RowKernels<T>> r;
        for (int64_t tg : hwy::SupportedAndGeneratedTargets()) {
            hwy::GetChosenTarget().Update(tg);
            RowKernels<T> k;
            if constexpr (sizeof(T) == 4) {
                k.rows = &HWY_DYNAMIC_DISPATCH(RowsF32);
                k.rows2 = &HWY_DYNAMIC_DISPATCH(Rows2F32);
                k.store = &HWY_DYNAMIC_DISPATCH(StoreRowF32);
            } else {
                k.rows = &HWY_DYNAMIC_DISPATCH(RowsF64);
                k.rows2 = &HWY_DYNAMIC_DISPATCH(Rows2F64);
                k.store = &HWY_DYNAMIC_DISPATCH(StoreRowF64);
            }
            r.push_back(k);
        }
        hwy::GetChosenTarget().Update(hwy::SupportedTargets());
        return r;
    }();
    return t;
}

}  // namespace

template <class T>
RowKernels<T> row_kernels(const std::string& target) {
    const auto& ks = kernel_set(target);  // validates the name
    const auto& all = kernel_targets();   // the same order as SupportedAndGeneratedTargets()
    for (size_t j = 0; j < all.size(); ++j)
        if (all[j].target == ks.target) {
            RowKernels<T> r = table<T>()[j];
            r.lanes = (sizeof(T) == 4 ? all[j].f32.nr : all[j].f64.nr) / 2;
            return r;
        }
    return {};
}
template RowKernels<float> row_kernels<float>(const std::string&);
template RowKernels<double> row_kernels<double>(const std::string&);

}  // namespace tconv::kernels
#endif  // HWY_ONCE
