// The Winograd transforms of the winograd path (src/algo/winograd.cpp), per target (included by gemm.cpp
// inside its per-target namespace, once per target through foreach_target.h).
//
// Per axis a tile kind: 0 the identity (one tap: alpha = m = 1), 1 F(2,2) (two taps, 2 outputs from 3 values), 2
// F(3,2) (two taps, 3 outputs from 4), 3 F(2,3) (three taps, 2 outputs from 4), 4 F(6,2) (two taps, 6 outputs from
// 7; along the last axis of layers whose other axes have one tap per phase only). The correlation
// y[i] = sum_t h[t] x[i + t] (i < m, t < r) is y = A^T [(G h) . (B^T x)]; the points are 0, -1, inf (F(2,2)) and
// 0, 1, -1, inf (kinds 2 and 3), so B^T and A^T hold only 0 and +-1 (additions) and G halves: with small-integer
// data every value stays exact. F(6,2) takes the points 0, 1, -1, 2, -2, 1/2, inf: B^T holds small integers, A^T
// powers of two, G fractions such as 1/18 and 32/45 (rounded: its results are not exact). A 2-D tile applies the
// kinds of both axes (rows first).
#if defined(TCONV_KERNELS_WINOGRAD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TCONV_KERNELS_WINOGRAD_INL_H_
#undef TCONV_KERNELS_WINOGRAD_INL_H_
#else
#define TCONV_KERNELS_WINOGRAD_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tconv::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace wino {
constexpr int kAlpha[5] = {1, 3, 4, 4, 7};
constexpr int kM[5] = {1, 2, 3, 2, 6};
// B^T [kind][alpha][alpha] and A^T [kind][m][alpha] (unused entries zero).
constexpr float kBT[5][7][7] = {
    {{1}},
    {{1, 1, 0}, {0, 1, 0}, {0, 1, 1}},
    {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, -1, 0, 1}},
    {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, -1, 0, 1}},
    {{4, -8, -5, 10, 1, -2, 0},
     {0, -4, 4, 9, -1, -2, 0},
     {0, -4, 12, -7, -3, 2, 0},
     {0, 2, -3, -4, 3, 2, 0},
     {0, 2, -5, 0, 5, -2, 0},
     {0, 4, 0, -5, 0, 1, 0},
     {0, -4, 8, 5, -10, -1, 2}},
};
constexpr float kAT[5][6][7] = {
    {{1}},
    {{1, 1, 0}, {0, -1, 1}},
    {{1, 1, 1, 0}, {0, 1, -1, 0}, {0, 1, 1, 1}},
    {{1, 1, 1, 0}, {0, 1, -1, 1}},
    {{1, 1, 1, 1, 1, 1, 0},
     {0, 1, -1, 2, -2, 0.5f, 0},
     {0, 1, 1, 4, 4, 0.25f, 0},
     {0, 1, -1, 8, -8, 0.125f, 0},
     {0, 1, 1, 16, 16, 0.0625f, 0},
     {0, 1, -1, 32, -32, 0.03125f, 1}},
};

// s (+)= c * x for a coefficient c known after unrolling: additions for +-1, else a multiply-add.
template <class D, class V>
HWY_ATTR HWY_INLINE void Acc(D d, float c, V x, V& s, bool& first) {
    if (c == 0) return;
    using T = hn::TFromD<D>;
    if (first) {
        s = c == 1 ? x : c == -1 ? hn::Neg(x) : hn::Mul(hn::Set(d, static_cast<T>(c)), x);
        first = false;
    } else {
        s = c == 1 ? hn::Add(s, x) : c == -1 ? hn::Sub(s, x) : hn::MulAdd(hn::Set(d, static_cast<T>(c)), x, s);
    }
}

// One vector of channels: in[i][j] (alpha_h x alpha_w values) -> out[i][j] = (B_h^T in B_w)[i][j].
template <int KH, int KW, class V, class D>
HWY_ATTR HWY_INLINE void InTile(D d, const V (&x)[4][8], V (&v)[4][8]) {
    constexpr int AH = kAlpha[KH], AW = kAlpha[KW];
    V t[4][8];
#pragma GCC unroll 8
    for (int i = 0; i < AH; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < AW; ++j) {
            bool first = true;
            t[i][j] = hn::Zero(d);
#pragma GCC unroll 8
            for (int l = 0; l < AH; ++l) Acc(d, kBT[KH][i][l], x[l][j], t[i][j], first);
        }
#pragma GCC unroll 8
    for (int i = 0; i < AH; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < AW; ++j) {
            bool first = true;
            v[i][j] = hn::Zero(d);
#pragma GCC unroll 8
            for (int l = 0; l < AW; ++l) Acc(d, kBT[KW][j][l], t[i][l], v[i][j], first);
        }
}

