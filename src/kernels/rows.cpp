// The row kernels of the small-channel path (src/algo/rows.cpp), for each Highway target (this file is
// compiled once per target through foreach_target.h). Vectors run along the output row of one phase, so a
// layer with one to four output channels per group keeps every lane busy.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/rows.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>

#include "src/kernels/rows.hpp"
#include "src/kernels/zip-inl.h"

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
                                    size_t n, const T* HWY_RESTRICT bias, T* HWY_RESTRICT dst, size_t ldd,
                                    bool stream, size_t tofs) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V acc[2][OCG][CH];
#pragma GCC unroll 4
    for (size_t o = 0; o < OCG; ++o)
#pragma GCC unroll 4
        for (size_t c = 0; c < CH; ++c) acc[0][o][c] = acc[1][o][c] = hn::Set(d, bias[o]);
    // (Each phase's loop indexes its accumulators with constants, so they stay in registers: a loop over the
    // phase would index them at run time and keep them in memory, a store-to-load chain per term.)
    const auto terms = [&](const T* const* HWY_RESTRICT rows, const T* HWY_RESTRICT w, size_t nt, V (&a)[OCG][CH])
                           HWY_ATTR {
        for (size_t j = 0; j < nt; ++j) {
            const T* r = rows[j] + tofs + q0;
            V x[CH];
            for (size_t c = 0; c < CH; ++c) x[c] = hn::LoadU(d, r + c * N);
            for (size_t o = 0; o < OCG; ++o) {
                const V wv = hn::Set(d, w[j * OCG + o]);
                for (size_t c = 0; c < CH; ++c) a[o][c] = hn::MulAdd(wv, x[c], a[o][c]);
            }
        }
    };
    terms(ra, wa, na, acc[0]);
    terms(rb, wb, nb, acc[1]);
#pragma GCC unroll 4
    for (size_t o = 0; o < OCG; ++o)
#pragma GCC unroll 4
        for (size_t c = 0; c < CH; ++c) {
            const size_t q = q0 + c * N;
            T* HWY_RESTRICT out = dst + o * ldd + 2 * q;
            if (q + N <= n && stream && reinterpret_cast<uintptr_t>(out) % (N * sizeof(T)) == 0) {
                HWY_ALIGN T both[2 * hn::MaxLanes(d)];
                Zip2(d, acc[0][o][c], acc[1][o][c], both);
                hn::Stream(hn::Load(d, both), d, out);
                hn::Stream(hn::Load(d, both + N), d, out + N);
            } else if (q + N <= n) {
                Zip2(d, acc[0][o][c], acc[1][o][c], out);
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
                       size_t n, const T* bias, T* dst, size_t ldd, bool stream, size_t nrep, size_t tstep,
                       size_t dstep) {
    const size_t N = hn::Lanes(hn::ScalableTag<T>());
    constexpr size_t CH = OCG == 1 ? 4 : OCG == 2 ? 3 : 2;
    const size_t nvec = (n + N - 1) / N;
    for (size_t rep = 0; rep < nrep; ++rep) {
        T* const d = dst + rep * dstep;
        const size_t tofs = rep * tstep;
        size_t v = 0;
        for (; v + CH <= nvec; v += CH) Rows2Block<OCG, CH>(ra, wa, na, rb, wb, nb, v * N, n, bias, d, ldd, stream, tofs);
        for (; v < nvec; ++v) Rows2Block<OCG, 1>(ra, wa, na, rb, wb, nb, v * N, n, bias, d, ldd, stream, tofs);
    }
}

template <class T>
HWY_ATTR void Rows2T(const T* const* ra, const T* wa, size_t na, const T* const* rb, const T* wb, size_t nb,
                     size_t ocg, size_t n, const T* bias, T* dst, size_t ldd, bool stream, size_t nrep, size_t tstep,
                     size_t dstep) {
    switch (ocg) {
        case 1: return Rows2Ocg<1>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd, stream, nrep, tstep, dstep);
        case 2: return Rows2Ocg<2>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd, stream, nrep, tstep, dstep);
        case 3: return Rows2Ocg<3>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd, stream, nrep, tstep, dstep);
        default: return Rows2Ocg<4>(ra, wa, na, rb, wb, nb, n, bias, dst, ldd, stream, nrep, tstep, dstep);
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