// The input transform of one tile: px[i*alpha_w + j] points at the n channels of the tile's value (i, j) (a row
// of zeros outside the source); v[(i*alpha_w + j)*ldv + c] = the transformed value of channel c < n.
// kStrided: value (i, j) at base + i*rs + j*cs instead (a tile wholly inside the source: no pointer table).
template <class T, int KH, int KW, bool kStrided = false>
HWY_ATTR void InT(const T* const* HWY_RESTRICT px, size_t n, T* HWY_RESTRICT v, size_t ldv, const T* base = nullptr,
                  size_t rs = 0, size_t cs = 0) {
    constexpr int AH = kAlpha[KH], AW = kAlpha[KW];
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V x[4][8], o[4][8];
    size_t c = 0;
    for (; c + N <= n; c += N) {
#pragma GCC unroll 8
        for (int i = 0; i < AH; ++i)
#pragma GCC unroll 8
            for (int j = 0; j < AW; ++j)
                x[i][j] = hn::LoadU(d, (kStrided ? base + i * rs + j * cs : px[i * AW + j]) + c);
        InTile<KH, KW>(d, x, o);
#pragma GCC unroll 8
        for (int i = 0; i < AH; ++i)
#pragma GCC unroll 8
            for (int j = 0; j < AW; ++j) hn::StoreU(o[i][j], d, v + (i * AW + j) * ldv + c);
    }
    if (c < n) {  // the last channels: through a buffer (nothing past channel n is read or written)
        HWY_ALIGN T buf[hn::MaxLanes(d)];
        const size_t r = n - c;
        for (int i = 0; i < AH; ++i)
            for (int j = 0; j < AW; ++j) {
                hn::Store(hn::Zero(d), d, buf);
                const T* p = kStrided ? base + i * rs + j * cs : px[i * AW + j];
                for (size_t e = 0; e < r; ++e) buf[e] = p[c + e];
                x[i][j] = hn::Load(d, buf);
            }
        InTile<KH, KW>(d, x, o);
        for (int i = 0; i < AH; ++i)
            for (int j = 0; j < AW; ++j) {
                hn::Store(o[i][j], d, buf);
                for (size_t e = 0; e < r; ++e) v[(i * AW + j) * ldv + c + e] = buf[e];
            }
    }
}

// One vector of channels: y = A_h^T m A_w plus the bias.
template <int KH, int KW, class V, class D>
HWY_ATTR HWY_INLINE void OutTile(D d, const V (&mv)[4][8], V b, V (&y)[3][6]) {
    constexpr int AH = kAlpha[KH], AW = kAlpha[KW], MH = kM[KH], MW = kM[KW];
    V t[3][8];
#pragma GCC unroll 8
    for (int i = 0; i < MH; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < AW; ++j) {
            bool first = true;
            t[i][j] = hn::Zero(d);
#pragma GCC unroll 8
            for (int l = 0; l < AH; ++l) Acc(d, kAT[KH][i][l], mv[l][j], t[i][j], first);
        }
#pragma GCC unroll 8
    for (int i = 0; i < MH; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < MW; ++j) {
            V s = b;
#pragma GCC unroll 8
            for (int l = 0; l < AW; ++l) {
                const float c = kAT[KW][j][l];
                if (c == 1) s = hn::Add(s, t[i][l]);
                else if (c == -1) s = hn::Sub(s, t[i][l]);
                else if (c != 0) s = hn::MulAdd(hn::Set(d, static_cast<hn::TFromD<D>>(c)), t[i][l], s);
            }
            y[i][j] = s;
        }
}