// Depthwise, channels-last (DwLastFn): CH vectors of channels in registers over every tap of one output.
// Vector c holds the channels from c0 + c*N, the last one moved back by `back` channels (a channel count
// that is not a multiple of N: the channels it shares with the previous vector get the same values twice).
template <size_t CH, class T>
HWY_ATTR HWY_INLINE void DwLastBlock(const T* const* HWY_RESTRICT in, const int64_t* base, const int64_t* lo,
                                     const int64_t* hi, const T* const* HWY_RESTRICT w, size_t ntaps, size_t istep,
                                     int64_t q, size_t c0, size_t back, const T* HWY_RESTRICT bias, T* HWY_RESTRICT out) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    size_t co[CH];
    for (size_t c = 0; c < CH; ++c) co[c] = c0 + c * N - (c + 1 == CH ? back : 0);
    V acc[CH];
    for (size_t c = 0; c < CH; ++c) acc[c] = hn::LoadU(d, bias + co[c]);
    for (size_t t = 0; t < ntaps; ++t) {
        if (q < lo[t] || q >= hi[t]) continue;
        const T* x = in[t] + static_cast<size_t>(q + base[t]) * istep;
        const T* wt = w[t];
        for (size_t c = 0; c < CH; ++c) acc[c] = hn::MulAdd(hn::LoadU(d, wt + co[c]), hn::LoadU(d, x + co[c]), acc[c]);
    }
    for (size_t c = 0; c < CH; ++c) hn::StoreU(acc[c], d, out + co[c]);
}

// The outputs every tap reaches, [qa, qb), for NT taps and CH vectors of channels from c0 (the last moved
// back by `back`): the weights and the bias stay in registers over the whole stretch.
template <size_t NT, size_t CH, class T>
HWY_ATTR HWY_INLINE void DwLastRun(const T* const* HWY_RESTRICT in, const int64_t* base, const T* const* HWY_RESTRICT w,
                                   size_t istep, int64_t qa, int64_t qb, size_t c0, size_t back, const T* HWY_RESTRICT bias,
                                   T* HWY_RESTRICT out, size_t ostep, bool stream) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    size_t co[CH];
    for (size_t c = 0; c < CH; ++c) co[c] = c * N - (c + 1 == CH ? back : 0);
    V wv[NT][CH], bv[CH];
    const T* x[NT];
    for (size_t t = 0; t < NT; ++t) {
        x[t] = in[t] + static_cast<size_t>(qa + base[t]) * istep + c0;
        for (size_t c = 0; c < CH; ++c) wv[t][c] = hn::LoadU(d, w[t] + c0 + co[c]);
    }
    for (size_t c = 0; c < CH; ++c) bv[c] = hn::LoadU(d, bias + c0 + co[c]);
    T* o = out + static_cast<size_t>(qa) * ostep + c0;
    // Streaming stores (no read of the destination line first) where every store is vector-aligned.
    stream = stream && back == 0 && reinterpret_cast<uintptr_t>(o) % (N * sizeof(T)) == 0 && ostep % N == 0;
    for (int64_t q = qa; q < qb; ++q, o += ostep) {
        V acc[CH];
        for (size_t c = 0; c < CH; ++c) acc[c] = bv[c];
        for (size_t t = 0; t < NT; ++t) {
            for (size_t c = 0; c < CH; ++c) acc[c] = hn::MulAdd(wv[t][c], hn::LoadU(d, x[t] + co[c]), acc[c]);
            x[t] += istep;
        }
        if (stream)
            for (size_t c = 0; c < CH; ++c) hn::Stream(acc[c], d, o + co[c]);
        else
            for (size_t c = 0; c < CH; ++c) hn::StoreU(acc[c], d, o + co[c]);
    }
}