// The output transform of one tile: m[(i*alpha_w + j)*ldm + c] holds the tile's products, channel c < n;
// out[i*m_w + j][c] = (A_h^T m A_w)[i][j] + bias[c] (out: the destination of output (i, j), or a sink row).
// kStrided: output (i, j) at base + i*rs + j*cs instead (every output of the tile inside the destination); stream:
// its whole vectors that start on a vector boundary are streamed (no read of the destination lines).
template <class T, int KH, int KW, bool kStrided = false>
HWY_ATTR void OutT(const T* HWY_RESTRICT m, size_t ldm, size_t n, const T* HWY_RESTRICT bias, T* const* HWY_RESTRICT out,
                   T* base = nullptr, size_t rs = 0, size_t cs = 0, bool stream = false) {
    constexpr int AH = kAlpha[KH], AW = kAlpha[KW], MH = kM[KH], MW = kM[KW];
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V x[4][8], y[3][6];
    size_t c = 0;
    for (; c + N <= n; c += N) {
#pragma GCC unroll 8
        for (int i = 0; i < AH; ++i)
#pragma GCC unroll 8
            for (int j = 0; j < AW; ++j) x[i][j] = hn::LoadU(d, m + (i * AW + j) * ldm + c);
        // Row by row (the same sums in the same order as OutTile): a row's AW partial sums and MW outputs live at
        // once, not the whole tile's (kinds 2 x 2 held 16 + 12 + 9 vectors, over the 32 registers of AVX-512).
        const V b = hn::LoadU(d, bias + c);
#pragma GCC unroll 8
        for (int i = 0; i < MH; ++i) {
            V t[8];
#pragma GCC unroll 8
            for (int j = 0; j < AW; ++j) {
                bool first = true;
                t[j] = hn::Zero(d);
#pragma GCC unroll 8
                for (int l = 0; l < AH; ++l) Acc(d, kAT[KH][i][l], x[l][j], t[j], first);
            }
#pragma GCC unroll 8
            for (int j = 0; j < MW; ++j) {
                V sum = b;
#pragma GCC unroll 8
                for (int l = 0; l < AW; ++l) {
                    const float cf = kAT[KW][j][l];
                    if (cf == 1) sum = hn::Add(sum, t[l]);
                    else if (cf == -1) sum = hn::Sub(sum, t[l]);
                    else if (cf != 0) sum = hn::MulAdd(hn::Set(d, static_cast<T>(cf)), t[l], sum);
                }
                T* const p = (kStrided ? base + i * rs + j * cs : out[i * MW + j]) + c;
                if (kStrided && stream && reinterpret_cast<uintptr_t>(p) % (N * sizeof(T)) == 0)
                    hn::Stream(sum, d, p);
                else
                    hn::StoreU(sum, d, p);
            }
        }
    }
    if (c < n) {
        HWY_ALIGN T buf[hn::MaxLanes(d)];
        const size_t r = n - c;
        for (int i = 0; i < AH; ++i)
            for (int j = 0; j < AW; ++j) {
                hn::Store(hn::Zero(d), d, buf);
                for (size_t e = 0; e < r; ++e) buf[e] = m[(i * AW + j) * ldm + c + e];
                x[i][j] = hn::Load(d, buf);
            }
        hn::Store(hn::Zero(d), d, buf);
        for (size_t e = 0; e < r; ++e) buf[e] = bias[c + e];
        OutTile<KH, KW>(d, x, hn::Load(d, buf), y);
        for (int i = 0; i < MH; ++i)
            for (int j = 0; j < MW; ++j) {
                hn::Store(y[i][j], d, buf);
                T* p = kStrided ? base + i * rs + j * cs : out[i * MW + j];
                for (size_t e = 0; e < r; ++e) p[c + e] = buf[e];
            }
    }
}

template <class T, bool kStrided>
HWY_ATTR void In(int kh, int kw, const T* const* px, size_t n, T* v, size_t ldv, const T* base, size_t rs, size_t cs) {
#define TCONV_WIN(A, B) \
    if (kh == A && kw == B) return InT<T, A, B, kStrided>(px, n, v, ldv, base, rs, cs);
    TCONV_WIN(0, 0) TCONV_WIN(0, 1) TCONV_WIN(0, 2) TCONV_WIN(0, 3)
    TCONV_WIN(1, 0) TCONV_WIN(1, 1) TCONV_WIN(1, 2) TCONV_WIN(1, 3)
    TCONV_WIN(2, 0) TCONV_WIN(2, 1) TCONV_WIN(2, 2) TCONV_WIN(2, 3)
    TCONV_WIN(3, 0) TCONV_WIN(3, 1) TCONV_WIN(3, 2) TCONV_WIN(3, 3)
    TCONV_WIN(0, 4)
#undef TCONV_WIN
}

template <class T, bool kStrided>
HWY_ATTR void Out(int kh, int kw, const T* m, size_t ldm, size_t n, const T* bias, T* const* out, T* base, size_t rs,
                  size_t cs, bool stream) {
#define TCONV_WOUT(A, B) \
    if (kh == A && kw == B) return OutT<T, A, B, kStrided>(m, ldm, n, bias, out, base, rs, cs, stream);
    TCONV_WOUT(0, 0) TCONV_WOUT(0, 1) TCONV_WOUT(0, 2) TCONV_WOUT(0, 3)
    TCONV_WOUT(1, 0) TCONV_WOUT(1, 1) TCONV_WOUT(1, 2) TCONV_WOUT(1, 3)
    TCONV_WOUT(2, 0) TCONV_WOUT(2, 1) TCONV_WOUT(2, 2) TCONV_WOUT(2, 3)
    TCONV_WOUT(3, 0) TCONV_WOUT(3, 1) TCONV_WOUT(3, 2) TCONV_WOUT(3, 3)
    TCONV_WOUT(0, 4)
#undef TCONV_WOUT
}
}  // namespace wino

}  // namespace tconv::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