template <size_t CH, class T>
HWY_ATTR void DwLastColumns(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi,
                            const T* const* w, size_t ntaps, size_t istep, size_t Q, size_t c0, size_t back,
                            const T* bias, T* out, size_t ostep, bool stream) {
    int64_t qa = 0, qb = static_cast<int64_t>(Q);
    for (size_t t = 0; t < ntaps; ++t) qa = std::max(qa, lo[t]), qb = std::min(qb, hi[t]);
    if (qb <= qa || ntaps > 4) qa = qb = static_cast<int64_t>(Q);  // no stretch: every output checked
    for (int64_t q = 0; q < qa; ++q) DwLastBlock<CH>(in, base, lo, hi, w, ntaps, istep, q, c0, back, bias, out + q * ostep);
    switch (ntaps) {
        case 0: for (int64_t q = qa; q < qb; ++q) DwLastBlock<CH>(in, base, lo, hi, w, 0, istep, q, c0, back, bias, out + q * ostep); break;
        case 1: DwLastRun<1, CH>(in, base, w, istep, qa, qb, c0, back, bias, out, ostep, stream); break;
        case 2: DwLastRun<2, CH>(in, base, w, istep, qa, qb, c0, back, bias, out, ostep, stream); break;
        case 3: DwLastRun<3, CH>(in, base, w, istep, qa, qb, c0, back, bias, out, ostep, stream); break;
        case 4: DwLastRun<4, CH>(in, base, w, istep, qa, qb, c0, back, bias, out, ostep, stream); break;
        default: break;
    }
    for (int64_t q = std::max(qa, qb); q < static_cast<int64_t>(Q); ++q)
        DwLastBlock<CH>(in, base, lo, hi, w, ntaps, istep, q, c0, back, bias, out + q * ostep);
}

template <class T>
HWY_ATTR void DwLastT(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi, const T* const* w,
                      size_t ntaps, size_t C, size_t istep, size_t Q, const T* bias, T* out, size_t ostep, bool stream) {
    const size_t N = hn::Lanes(hn::ScalableTag<T>());
    size_t c0 = 0;
    for (; c0 + 4 * N <= C; c0 += 4 * N) DwLastColumns<4>(in, base, lo, hi, w, ntaps, istep, Q, c0, 0, bias, out, ostep, stream);
    // The rest (under 4 vectors) in one pass; a partial last vector is moved back to end at channel C.
    if (c0 < C && C >= N) {
        const size_t nv = (C - c0 + N - 1) / N, back = nv * N - (C - c0);
        switch (nv) {
            case 1: DwLastColumns<1>(in, base, lo, hi, w, ntaps, istep, Q, c0, back, bias, out, ostep, stream); break;
            case 2: DwLastColumns<2>(in, base, lo, hi, w, ntaps, istep, Q, c0, back, bias, out, ostep, stream); break;
            case 3: DwLastColumns<3>(in, base, lo, hi, w, ntaps, istep, Q, c0, back, bias, out, ostep, stream); break;
            default: DwLastColumns<4>(in, base, lo, hi, w, ntaps, istep, Q, c0, back, bias, out, ostep, stream); break;
        }
        c0 = C;
    }
    for (size_t qq = 0; qq < Q && c0 < C; ++qq) {  // fewer channels than a vector
        const int64_t q = static_cast<int64_t>(qq);
        for (size_t c = c0; c < C; ++c) {
            T acc = bias[c];
            for (size_t t = 0; t < ntaps; ++t)
                if (q >= lo[t] && q < hi[t]) acc += w[t][c] * in[t][static_cast<size_t>(q + base[t]) * istep + c];
            out[qq * ostep + c] = acc;
        }
    }
    if (stream) hwy::FlushStream();  // the streamed values are visible before the task ends
}

// Few output channels, channels-last (DotLastFn): P outputs x OCG channels of vector partial sums over the
// taps and the whole vectors of K, then summed across lanes; the K tail as one more vector (or in scalars
// when K is under a vector), partial blocks one output at a time.
template <size_t P, size_t OCG, class T>
HWY_ATTR HWY_INLINE void DotLastBlock(const T* const* HWY_RESTRICT in, const int64_t* base, const int64_t* lo,
                                      const int64_t* hi, const T* const* HWY_RESTRICT w, size_t ntaps, size_t K, size_t istep,
                                      int64_t q, const T* HWY_RESTRICT bias, T* HWY_RESTRICT out, size_t ostep,
                                      bool checked) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    const size_t Kv = K / N * N;
    V acc[P][OCG];
    T tail[P][OCG];
    for (size_t p = 0; p < P; ++p)
        for (size_t o = 0; o < OCG; ++o) acc[p][o] = hn::Zero(d), tail[p][o] = T(0);
    for (size_t t = 0; t < ntaps; ++t) {
        if (checked && (q < lo[t] || q >= hi[t])) continue;  // P == 1 when checked
        const T* x = in[t] + static_cast<size_t>(q + base[t]) * istep;
        const T* wt = w[t];
        for (size_t c = 0; c < Kv; c += N) {
            V xv[P];
            for (size_t p = 0; p < P; ++p) xv[p] = hn::LoadU(d, x + p * istep + c);
            for (size_t o = 0; o < OCG; ++o) {
                const V wv = hn::LoadU(d, wt + o * K + c);
                for (size_t p = 0; p < P; ++p) acc[p][o] = hn::MulAdd(wv, xv[p], acc[p][o]);
            }
        }
        if (Kv < K && K >= N) {
            // The channels past the last whole vector: the last N channels as one vector, with the weights of
            // those already summed (the first N - (K - Kv) lanes) zeroed.
            const auto done = hn::FirstN(d, N - (K - Kv));
            V xv[P];
            for (size_t p = 0; p < P; ++p) xv[p] = hn::LoadU(d, x + p * istep + K - N);
            for (size_t o = 0; o < OCG; ++o) {
                const V wv = hn::IfThenZeroElse(done, hn::LoadU(d, wt + o * K + K - N));
                for (size_t p = 0; p < P; ++p) acc[p][o] = hn::MulAdd(wv, xv[p], acc[p][o]);
            }
        } else {
            for (size_t c = Kv; c < K; ++c)
                for (size_t o = 0; o < OCG; ++o)
                    for (size_t p = 0; p < P; ++p) tail[p][o] += wt[o * K + c] * x[p * istep + c];
        }
    }
    for (size_t p = 0; p < P; ++p)
        for (size_t o = 0; o < OCG; ++o)
            out[(static_cast<size_t>(q) + p) * ostep + o] = bias[o] + hn::GetLane(hn::SumOfLanes(d, acc[p][o])) + tail[p][o];
}

template <size_t OCG, class T>
HWY_ATTR void DotLastOcg(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi, const T* const* w,
                         size_t ntaps, size_t K, size_t istep, size_t Q, const T* bias, T* out, size_t ostep) {
    constexpr size_t P = OCG <= 2 ? 6 : 4;
    // Outputs every tap reaches, [qa, qb): blocks of P there; one at a time, checked, elsewhere.
    int64_t qa = 0, qb = static_cast<int64_t>(Q);
    for (size_t t = 0; t < ntaps; ++t) qa = std::max(qa, lo[t]), qb = std::min(qb, hi[t]);
    int64_t q = 0;
    for (; q < std::min(qa, static_cast<int64_t>(Q)); ++q) DotLastBlock<1, OCG>(in, base, lo, hi, w, ntaps, K, istep, q, bias, out, ostep, true);
    for (; q + static_cast<int64_t>(P) <= qb; q += P) DotLastBlock<P, OCG>(in, base, lo, hi, w, ntaps, K, istep, q, bias, out, ostep, false);
    for (; q < static_cast<int64_t>(Q); ++q) DotLastBlock<1, OCG>(in, base, lo, hi, w, ntaps, K, istep, q, bias, out, ostep, true);
}

template <class T>
HWY_ATTR void DotLastT(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi, const T* const* w,
                       size_t ntaps, size_t K, size_t ocg, size_t istep, size_t Q, const T* bias, T* out, size_t ostep) {
    switch (ocg) {
        case 1: return DotLastOcg<1>(in, base, lo, hi, w, ntaps, K, istep, Q, bias, out, ostep);
        case 2: return DotLastOcg<2>(in, base, lo, hi, w, ntaps, K, istep, Q, bias, out, ostep);
        case 3: return DotLastOcg<3>(in, base, lo, hi, w, ntaps, K, istep, Q, bias, out, ostep);
        default: return DotLastOcg<4>(in, base, lo, hi, w, ntaps, K, istep, Q, bias, out, ostep);
    }
}

#define TCONV_LAST_KERNELS(T, SUFFIX)                                                                               \
    HWY_ATTR void DwLast##SUFFIX(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi,     \
                                 const T* const* w, size_t ntaps, size_t C, size_t istep, size_t Q, const T* bias, T* out, \
                                 size_t ostep, bool stream) {                                                       \
        DwLastT(in, base, lo, hi, w, ntaps, C, istep, Q, bias, out, ostep, stream);                                         \
    }                                                                                                               \
    HWY_ATTR void DotLast##SUFFIX(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi,    \
                                  const T* const* w, size_t ntaps, size_t K, size_t ocg, size_t istep, size_t Q,           \
                                  const T* bias, T* out, size_t ostep) {                                            \
        DotLastT(in, base, lo, hi, w, ntaps, K, ocg, istep, Q, bias, out, ostep);                                   \
    }
TCONV_LAST_KERNELS(float, F32)
TCONV_LAST_KERNELS(double, F64)
#undef TCONV_LAST_KERNELS

HWY_ATTR void RowsF32(const float* const* rows, const float* w, size_t nterms, size_t ocg, size_t nvec, float* out,
                      size_t ldo) {
    RowsT(rows, w, nterms, ocg, nvec, out, ldo);
}
HWY_ATTR void RowsF64(const double* const* rows, const double* w, size_t nterms, size_t ocg, size_t nvec, double* out,
                      size_t ldo) {
    RowsT(rows, w, nterms, ocg, nvec, out, ldo);
}
HWY_ATTR void Rows2F32(const float* const* ra, const float* wa, size_t na, const float* const* rb, const float* wb,
                       size_t nb, size_t ocg, size_t n, const float* bias, float* dst, size_t ldd, bool stream,
                       size_t nrep, size_t tstep, size_t dstep) {
    Rows2T(ra, wa, na, rb, wb, nb, ocg, n, bias, dst, ldd, stream, nrep, tstep, dstep);
}
HWY_ATTR void Rows2F64(const double* const* ra, const double* wa, size_t na, const double* const* rb, const double* wb,
                       size_t nb, size_t ocg, size_t n, const double* bias, double* dst, size_t ldd, bool stream,
                       size_t nrep, size_t tstep, size_t dstep) {
    Rows2T(ra, wa, na, rb, wb, nb, ocg, n, bias, dst, ldd, stream, nrep, tstep, dstep);
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
HWY_EXPORT(DwLastF32);
HWY_EXPORT(DwLastF64);
HWY_EXPORT(DotLastF32);
HWY_EXPORT(DotLastF64);

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
                k.dw_last = &HWY_DYNAMIC_DISPATCH(DwLastF32);
                k.dot_last = &HWY_DYNAMIC_DISPATCH(DotLastF32);
            } else {
                k.rows = &HWY_DYNAMIC_DISPATCH(RowsF64);
                k.rows2 = &HWY_DYNAMIC_DISPATCH(Rows2F64);
                k.store = &HWY_DYNAMIC_DISPATCH(StoreRowF64);
                k.dw_last = &HWY_DYNAMIC_DISPATCH(DwLastF64);
                k.dot_last = &HWY_DYNAMIC_DISPATCH(DotLastF64);
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
