// The GEMM micro-kernel for each Highway target (this file is compiled once per target through
// foreach_target.h). MR rows of A are broadcast, 2 vectors of B are loaded, MR x 2 accumulators stay in
// registers for the whole kc loop: MR = 12 where 32 vector registers exist (AVX-512), 6 elsewhere.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/gemm.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/cache_control.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "src/kernels/gemm.hpp"
#include "src/kernels/zip-inl.h"
#include "src/kernels/winograd-inl.h"
#include "src/util.hpp"

HWY_BEFORE_NAMESPACE();
namespace tconv::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
constexpr size_t kMR = 12;
#else
constexpr size_t kMR = 6;
#endif

// kRowsA = false: A(k, m) = a[k*lda + m]. kRowsA = true: A stored by rows, A(k, m) = a[m*lda + k]
// (channels-last data read in place, or a panel packed as [MR][kc]); rows are addressed from one base per
// 3 rows plus 0, lda and 2*lda, so every broadcast is a single load with a scaled index and few registers
// hold pointers. The product is summed over nseg segments (the taps of a tile: segment i reads A at a[i]
// with stride lda[i] and B at b + boff[i]); the accumulators stay in registers across them and C is read
// (add) or not (zero start) once and written once.
// kHalves: the width of B and C in half vectors: 4 (two vectors, the usual NR), 3 (a vector and a half, for
// narrow layers such as 21 channels: 24 columns instead of 32) or 2 (one vector).
// kInd: A read through row pointers instead, A(k, m) = a[s*MR + m][lda[s] + k] for segment s (channels-last
// positions, whose sources need not be evenly spaced; rows outside the source point at zeros).
// kDirect: no C; row m of the result plus the bias goes straight to drows[m] + col0 (add is false), with
// streaming stores when `stream` (every drows[m] + col0 then vector-aligned).
// kM: the rows per call (MR; fewer, a multiple of 3, for the last tiles of a block: GemmSegRowsPartT).
template <class T, bool kRowsA, size_t kHalves = 4, bool kInd = false, bool kDirect = false, size_t kM = kMR>
HWY_INLINE HWY_ATTR void GemmSegBody(const T* const* HWY_RESTRICT a, const size_t* HWY_RESTRICT lda,
                                     const T* HWY_RESTRICT b, const size_t* HWY_RESTRICT boff, size_t nseg,
                                     size_t kc, T* HWY_RESTRICT c, size_t ldc, bool add, T* const* drows = nullptr,
                                     size_t col0 = 0, const T* HWY_RESTRICT bias = nullptr, bool stream = false) {
    static_assert(kM % 3 == 0 && kM <= kMR && kHalves >= 2 && kHalves <= 4);
    const hn::ScalableTag<T> d;
    // The second part: a whole vector (kHalves 4), a half one (3; LowerHalf of a broadcast is free), or none.
    using D2 = std::conditional_t<kHalves == 3, hn::Half<decltype(d)>, decltype(d)>;
    const D2 d2;
    const size_t N = hn::Lanes(d), W = kHalves * N / 2;
    using V = hn::Vec<decltype(d)>;
    using V2 = hn::Vec<D2>;
    constexpr bool kTwo = kHalves > 2;
    V acc0[kM];
    V2 acc1[kM];
    if (add) {
#pragma GCC unroll 16
        for (size_t m = 0; m < kM; ++m) {
            acc0[m] = hn::LoadU(d, c + m * ldc);
            if constexpr (kTwo) acc1[m] = hn::LoadU(d2, c + m * ldc + N);
        }
    } else {
#pragma GCC unroll 16
        for (size_t m = 0; m < kM; ++m) {
            acc0[m] = hn::Zero(d);
            if constexpr (kTwo) acc1[m] = hn::Zero(d2);
        }
    }
    for (size_t s = 0; s < nseg; ++s) {
        const T* HWY_RESTRICT as = kInd ? nullptr : a[s];
        const size_t ls = kInd ? 0 : lda[s];
        const T* HWY_RESTRICT bs = b + boff[s];
        const T* base[kM / 3];
        const T* rp[kM];
        if constexpr (kInd) {
#pragma GCC unroll 16
            for (size_t m = 0; m < kM; ++m) rp[m] = a[s * kM + m] + lda[s];
            // Short rows (a few channels of each position, a position's stride apart): the next segment's rows
            // are requested now, as the hardware prefetchers do not find them.
            if (s + 1 < nseg && kc * sizeof(T) <= static_cast<size_t>(detail::kPrefetchRowBytes)) {
#pragma GCC unroll 16
                for (size_t m = 0; m < kM; ++m) detail::prefetch_row(a[(s + 1) * kM + m] + lda[s + 1], kc * sizeof(T));
            }
        } else {
#pragma GCC unroll 16
            for (size_t r = 0; r < kM / 3; ++r) base[r] = as + 3 * r * ls;
        }
        for (size_t k = 0; k < kc; ++k) {
            const V b0 = hn::LoadU(d, bs + k * W);
            V2 b1;
            if constexpr (kTwo) b1 = hn::LoadU(d2, bs + k * W + N);
            const T* ak = as + k * ls;
#pragma GCC unroll 16
            for (size_t m = 0; m < kM; ++m) {
                const V am = hn::Set(d, kInd ? rp[m][k] : kRowsA ? base[m / 3][k + (m % 3) * ls] : ak[m]);
                acc0[m] = hn::MulAdd(am, b0, acc0[m]);
                if constexpr (kHalves == 4) acc1[m] = hn::MulAdd(am, b1, acc1[m]);
                if constexpr (kHalves == 3) acc1[m] = hn::MulAdd(hn::LowerHalf(d2, am), b1, acc1[m]);
            }
        }
    }
    if constexpr (kDirect) {
        const V bias0 = hn::LoadU(d, bias);
        V2 bias1;
        if constexpr (kTwo) bias1 = hn::LoadU(d2, bias + N);
        if (stream && kHalves != 3) {
#pragma GCC unroll 16
            for (size_t m = 0; m < kM; ++m) {
                hn::Stream(hn::Add(acc0[m], bias0), d, drows[m] + col0);
                if constexpr (kHalves == 4) hn::Stream(hn::Add(acc1[m], bias1), d, drows[m] + col0 + N);
            }
            return;
        }
#pragma GCC unroll 16
        for (size_t m = 0; m < kM; ++m) {
            hn::StoreU(hn::Add(acc0[m], bias0), d, drows[m] + col0);
            if constexpr (kTwo) hn::StoreU(hn::Add(acc1[m], bias1), d2, drows[m] + col0 + N);
        }
        return;
    }
#pragma GCC unroll 16
    for (size_t m = 0; m < kM; ++m) {
        hn::StoreU(acc0[m], d, c + m * ldc);
        if constexpr (kTwo) hn::StoreU(acc1[m], d2, c + m * ldc + N);
    }
}

// The wide variant: kRows rows of A (6) against kVecs whole vectors of B (4: 64 floats on AVX-512), for
// output channel counts that are a multiple of 4 vectors: per k, 6 broadcasts and 4 loads feed 24 FMAs (the
// 12 x 2 shape needs 12 + 2), and A is read once per 64 channels instead of once per 32.
template <class T, bool kRowsA, size_t kRows, size_t kVecs, bool kInd = false, bool kDirect = false>
HWY_INLINE HWY_ATTR void GemmSegWideBody(const T* const* HWY_RESTRICT a, const size_t* HWY_RESTRICT lda,
                                         const T* HWY_RESTRICT b, const size_t* HWY_RESTRICT boff, size_t nseg,
                                         size_t kc, T* HWY_RESTRICT c, size_t ldc, bool add, T* const* drows = nullptr,
                                         size_t col0 = 0, const T* HWY_RESTRICT bias = nullptr, bool stream = false) {
    static_assert(kRows % 3 == 0);
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d), W = kVecs * N;
    using V = hn::Vec<decltype(d)>;
    V acc[kRows][kVecs];
#pragma GCC unroll 16
    for (size_t m = 0; m < kRows; ++m)
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) acc[m][v] = add ? hn::LoadU(d, c + m * ldc + v * N) : hn::Zero(d);
    for (size_t s = 0; s < nseg; ++s) {
        const T* HWY_RESTRICT as = kInd ? nullptr : a[s];
        const size_t ls = kInd ? 0 : lda[s];
        const T* HWY_RESTRICT bs = b + boff[s];
        const T* base[kRows / 3];
        const T* rp[kRows];
        if constexpr (kInd) {
#pragma GCC unroll 16
            for (size_t m = 0; m < kRows; ++m) rp[m] = a[s * kRows + m] + lda[s];
        } else {
#pragma GCC unroll 16
            for (size_t r = 0; r < kRows / 3; ++r) base[r] = as + 3 * r * ls;
        }
        for (size_t k = 0; k < kc; ++k) {
            V bv[kVecs];
#pragma GCC unroll 4
            for (size_t v = 0; v < kVecs; ++v) bv[v] = hn::LoadU(d, bs + k * W + v * N);
            const T* ak = as + k * ls;
#pragma GCC unroll 16
            for (size_t m = 0; m < kRows; ++m) {
                const V am = hn::Set(d, kInd ? rp[m][k] : kRowsA ? base[m / 3][k + (m % 3) * ls] : ak[m]);
#pragma GCC unroll 4
                for (size_t v = 0; v < kVecs; ++v) acc[m][v] = hn::MulAdd(am, bv[v], acc[m][v]);
            }
        }
    }
    if constexpr (kDirect) {
        V bv[kVecs];
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) bv[v] = hn::LoadU(d, bias + v * N);
        if (stream) {
#pragma GCC unroll 16
            for (size_t m = 0; m < kRows; ++m)
#pragma GCC unroll 4
                for (size_t v = 0; v < kVecs; ++v) hn::Stream(hn::Add(acc[m][v], bv[v]), d, drows[m] + col0 + v * N);
            return;
        }
#pragma GCC unroll 16
        for (size_t m = 0; m < kRows; ++m)
#pragma GCC unroll 4
            for (size_t v = 0; v < kVecs; ++v) hn::StoreU(hn::Add(acc[m][v], bv[v]), d, drows[m] + col0 + v * N);
        return;
    }
#pragma GCC unroll 16
    for (size_t m = 0; m < kRows; ++m)
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) hn::StoreU(acc[m][v], d, c + m * ldc + v * N);
}

constexpr size_t kWideRows = 6, kWideVecs = 4;

template <class T, bool kRowsA, bool kInd = false>
HWY_ATTR void GemmSegWideT(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg, size_t kc,
                           T* c, size_t ldc, bool add) {
    GemmSegWideBody<T, kRowsA, kWideRows, kWideVecs, kInd>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegWideF32(const float* const* a, const size_t* lda, const float* b, const size_t* boff, size_t nseg,
                             size_t kc, float* c, size_t ldc, bool add) {
    GemmSegWideT<float, false>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegWideF64(const double* const* a, const size_t* lda, const double* b, const size_t* boff,
                             size_t nseg, size_t kc, double* c, size_t ldc, bool add) {
    GemmSegWideT<double, false>(a, lda, b, boff, nseg, kc, c, ldc, add);
}

template <class T, bool kRowsA>
HWY_ATTR void GemmT(const T* HWY_RESTRICT a, size_t lda, const T* HWY_RESTRICT b, size_t kc, T* HWY_RESTRICT c,
                    size_t ldc) {
    const T* const ap = a;
    const size_t zero = 0;
    GemmSegBody<T, kRowsA>(&ap, &lda, b, &zero, 1, kc, c, ldc, true);
}

// The row-read kernel of two vectors for kM = 3, 6 or 9 rows, those below MR (the last tiles of a block: fewer
// rows computed in vain than a whole MR).
template <class T, size_t kM>
HWY_ATTR void GemmSegRowsPartT(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg,
                               size_t kc, T* c, size_t ldc, bool add) {
    GemmSegBody<T, true, 4, false, false, (kM < kMR ? kM : kMR)>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
#define TCONV_ROWS_PART(NAME, T, M)                                                                         \
    HWY_ATTR void NAME(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg,  \
                       size_t kc, T* c, size_t ldc, bool add) {                                             \
        GemmSegRowsPartT<T, M>(a, lda, b, boff, nseg, kc, c, ldc, add);                                     \
    }
TCONV_ROWS_PART(GemmSegRowsF32_r3, float, 3)
TCONV_ROWS_PART(GemmSegRowsF32_r6, float, 6)
TCONV_ROWS_PART(GemmSegRowsF32_r9, float, 9)
TCONV_ROWS_PART(GemmSegRowsF64_r3, double, 3)
TCONV_ROWS_PART(GemmSegRowsF64_r6, double, 6)
TCONV_ROWS_PART(GemmSegRowsF64_r9, double, 9)
#undef TCONV_ROWS_PART

template <class T, bool kRowsA, size_t kHalves, bool kInd = false>
HWY_ATTR void GemmSegT(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg, size_t kc,
                       T* c, size_t ldc, bool add) {
    GemmSegBody<T, kRowsA, kHalves, kInd>(a, lda, b, boff, nseg, kc, c, ldc, add);
}

// Channels-first tiles with positions as the vector columns: C[kRows][kVecs vectors] = (add ? C : 0) + sum over
// segments of W_i * B_i, where the weights W_i(k, m) = w[woff[i] + k*kRows + m] are broadcast (kRows output
// channels) and B_i(k, j) = b[i][k*ldb[i] + j] holds kVecs vectors of consecutive positions per source channel
// (a channels-first plane read in place, ldb = plane size, or a packed panel). C rows then run along the
// destination plane.
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
constexpr size_t kColsRows = 8, kColsVecs = 3;
#else
constexpr size_t kColsRows = 4, kColsVecs = 2;
#endif

// kMasked: segment i's lanes whose bit of mask[i] is clear (bit j: position j) load zeros, without a read
// (hardware masked loads: the sources of those positions may lie outside the source).
template <class T, bool kMasked = false, size_t kVecs = kColsVecs>
HWY_ATTR void GemmColsT(const T* const* HWY_RESTRICT b, const size_t* HWY_RESTRICT ldb, const T* HWY_RESTRICT w,
                        const size_t* HWY_RESTRICT woff, size_t nseg, size_t kc, T* HWY_RESTRICT c, size_t ldc,
                        bool add, const uint64_t* HWY_RESTRICT mask = nullptr) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V acc[kColsRows][kVecs];
#pragma GCC unroll 16
    for (size_t m = 0; m < kColsRows; ++m)
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) acc[m][v] = add ? hn::LoadU(d, c + m * ldc + v * N) : hn::Zero(d);
    for (size_t s = 0; s < nseg; ++s) {
        const T* HWY_RESTRICT bs = b[s];
        const size_t ls = ldb[s];
        const T* HWY_RESTRICT ws = w + woff[s];
        using M = hn::Mask<decltype(d)>;
        M mv[kVecs];
        if constexpr (kMasked) {
#pragma GCC unroll 4
            for (size_t v = 0; v < kVecs; ++v) {
                const uint64_t bits = mask[s] >> (v * N);  // read as bytes, little-endian (x86)
                mv[v] = hn::LoadMaskBits(d, reinterpret_cast<const uint8_t*>(&bits));
            }
        }
        for (size_t k = 0; k < kc; ++k) {
            V bv[kVecs];
#pragma GCC unroll 4
            for (size_t v = 0; v < kVecs; ++v)
                bv[v] = kMasked ? hn::MaskedLoad(mv[v], d, bs + k * ls + v * N) : hn::LoadU(d, bs + k * ls + v * N);
            const T* wk = ws + k * kColsRows;
#pragma GCC unroll 16
            for (size_t m = 0; m < kColsRows; ++m) {
                const V am = hn::Set(d, wk[m]);
#pragma GCC unroll 4
                for (size_t v = 0; v < kVecs; ++v) acc[m][v] = hn::MulAdd(am, bv[v], acc[m][v]);
            }
        }
    }
#pragma GCC unroll 16
    for (size_t m = 0; m < kColsRows; ++m)
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) hn::StoreU(acc[m][v], d, c + m * ldc + v * N);
}

// d[i*nr + r] = c[r][i] + bias for i < n and r < nr: the rows of nr phases that alternate along the
// destination's last axis, written as whole interleaved vectors (c rows are readable a vector past n: the tail is
// one masked store per vector where the target has them). stream: vectors that start on a vector
// boundary are streamed (no read of the destination lines), the head up to it and the tail stored plainly.
template <class T>
HWY_ATTR void InterleaveStoreT(const T* const* HWY_RESTRICT c, size_t nr, size_t n, T bias, T* HWY_RESTRICT d,
                               bool stream) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
    const auto b = hn::Set(dt, bias);
    size_t i = 0;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
    if (nr == 8) {  // (fcn8s's s = 8) whole vectors of 8 rows interleaved in registers
        using V = hn::Vec<decltype(dt)>;
        for (; i + N <= n; i += N) {
            V v[8], o[8];
            for (size_t r = 0; r < 8; ++r) v[r] = hn::Add(hn::LoadU(dt, c[r] + i), b);
            Zip8Regs(v, o);
            T* HWY_RESTRICT dd = d + i * 8;
            if (stream && reinterpret_cast<uintptr_t>(dd) % (N * sizeof(T)) == 0)
                for (size_t r = 0; r < 8; ++r) hn::Stream(o[r], dt, dd + r * N);
            else
                for (size_t r = 0; r < 8; ++r) hn::StoreU(o[r], dt, dd + r * N);
        }
    }
#endif
    if (nr > 4) {  // one value at a time, in destination order
        for (; i < n; ++i)
            for (size_t r = 0; r < nr; ++r) d[i * nr + r] = c[r][i] + bias;
        return;
    }
    if (stream) {
        // The head: until d + i*nr is vector-aligned (never, when nr is even and d is at an odd element).
        const size_t mis = (reinterpret_cast<uintptr_t>(d) / sizeof(T)) % N;
        size_t head = n;
        for (size_t h = 0; h < N && h < n; ++h)
            if ((mis + h * nr) % N == 0) {
                head = h;
                break;
            }
        if (reinterpret_cast<uintptr_t>(d) % sizeof(T) != 0) head = n;
        for (; i < head; ++i)
            for (size_t r = 0; r < nr; ++r) d[i * nr + r] = c[r][i] + bias;
        HWY_ALIGN T buf[4 * hn::MaxLanes(dt)];
        for (; i + N <= n; i += N) {
            T* HWY_RESTRICT o = d + i * nr;
            switch (nr) {
                case 1: hn::Stream(hn::Add(hn::LoadU(dt, c[0] + i), b), dt, o); continue;
                case 2:
                    Zip2(dt, hn::Add(hn::LoadU(dt, c[0] + i), b), hn::Add(hn::LoadU(dt, c[1] + i), b), buf);
                    break;
                case 3:
                    hn::StoreInterleaved3(hn::Add(hn::LoadU(dt, c[0] + i), b), hn::Add(hn::LoadU(dt, c[1] + i), b),
                                          hn::Add(hn::LoadU(dt, c[2] + i), b), dt, buf);
                    break;
                default:
                    hn::StoreInterleaved4(hn::Add(hn::LoadU(dt, c[0] + i), b), hn::Add(hn::LoadU(dt, c[1] + i), b),
                                          hn::Add(hn::LoadU(dt, c[2] + i), b), hn::Add(hn::LoadU(dt, c[3] + i), b), dt,
                                          buf);
                    break;
            }
            for (size_t r = 0; r < nr; ++r) hn::Stream(hn::Load(dt, buf + r * N), dt, o + r * N);
        }
    }
    switch (nr) {
        case 1:
            for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(dt, c[0] + i), b), dt, d + i);
            break;
        case 2:
            for (; i + N <= n; i += N)
                Zip2(dt, hn::Add(hn::LoadU(dt, c[0] + i), b), hn::Add(hn::LoadU(dt, c[1] + i), b), d + 2 * i);
            break;
        case 3:
            for (; i + N <= n; i += N)
                hn::StoreInterleaved3(hn::Add(hn::LoadU(dt, c[0] + i), b), hn::Add(hn::LoadU(dt, c[1] + i), b),
                                      hn::Add(hn::LoadU(dt, c[2] + i), b), dt, d + 3 * i);
            break;
        case 4:
            for (; i + N <= n; i += N)
                hn::StoreInterleaved4(hn::Add(hn::LoadU(dt, c[0] + i), b), hn::Add(hn::LoadU(dt, c[1] + i), b),
                                      hn::Add(hn::LoadU(dt, c[2] + i), b), hn::Add(hn::LoadU(dt, c[3] + i), b), dt,
                                      d + 4 * i);
            break;
        default: break;
    }
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
    // The tail as masked stores (c rows are readable a whole vector past n).
    if (i < n) {
        const size_t rem = n - i;
        HWY_ALIGN T tb[4 * hn::MaxLanes(dt)];
        const auto v0 = hn::Add(hn::LoadU(dt, c[0] + i), b);
        if (nr == 1) {
            hn::BlendedStore(v0, hn::FirstN(dt, rem), dt, d + i);
            return;
        }
        const auto v1 = hn::Add(hn::LoadU(dt, c[1] + i), b);
        if (nr == 2) Zip2(dt, v0, v1, tb);
        if (nr == 3) hn::StoreInterleaved3(v0, v1, hn::Add(hn::LoadU(dt, c[2] + i), b), dt, tb);
        if (nr == 4)
            hn::StoreInterleaved4(v0, v1, hn::Add(hn::LoadU(dt, c[2] + i), b), hn::Add(hn::LoadU(dt, c[3] + i), b), dt, tb);
        for (size_t r = 0; r < nr && r * N < rem * nr; ++r) {
            T* HWY_RESTRICT o = d + i * nr + r * N;
            const size_t cnt = std::min(N, rem * nr - r * N);
            if (stream && cnt == N && reinterpret_cast<uintptr_t>(o) % (N * sizeof(T)) == 0)
                hn::Stream(hn::Load(dt, tb + r * N), dt, o);
            else
                hn::BlendedStore(hn::Load(dt, tb + r * N), hn::FirstN(dt, cnt), dt, o);
        }
        return;
    }
#endif
    for (; i < n; ++i)
        for (size_t r = 0; r < nr; ++r) d[i * nr + r] = c[r][i] + bias;
}

// Channels-first layers whose kernel equals a stride of 2 along the last axis, without padding there: output
// x = 2q + r reads only input q, through kernel index r. A chunk of N/2 consecutive inputs of one row with
// each value twice (PackDupT) times the broadcast pair (w at r = 0, w at r = 1) of an output channel is N
// consecutive outputs of that row: the two phases of the last axis come out of the FMAs interleaved, and the
// tile is stored straight to the destination rows (no C block, no second pass).
// dd[v][m*ldd + i] = bias[m] + sum over segments sg < nseg and k < kc of a[sg*kVecs + v][k*lda + i] *
// w[woff[sg] + (k*kColsRows + m)*2 + i%2], for m < rows and i < cnt[v] (rows past `rows` and lanes past cnt[v]
// are not written). Segments: the pairs of taps of layers whose two last-axis phases have several (below).
template <class D>
HWY_ATTR HWY_INLINE hn::Vec<D> PairBroadcast(D d, const hn::TFromD<D>* HWY_RESTRICT p) {
    if constexpr (sizeof(hn::TFromD<D>) == 4) {
        const hn::Repartition<uint64_t, D> du;
        uint64_t u;
        hwy::CopyBytes<8>(p, &u);
        return hn::BitCast(d, hn::Set(du, u));
    } else {
        return hn::LoadDup128(d, p);  // (two doubles fill a 128-bit block)
    }
}

template <class T, size_t kVecs>
HWY_ATTR void GemmPairT(const T* const* HWY_RESTRICT a, size_t lda, const T* HWY_RESTRICT w,
                        const size_t* HWY_RESTRICT woff, size_t nseg, size_t kc, T* const* HWY_RESTRICT dd, size_t ldd,
                        size_t rows, const size_t* HWY_RESTRICT cnt, const T* HWY_RESTRICT bias, bool stream) {
    const hn::ScalableTag<T> d;
    const size_t N = hn::Lanes(d);
    using V = hn::Vec<decltype(d)>;
    V acc[kColsRows][kVecs];
#pragma GCC unroll 16
    for (size_t m = 0; m < kColsRows; ++m)
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) acc[m][v] = hn::Zero(d);
    for (size_t sg = 0; sg < nseg; ++sg) {
        const T* HWY_RESTRICT av[kVecs];
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) av[v] = a[sg * kVecs + v];
        const T* HWY_RESTRICT ws = w + woff[sg];
        for (size_t k = 0; k < kc; ++k) {
            V bv[kVecs];
#pragma GCC unroll 4
            for (size_t v = 0; v < kVecs; ++v) bv[v] = hn::LoadU(d, av[v] + k * lda);
            const T* HWY_RESTRICT wk = ws + k * 2 * kColsRows;
#pragma GCC unroll 16
            for (size_t m = 0; m < kColsRows; ++m) {
                const V am = PairBroadcast(d, wk + 2 * m);
#pragma GCC unroll 4
                for (size_t v = 0; v < kVecs; ++v) acc[m][v] = hn::MulAdd(am, bv[v], acc[m][v]);
            }
        }
    }
#pragma GCC unroll 16
    for (size_t m = 0; m < kColsRows; ++m) {
        if (m >= rows) break;
        const V b = hn::Set(d, bias[m]);
#pragma GCC unroll 4
        for (size_t v = 0; v < kVecs; ++v) {
            const V o = hn::Add(acc[m][v], b);
            T* HWY_RESTRICT p = dd[v] + m * ldd;
            if (cnt[v] == N) {
                if (stream && reinterpret_cast<uintptr_t>(p) % (N * sizeof(T)) == 0)
                    hn::Stream(o, d, p);
                else
                    hn::StoreU(o, d, p);
            } else {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
                hn::BlendedStore(o, hn::FirstN(d, cnt[v]), d, p);  // (a true masked store)
#else
                // (elsewhere a blended store may rewrite the other lanes, which another thread may own)
                HWY_ALIGN T t[hn::MaxLanes(d)];
                hn::Store(o, d, t);
                for (size_t i = 0; i < cnt[v]; ++i) p[i] = t[i];
#endif
            }
        }
    }
}

// The A panels of GemmPairT for nc chunks: d[c*ldd + k*N + 2j + r] = s[off[c] + k*lds + j] for j < cnt[c] <= N/2
// (each value twice, r = 0, 1) and zeros for j >= cnt[c], for k < kc channels; d vector-aligned, ldd a multiple of
// N. Channel by channel (a block's chunks of one row are a run of memory per channel); nothing else is read.
template <class T>
HWY_ATTR void PackDupT(const T* HWY_RESTRICT s, size_t lds, size_t kc, const int64_t* HWY_RESTRICT off,
                       const int64_t* HWY_RESTRICT cnt, size_t nc, T* HWY_RESTRICT d, size_t ldd) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
    const hn::RebindToSigned<decltype(dt)> di;
    using TI = hn::TFromD<decltype(di)>;
    HWY_ALIGN TI idx[hn::MaxLanes(dt)];
    for (size_t i = 0; i < N; ++i) idx[i] = static_cast<TI>(i / 2);
    const auto tbl = hn::SetTableIndices(dt, idx);
    HWY_ALIGN T t[hn::MaxLanes(dt)] = {};
    for (size_t k = 0; k < kc; ++k) {
        const T* HWY_RESTRICT sk = s + k * lds;
        for (size_t c = 0; c < nc; ++c) {
            const size_t n = static_cast<size_t>(cnt[c]);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
            // (masked lanes are not read: no fault past the source)
            const auto v = hn::MaskedLoad(hn::FirstN(dt, n), dt, sk + off[c]);
#else
            for (size_t j = 0; j < N / 2; ++j) t[j] = j < n ? sk[off[c] + static_cast<int64_t>(j)] : T(0);
            const auto v = hn::Load(dt, t);
#endif
            hn::Store(hn::TableLookupLanes(v, tbl), dt, d + c * ldd + k * N);
        }
    }
}

// The zipped rows of the tap pairs: d[k*ldd + 2j] = s[k*lds + e + j] (the even outputs' source) and
// d[k*ldd + 2j + 1] = s[k*lds + o + j] (the odd ones') for j < len where that index lies in [0, lim), zeros
// elsewhere, for k < kc; nothing else is read (s + e may lie before the row).
template <class T>
HWY_ATTR void PackZipT(const T* HWY_RESTRICT s, size_t lds, size_t kc, int64_t e, int64_t o, int64_t len, int64_t lim,
                       T* HWY_RESTRICT d, size_t ldd) {
    const hn::ScalableTag<T> dt;
    const int64_t N = static_cast<int64_t>(hn::Lanes(dt)), half = N / 2;
    for (int64_t j0 = 0; j0 < len; j0 += half) {
        const int64_t n = std::min(half, len - j0), ej = e + j0, oj = o + j0;
        // valid j: [max(0, -x), min(n, lim - x)) for x = ej, oj
        const int64_t e0 = std::max<int64_t>(0, -ej), e1 = std::min(n, lim - ej);
        const int64_t o0 = std::max<int64_t>(0, -oj), o1 = std::min(n, lim - oj);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
        auto bits = [](int64_t lo, int64_t hi) -> uint64_t {
            return hi <= lo ? 0 : ((hi - lo >= 64 ? ~uint64_t(0) : (uint64_t(1) << (hi - lo)) - 1) << lo);
        };
        const uint64_t be = bits(e0, e1), bo = bits(o0, o1);
        const auto me = hn::LoadMaskBits(dt, reinterpret_cast<const uint8_t*>(&be));
        const auto mo = hn::LoadMaskBits(dt, reinterpret_cast<const uint8_t*>(&bo));
        // (a vector's start may lie before the source: its lanes there are masked, never read; the address is
        // formed as an integer)
        const uintptr_t se = reinterpret_cast<uintptr_t>(s) + static_cast<uintptr_t>(ej) * sizeof(T);
        const uintptr_t so = reinterpret_cast<uintptr_t>(s) + static_cast<uintptr_t>(oj) * sizeof(T);
        const bool whole = n == half;
        for (size_t k = 0; k < kc; ++k) {
            const auto ve = hn::MaskedLoad(me, dt, reinterpret_cast<const T*>(se + k * lds * sizeof(T)));
            const auto vo = hn::MaskedLoad(mo, dt, reinterpret_cast<const T*>(so + k * lds * sizeof(T)));
            hn::Vec<decltype(dt)> lo, hi;
            Zip2Regs(ve, vo, lo, hi);
            T* dk = d + k * ldd + 2 * j0;
            if (whole)
                hn::StoreU(lo, dt, dk);
            else
                hn::BlendedStore(lo, hn::FirstN(dt, static_cast<size_t>(2 * n)), dt, dk);
        }
#else
        for (size_t k = 0; k < kc; ++k) {
            T* HWY_RESTRICT dk = d + k * ldd + 2 * j0;
            const T* HWY_RESTRICT sk = s + k * lds;
            for (int64_t j = 0; j < n; ++j) {
                dk[2 * j] = j >= e0 && j < e1 ? sk[ej + j] : T(0);
                dk[2 * j + 1] = j >= o0 && j < o1 ? sk[oj + j] : T(0);
            }
        }
#endif
    }
}

HWY_ATTR void GemmColsF32(const float* const* b, const size_t* ldb, const float* w, const size_t* woff, size_t nseg,
                          size_t kc, float* c, size_t ldc, bool add) {
    GemmColsT<float>(b, ldb, w, woff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmColsF64(const double* const* b, const size_t* ldb, const double* w, const size_t* woff,
                          size_t nseg, size_t kc, double* c, size_t ldc, bool add) {
    GemmColsT<double>(b, ldb, w, woff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmColsMaskedF32(const float* const* b, const size_t* ldb, const float* w, const size_t* woff,
                                size_t nseg, size_t kc, float* c, size_t ldc, bool add, const uint64_t* mask) {
    GemmColsT<float, true>(b, ldb, w, woff, nseg, kc, c, ldc, add, mask);
}
HWY_ATTR void GemmColsMaskedF64(const double* const* b, const size_t* ldb, const double* w, const size_t* woff,
                                size_t nseg, size_t kc, double* c, size_t ldc, bool add, const uint64_t* mask) {
    GemmColsT<double, true>(b, ldb, w, woff, nseg, kc, c, ldc, add, mask);
}
// The same kVecs vectors wide, for a block's last tile: one vector (hifigan_up1's 400 = 8 x 48 + 16) and, where
// the full tile is three (AVX-512), two (a last stretch of 17-32 positions). Named functions per width and type
// for Highway's dispatch.
#define TCONV_COLS_NARROW(W)                                                                                        \
    HWY_ATTR void GemmColsF32_##W(const float* const* b, const size_t* ldb, const float* w, const size_t* woff,      \
                                  size_t nseg, size_t kc, float* c, size_t ldc, bool add) {                         \
        GemmColsT<float, false, W>(b, ldb, w, woff, nseg, kc, c, ldc, add);                                         \
    }                                                                                                               \
    HWY_ATTR void GemmColsF64_##W(const double* const* b, const size_t* ldb, const double* w, const size_t* woff,   \
                                  size_t nseg, size_t kc, double* c, size_t ldc, bool add) {                        \
        GemmColsT<double, false, W>(b, ldb, w, woff, nseg, kc, c, ldc, add);                                        \
    }                                                                                                               \
    HWY_ATTR void GemmColsMaskedF32_##W(const float* const* b, const size_t* ldb, const float* w,                   \
                                        const size_t* woff, size_t nseg, size_t kc, float* c, size_t ldc, bool add, \
                                        const uint64_t* mask) {                                                     \
        GemmColsT<float, true, W>(b, ldb, w, woff, nseg, kc, c, ldc, add, mask);                                    \
    }                                                                                                               \
    HWY_ATTR void GemmColsMaskedF64_##W(const double* const* b, const size_t* ldb, const double* w,                 \
                                        const size_t* woff, size_t nseg, size_t kc, double* c, size_t ldc,          \
                                        bool add, const uint64_t* mask) {                                           \
        GemmColsT<double, true, W>(b, ldb, w, woff, nseg, kc, c, ldc, add, mask);                                   \
    }
TCONV_COLS_NARROW(1)
TCONV_COLS_NARROW(2)
#undef TCONV_COLS_NARROW
#define TCONV_PAIR(W)                                                                                               \
    HWY_ATTR void GemmPairF32_##W(const float* const* a, size_t lda, const float* w, const size_t* woff, size_t nseg,\
                                  size_t kc, float* const* d, size_t ldd, size_t rows, const size_t* cnt,            \
                                  const float* bias, bool stream) {                                                 \
        GemmPairT<float, W>(a, lda, w, woff, nseg, kc, d, ldd, rows, cnt, bias, stream);                            \
    }                                                                                                               \
    HWY_ATTR void GemmPairF64_##W(const double* const* a, size_t lda, const double* w, const size_t* woff,          \
                                  size_t nseg,                                                                      \
                                  size_t kc, double* const* d, size_t ldd, size_t rows, const size_t* cnt,           \
                                  const double* bias, bool stream) {                                                \
        GemmPairT<double, W>(a, lda, w, woff, nseg, kc, d, ldd, rows, cnt, bias, stream);                           \
    }
TCONV_PAIR(1)
TCONV_PAIR(2)
TCONV_PAIR(3)
#undef TCONV_PAIR
HWY_ATTR void PackDupF32(const float* s, size_t lds, size_t kc, const int64_t* off, const int64_t* cnt, size_t nc, float* d,
                         size_t ldd) {
    PackDupT(s, lds, kc, off, cnt, nc, d, ldd);
}
HWY_ATTR void PackDupF64(const double* s, size_t lds, size_t kc, const int64_t* off, const int64_t* cnt, size_t nc,
                         double* d, size_t ldd) {
    PackDupT(s, lds, kc, off, cnt, nc, d, ldd);
}
HWY_ATTR void PackZipF32(const float* s, size_t lds, size_t kc, int64_t e, int64_t o, int64_t len, int64_t lim, float* d,
                         size_t ldd) {
    PackZipT(s, lds, kc, e, o, len, lim, d, ldd);
}
HWY_ATTR void PackZipF64(const double* s, size_t lds, size_t kc, int64_t e, int64_t o, int64_t len, int64_t lim,
                         double* d, size_t ldd) {
    PackZipT(s, lds, kc, e, o, len, lim, d, ldd);
}
size_t ColsVecs() { return kColsVecs; }
// Whether masked loads never touch the masked lanes' memory here (AVX-512: fault suppression); elsewhere the
// masked kernel is not offered (AVX2's emulation and the scalar targets read every lane).
bool MaskedLoadsSafe() {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
    return hn::Lanes(hn::ScalableTag<float>()) * kColsVecs <= 64;
#else
    return false;
#endif
}
HWY_ATTR void InterleaveStoreF32(const float* const* c, size_t nr, size_t n, float bias, float* d, bool stream) {
    InterleaveStoreT(c, nr, n, bias, d, stream);
}
HWY_ATTR void InterleaveStoreF64(const double* const* c, size_t nr, size_t n, double bias, double* d, bool stream) {
    InterleaveStoreT(c, nr, n, bias, d, stream);
}
// The transpose of N x N tiles in registers: log2(N) rounds, each a perfect unshuffle of the tile's N^2 values
// taken in order (the even values of each pair of vectors, then the odd ones). A round rotates the bits of a
// value's index (row, column) right by one, so after log2(N) rounds row and column have traded places.
// Tiles at the right or bottom edge are staged through a zeroed buffer; rows past `rows` are zeros.
// v[r] (lane j) -> v[j] (lane r): an M x M block transposed in registers by log2(M) rounds of even/odd
// interleaves (w: scratch registers).
#if HWY_TARGET != HWY_SCALAR
template <size_t M, class D, class V>
HWY_INLINE HWY_ATTR void TransposeRegs(D dt, V* HWY_RESTRICT v, V* HWY_RESTRICT w) {
#pragma GCC unroll 4
    for (size_t h = 1; h < M; h *= 2) {
#pragma GCC unroll 8
        for (size_t i = 0; i < M / 2; ++i) {
            w[i] = hn::ConcatEven(dt, v[2 * i + 1], v[2 * i]);
            w[M / 2 + i] = hn::ConcatOdd(dt, v[2 * i + 1], v[2 * i]);
        }
#pragma GCC unroll 16
        for (size_t i = 0; i < M; ++i) v[i] = w[i];
    }
}

// v[r] = s[(i0 + r)*ld + j0 ...] for r < nrow (M values, zeros past ncol where reading M would pass `end`,
// one past the last readable value), zeros for r >= nrow: the rows of an M x M block to transpose (R of
// them: R = M / 2 fills half a block).
template <size_t M, size_t R = M, class D, class V, class T>
HWY_INLINE HWY_ATTR void LoadBlock(D dt, const T* HWY_RESTRICT s, size_t ld, size_t i0, size_t j0, size_t nrow,
                                   size_t ncol, size_t end, T* HWY_RESTRICT stage, V* HWY_RESTRICT v) {
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) {
        const size_t at = (i0 + r) * ld + j0;
        if (r >= nrow) {
            v[r] = hn::Zero(dt);
        } else if (at + M <= end) {  // values past ncol belong to other columns: not stored
            v[r] = hn::LoadU(dt, s + at);
        } else {
            for (size_t j = 0; j < M; ++j) stage[j] = j < ncol ? s[at + j] : T(0);
            v[r] = hn::Load(dt, stage);
        }
    }
}
#endif

// Vector j of a transposed block to panel row d[j] + i0 for j < ncol whose d[j] is set (null: skipped);
// stream: vector-aligned ones are streamed.
template <size_t M, class D, class V, class T>
HWY_INLINE HWY_ATTR void StorePanelRows(D dt, const V* HWY_RESTRICT v, T* const* HWY_RESTRICT d, size_t ncol, size_t i0,
                                        bool stream) {
    for (size_t j = 0; j < ncol; ++j) {
        if (!d[j]) continue;
        T* HWY_RESTRICT dj = d[j] + i0;
        if (stream && reinterpret_cast<uintptr_t>(dj) % (M * sizeof(T)) == 0) hn::Stream(v[j], dt, dj);
        else hn::StoreU(v[j], dt, dj);
    }
}

#if HWY_TARGET != HWY_SCALAR
// A whole M x M block (every row readable, every column stored; rows r < R from s, the others from s2):
// straight-line code, so that the block stays in registers (a loop over a run-time count of columns indexes v in
// memory: every vector spilled and reloaded). Column j goes to d[j] + i0 (null: skipped).
template <size_t M, size_t R = M, class D, class T>
HWY_INLINE HWY_ATTR void PackFullBlock(D dt, const T* HWY_RESTRICT s, const T* HWY_RESTRICT s2, size_t ld,
                                       T* const* HWY_RESTRICT d, size_t i0, bool stream) {
    using V = hn::Vec<D>;
    V v[M], w[M];
#pragma GCC unroll 16
    for (size_t r = 0; r < M; ++r) v[r] = hn::LoadU(dt, r < R ? s + r * ld : s2 + (r - R) * ld);
    TransposeRegs<M>(dt, v, w);
#pragma GCC unroll 16
    for (size_t j = 0; j < M; ++j) {
        if (!d[j]) continue;
        T* HWY_RESTRICT dj = d[j] + i0;
        if (stream && reinterpret_cast<uintptr_t>(dj) % (M * sizeof(T)) == 0) hn::Stream(v[j], dt, dj);
        else hn::StoreU(v[j], dt, dj);
    }
}
#endif

template <class T, bool kStream = false>
HWY_ATTR void TransposeT(const T* HWY_RESTRICT src, size_t ld, size_t rows, size_t cols, T* HWY_RESTRICT dst,
                         size_t ldd) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
#if HWY_TARGET != HWY_SCALAR
    constexpr size_t M = hn::MaxLanes(dt);
    if (N == M && M > 1 && M <= 16) {
        using V = hn::Vec<decltype(dt)>;
        const size_t end = (rows - 1) * ld + cols;  // one past the last readable value
        HWY_ALIGN T stage[M];
        for (size_t i0 = 0; i0 < rows; i0 += M) {
            const size_t nrow = std::min(M, rows - i0);
            for (size_t j0 = 0; j0 < cols; j0 += M) {
                const size_t ncol = std::min(M, cols - j0);
                if (nrow == M && ncol == M && (i0 + M - 1) * ld + j0 + M <= end) {
                    T* d[M];
                    for (size_t j = 0; j < M; ++j) d[j] = dst + (j0 + j) * ldd;
                    PackFullBlock<M>(dt, src + i0 * ld + j0, src, ld, d, i0, kStream);
                    continue;
                }
                V v[M], w[M];
                LoadBlock<M>(dt, src, ld, i0, j0, nrow, ncol, end, stage, v);
                TransposeRegs<M>(dt, v, w);
                for (size_t j = 0; j < ncol; ++j) hn::StoreU(v[j], dt, dst + (j0 + j) * ldd + i0);
            }
        }
        return;
    }
#endif
    const size_t padded = (rows + 15) / 16 * 16;
    for (size_t j = 0; j < cols; ++j)
        for (size_t i = 0; i < padded; ++i) dst[j * ldd + i] = i < rows ? src[i * ld + j] : T(0);
    (void)N;
}

template <class T>
HWY_ATTR void CopyT(const T* HWY_RESTRICT s, size_t n, T* HWY_RESTRICT d, bool stream) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
    size_t i = 0;
    if (stream && reinterpret_cast<uintptr_t>(d) % sizeof(T) == 0) {
        for (; i < n && reinterpret_cast<uintptr_t>(d + i) % (N * sizeof(T)) != 0; ++i) d[i] = s[i];
        for (; i + N <= n; i += N) hn::Stream(hn::LoadU(dt, s + i), dt, d + i);
    }
    for (; i + N <= n; i += N) hn::StoreU(hn::LoadU(dt, s + i), dt, d + i);
    for (; i < n; ++i) d[i] = s[i];
}

template <class T>
HWY_ATTR void CopyBlockT(const T* HWY_RESTRICT s, size_t lds, size_t rows, size_t len, T* HWY_RESTRICT d, size_t ldd) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
    for (size_t r = 0; r < rows; ++r) {
        T* HWY_RESTRICT dr = d + r * ldd;
        const T* HWY_RESTRICT sr = s ? s + r * lds : nullptr;
        size_t i = 0;
        for (; i + N <= len; i += N) hn::StoreU(sr ? hn::LoadU(dt, sr + i) : hn::Zero(dt), dt, dr + i);
        if (i == len) continue;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
        const auto m = hn::FirstN(dt, len - i);  // (masked lanes are neither read nor written)
        hn::BlendedStore(sr ? hn::MaskedLoad(m, dt, sr + i) : hn::Zero(dt), m, dt, dr + i);
#else
        for (; i < len; ++i) dr[i] = sr ? sr[i] : T(0);
#endif
    }
}
HWY_ATTR void CopyBlockF32(const float* s, size_t lds, size_t rows, size_t len, float* d, size_t ldd) {
    CopyBlockT(s, lds, rows, len, d, ldd);
}
HWY_ATTR void CopyBlockF64(const double* s, size_t lds, size_t rows, size_t len, double* d, size_t ldd) {
    CopyBlockT(s, lds, rows, len, d, ldd);
}

// Weight panel rows: for j < cols with d[j] set, d[j][i] = i < rows ? s[i*ld + j] : 0 for i < nr, nr a
// multiple of the vector length (nr = lanes: none). Blocks of M x M are transposed in registers and each
// column's vectors go straight to its panel row; stream: vector-aligned ones are streamed.
template <class T>
HWY_ATTR void PackT(const T* HWY_RESTRICT s, size_t ld, size_t rows, size_t cols, T* const* HWY_RESTRICT d, size_t nr,
                    bool stream) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
#if HWY_TARGET != HWY_SCALAR
    constexpr size_t M = hn::MaxLanes(dt);
    if (N == M && M > 1 && M <= 16 && nr % M == 0) {
        using V = hn::Vec<decltype(dt)>;
        const size_t end = rows == 0 ? 0 : (rows - 1) * ld + cols;  // one past the last readable value
        HWY_ALIGN T stage[M];
        for (size_t j0 = 0; j0 < cols; j0 += M) {
            const size_t ncol = std::min(M, cols - j0);
            for (size_t i0 = 0; i0 < nr; i0 += M) {
                const size_t nrow = i0 < rows ? std::min(M, rows - i0) : 0;
                if (nrow == M && ncol == M && (i0 + M - 1) * ld + j0 + M <= end) {
                    PackFullBlock<M>(dt, s + i0 * ld + j0, s, ld, d + j0, i0, stream);
                    continue;
                }
                V v[M], w[M];
                LoadBlock<M>(dt, s, ld, i0, j0, nrow, ncol, end, stage, v);
                if (nrow) TransposeRegs<M>(dt, v, w);
                StorePanelRows<M>(dt, v, d + j0, ncol, i0, stream);
            }
        }
        return;
    }
#endif
    for (size_t j = 0; j < cols; ++j)
        if (d[j])
            for (size_t i = 0; i < nr; ++i) d[j][i] = i < rows ? s[i * ld + j] : T(0);
    (void)N;
    (void)stream;
}
// Two channels' panel rows of half a vector each (nr = M / 2): the block's first M/2 rows come from s, the
// others from s2, so the transposed block's column j holds both panel rows, written as one vector.
template <class T>
HWY_ATTR void PackPairT(const T* HWY_RESTRICT s, const T* HWY_RESTRICT s2, size_t ld, size_t rows, size_t cols,
                        T* const* HWY_RESTRICT d, bool stream) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
#if HWY_TARGET != HWY_SCALAR
    constexpr size_t M = hn::MaxLanes(dt);
    if (N == M && M > 1 && M <= 16) {
        using V = hn::Vec<decltype(dt)>;
        constexpr size_t H = M / 2;
        const size_t end = rows == 0 ? 0 : (rows - 1) * ld + cols;  // one past the last readable value
        HWY_ALIGN T stage[M];
        for (size_t j0 = 0; j0 < cols; j0 += M) {
            const size_t ncol = std::min(M, cols - j0);
            const size_t nrow = std::min(H, rows);
            if (nrow == H && ncol == M && (H - 1) * ld + j0 + M <= end) {
                PackFullBlock<M, H>(dt, s + j0, s2 + j0, ld, d + j0, 0, stream);
                continue;
            }
            V v[M], w[M];
            LoadBlock<M, H>(dt, s, ld, 0, j0, nrow, ncol, end, stage, v);
            LoadBlock<M, H>(dt, s2, ld, 0, j0, nrow, ncol, end, stage, v + H);
            TransposeRegs<M>(dt, v, w);
            StorePanelRows<M>(dt, v, d + j0, ncol, 0, stream);
        }
        return;
    }
#endif
    const size_t nr = N / 2 > 0 ? N / 2 : 1;
    for (size_t j = 0; j < cols; ++j)
        if (d[j])
            for (size_t i = 0; i < nr; ++i) {
                d[j][i] = i < rows ? s[i * ld + j] : T(0);
                d[j][nr + i] = i < rows ? s2[i * ld + j] : T(0);
            }
    (void)stream;
}
HWY_ATTR void PackPairF32(const float* s, const float* s2, size_t ld, size_t rows, size_t cols, float* const* d,
                          bool stream) {
    PackPairT(s, s2, ld, rows, cols, d, stream);
}
HWY_ATTR void PackPairF64(const double* s, const double* s2, size_t ld, size_t rows, size_t cols, double* const* d,
                          bool stream) {
    PackPairT(s, s2, ld, rows, cols, d, stream);
}
HWY_ATTR void PackF32(const float* s, size_t ld, size_t rows, size_t cols, float* const* d, size_t nr, bool stream) {
    PackT(s, ld, rows, cols, d, nr, stream);
}
HWY_ATTR void PackF64(const double* s, size_t ld, size_t rows, size_t cols, double* const* d, size_t nr, bool stream) {
    PackT(s, ld, rows, cols, d, nr, stream);
}

HWY_ATTR void TransposeF32(const float* src, size_t ld, size_t rows, size_t cols, float* dst, size_t ldd) {
    TransposeT(src, ld, rows, cols, dst, ldd);
}
HWY_ATTR void TransposeF64(const double* src, size_t ld, size_t rows, size_t cols, double* dst, size_t ldd) {
    TransposeT(src, ld, rows, cols, dst, ldd);
}
HWY_ATTR void TransposeStreamF32(const float* src, size_t ld, size_t rows, size_t cols, float* dst, size_t ldd) {
    TransposeT<float, true>(src, ld, rows, cols, dst, ldd);
}
HWY_ATTR void TransposeStreamF64(const double* src, size_t ld, size_t rows, size_t cols, double* dst, size_t ldd) {
    TransposeT<double, true>(src, ld, rows, cols, dst, ldd);
}
HWY_ATTR void CopyF32(const float* s, size_t n, float* d, bool stream) { CopyT(s, n, d, stream); }
HWY_ATTR void CopyF64(const double* s, size_t n, double* d, bool stream) { CopyT(s, n, d, stream); }

size_t ColsRows() { return kColsRows; }
size_t ColsWidthF32() { return kColsVecs * hn::Lanes(hn::ScalableTag<float>()); }
size_t ColsWidthF64() { return kColsVecs * hn::Lanes(hn::ScalableTag<double>()); }

// Row r: d[r][i] = c[r*ldc + i] + bias[i] for i < n. c rows hold whole vectors past n (the GEMM's padded
// columns) and bias may be read up to the next whole vector: the tail is one masked store where the target
// has hardware masked stores (AVX-512), scalar elsewhere (an emulated one would rewrite the neighbours).
template <class T>
HWY_ATTR void BiasStoreT(const T* HWY_RESTRICT c, size_t ldc, const T* HWY_RESTRICT bias, size_t n,
                         T* const* HWY_RESTRICT d, size_t rows, bool stream) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
    for (size_t r = 0; r < rows; ++r) {
        const T* HWY_RESTRICT cr = c + r * ldc;
        T* HWY_RESTRICT dr = d[r];
        size_t i = 0;
        if (stream && reinterpret_cast<uintptr_t>(dr) % (N * sizeof(T)) == 0) {
            for (; i + N <= n; i += N) hn::Stream(hn::Add(hn::LoadU(dt, cr + i), hn::LoadU(dt, bias + i)), dt, dr + i);
        } else {
            for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(dt, cr + i), hn::LoadU(dt, bias + i)), dt, dr + i);
        }
        if (i == n) continue;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
        hn::BlendedStore(hn::Add(hn::LoadU(dt, cr + i), hn::LoadU(dt, bias + i)), hn::FirstN(dt, n - i), dt, dr + i);
#else
        for (; i < n; ++i) dr[i] = cr[i] + bias[i];
#endif
    }
}
HWY_ATTR void BiasStoreF32(const float* c, size_t ldc, const float* bias, size_t n, float* const* d, size_t rows,
                           bool stream) {
    BiasStoreT(c, ldc, bias, n, d, rows, stream);
}
HWY_ATTR void BiasStoreF64(const double* c, size_t ldc, const double* bias, size_t n, double* const* d, size_t rows,
                           bool stream) {
    BiasStoreT(c, ldc, bias, n, d, rows, stream);
}

HWY_ATTR void GemmF32(const float* a, size_t lda, const float* b, size_t kc, float* c, size_t ldc) {
    GemmT<float, false>(a, lda, b, kc, c, ldc);
}
HWY_ATTR void GemmF64(const double* a, size_t lda, const double* b, size_t kc, double* c, size_t ldc) {
    GemmT<double, false>(a, lda, b, kc, c, ldc);
}
HWY_ATTR void GemmRowsF32(const float* a, size_t lda, const float* b, size_t kc, float* c, size_t ldc) {
    GemmT<float, true>(a, lda, b, kc, c, ldc);
}
HWY_ATTR void GemmRowsF64(const double* a, size_t lda, const double* b, size_t kc, double* c, size_t ldc) {
    GemmT<double, true>(a, lda, b, kc, c, ldc);
}
HWY_ATTR void GemmSegF32_4(const float* const* a, const size_t* lda, const float* b, const size_t* boff, size_t nseg,
                       size_t kc, float* c, size_t ldc, bool add) {
    GemmSegT<float, false, 4>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegRowsF32_4(const float* const* a, const size_t* lda, const float* b, const size_t* boff, size_t nseg,
                       size_t kc, float* c, size_t ldc, bool add) {
    GemmSegT<float, true, 4>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegF32_3(const float* const* a, const size_t* lda, const float* b, const size_t* boff, size_t nseg,
                       size_t kc, float* c, size_t ldc, bool add) {
    GemmSegT<float, false, 3>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegF32_2(const float* const* a, const size_t* lda, const float* b, const size_t* boff, size_t nseg,
                       size_t kc, float* c, size_t ldc, bool add) {
    GemmSegT<float, false, 2>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegRowsF32_2(const float* const* a, const size_t* lda, const float* b, const size_t* boff, size_t nseg,
                       size_t kc, float* c, size_t ldc, bool add) {
    GemmSegT<float, true, 2>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegF64_4(const double* const* a, const size_t* lda, const double* b, const size_t* boff, size_t nseg,
                       size_t kc, double* c, size_t ldc, bool add) {
    GemmSegT<double, false, 4>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegRowsF64_4(const double* const* a, const size_t* lda, const double* b, const size_t* boff, size_t nseg,
                       size_t kc, double* c, size_t ldc, bool add) {
    GemmSegT<double, true, 4>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegF64_3(const double* const* a, const size_t* lda, const double* b, const size_t* boff, size_t nseg,
                       size_t kc, double* c, size_t ldc, bool add) {
    GemmSegT<double, false, 3>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegF64_2(const double* const* a, const size_t* lda, const double* b, const size_t* boff, size_t nseg,
                       size_t kc, double* c, size_t ldc, bool add) {
    GemmSegT<double, false, 2>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
HWY_ATTR void GemmSegRowsF64_2(const double* const* a, const size_t* lda, const double* b, const size_t* boff,
                       size_t nseg, size_t kc, double* c, size_t ldc, bool add) {
    GemmSegT<double, true, 2>(a, lda, b, boff, nseg, kc, c, ldc, add);
}
// The segment kernels reading A through row pointers (kInd above).
#define TCONV_SEG_IND(NAME, T, CALL)                                                                        \
    HWY_ATTR void NAME(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg,  \
                       size_t kc, T* c, size_t ldc, bool add) {                                             \
        CALL(a, lda, b, boff, nseg, kc, c, ldc, add);                                                       \
    }
TCONV_SEG_IND(GemmSegIndF32_4, float, (GemmSegT<float, true, 4, true>))
TCONV_SEG_IND(GemmSegIndF32_3, float, (GemmSegT<float, true, 3, true>))
TCONV_SEG_IND(GemmSegIndF32_2, float, (GemmSegT<float, true, 2, true>))
TCONV_SEG_IND(GemmSegWideIndF32, float, (GemmSegWideT<float, true, true>))
TCONV_SEG_IND(GemmSegIndF64_4, double, (GemmSegT<double, true, 4, true>))
TCONV_SEG_IND(GemmSegIndF64_3, double, (GemmSegT<double, true, 3, true>))
TCONV_SEG_IND(GemmSegIndF64_2, double, (GemmSegT<double, true, 2, true>))
TCONV_SEG_IND(GemmSegWideIndF64, double, (GemmSegWideT<double, true, true>))
#undef TCONV_SEG_IND
// The same, storing each row plus the bias straight to its destination (kDirect above).
#define TCONV_SEG_DIRECT(NAME, T, BODY)                                                                      \
    HWY_ATTR void NAME(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg,   \
                       size_t kc, T* const* d, size_t col0, const T* bias, bool stream) {                   \
        BODY(a, lda, b, boff, nseg, kc, nullptr, 0, false, d, col0, bias, stream);                           \
    }
TCONV_SEG_DIRECT(GemmSegDirectF32_4, float, (GemmSegBody<float, true, 4, true, true>))
TCONV_SEG_DIRECT(GemmSegDirectF32_3, float, (GemmSegBody<float, true, 3, true, true>))
TCONV_SEG_DIRECT(GemmSegDirectF32_2, float, (GemmSegBody<float, true, 2, true, true>))
TCONV_SEG_DIRECT(GemmSegWideDirectF32, float, (GemmSegWideBody<float, true, kWideRows, kWideVecs, true, true>))
TCONV_SEG_DIRECT(GemmSegDirectF64_4, double, (GemmSegBody<double, true, 4, true, true>))
TCONV_SEG_DIRECT(GemmSegDirectF64_3, double, (GemmSegBody<double, true, 3, true, true>))
TCONV_SEG_DIRECT(GemmSegDirectF64_2, double, (GemmSegBody<double, true, 2, true, true>))
TCONV_SEG_DIRECT(GemmSegWideDirectF64, double, (GemmSegWideBody<double, true, kWideRows, kWideVecs, true, true>))
#undef TCONV_SEG_DIRECT
HWY_ATTR void WinoInF32(int kh, int kw, const float* const* px, size_t n, float* v, size_t ldv) {
    wino::In<float, false>(kh, kw, px, n, v, ldv, nullptr, 0, 0);
}
HWY_ATTR void WinoInF64(int kh, int kw, const double* const* px, size_t n, double* v, size_t ldv) {
    wino::In<double, false>(kh, kw, px, n, v, ldv, nullptr, 0, 0);
}
HWY_ATTR void WinoInSF32(int kh, int kw, const float* base, size_t rs, size_t cs, size_t n, float* v, size_t ldv) {
    wino::In<float, true>(kh, kw, nullptr, n, v, ldv, base, rs, cs);
}
HWY_ATTR void WinoInSF64(int kh, int kw, const double* base, size_t rs, size_t cs, size_t n, double* v, size_t ldv) {
    wino::In<double, true>(kh, kw, nullptr, n, v, ldv, base, rs, cs);
}
HWY_ATTR void WinoOutF32(int kh, int kw, const float* m, size_t ldm, size_t n, const float* bias, float* const* out) {
    wino::Out<float, false>(kh, kw, m, ldm, n, bias, out, nullptr, 0, 0, false);
}
HWY_ATTR void WinoOutF64(int kh, int kw, const double* m, size_t ldm, size_t n, const double* bias, double* const* out) {
    wino::Out<double, false>(kh, kw, m, ldm, n, bias, out, nullptr, 0, 0, false);
}
HWY_ATTR void WinoOutSF32(int kh, int kw, const float* m, size_t ldm, size_t n, const float* bias, float* base,
                          size_t rs, size_t cs, bool stream) {
    wino::Out<float, true>(kh, kw, m, ldm, n, bias, nullptr, base, rs, cs, stream);
}
HWY_ATTR void WinoOutSF64(int kh, int kw, const double* m, size_t ldm, size_t n, const double* bias, double* base,
                          size_t rs, size_t cs, bool stream) {
    wino::Out<double, true>(kh, kw, m, ldm, n, bias, nullptr, base, rs, cs, stream);
}
// Rows of combinations (winograd's weight transforms): for o < nrows and j < n, d[dofs[o] + (j / pw) * pst + j % pw]
// = sum over terms t in [start[o], start[o + 1]) of coef[t] * w[widx[t] + j], the terms in order (the first a
// product, then fused multiply-adds); a row without terms is zeros. n and pw are multiples of the vector length.
// stream: vector-aligned stores are streamed (no read of the destination lines; the caller fences).
template <class T>
HWY_ATTR void CombineT(const T* HWY_RESTRICT w, const int64_t* widx, const T* coef, const uint32_t* start,
                       size_t nrows, size_t n, T* HWY_RESTRICT d, const int64_t* dofs, size_t pw, size_t pst,
                       bool stream) {
    const hn::ScalableTag<T> dt;
    const size_t N = hn::Lanes(dt);
    for (size_t o = 0; o < nrows; ++o) {
        const uint32_t t0 = start[o], t1 = start[o + 1];
        T* HWY_RESTRICT dr = d + dofs[o];
        for (size_t j = 0; j < n; j += N) {
            auto acc = hn::Zero(dt);
            if (t0 < t1) {
                acc = hn::Mul(hn::Set(dt, coef[t0]), hn::LoadU(dt, w + widx[t0] + j));
                for (uint32_t t = t0 + 1; t < t1; ++t)
                    acc = hn::MulAdd(hn::Set(dt, coef[t]), hn::LoadU(dt, w + widx[t] + j), acc);
            }
            T* p = dr + (j / pw) * pst + j % pw;
            if (stream && reinterpret_cast<uintptr_t>(p) % (N * sizeof(T)) == 0) hn::Stream(acc, dt, p);
            else hn::StoreU(acc, dt, p);
        }
    }
}
HWY_ATTR void CombineF32(const float* w, const int64_t* widx, const float* coef, const uint32_t* start, size_t nrows,
                         size_t n, float* d, const int64_t* dofs, size_t pw, size_t pst, bool stream) {
    CombineT<float>(w, widx, coef, start, nrows, n, d, dofs, pw, pst, stream);
}
HWY_ATTR void CombineF64(const double* w, const int64_t* widx, const double* coef, const uint32_t* start, size_t nrows,
                         size_t n, double* d, const int64_t* dofs, size_t pw, size_t pst, bool stream) {
    CombineT<double>(w, widx, coef, start, nrows, n, d, dofs, pw, pst, stream);
}
size_t LanesF32() { return hn::Lanes(hn::ScalableTag<float>()); }
size_t LanesF64() { return hn::Lanes(hn::ScalableTag<double>()); }
size_t MR() { return kMR; }

}  // namespace tconv::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "tconv/error.hpp"

namespace tconv::kernels {

HWY_EXPORT(GemmF32);
HWY_EXPORT(GemmF64);
HWY_EXPORT(GemmRowsF32);
HWY_EXPORT(GemmRowsF64);
HWY_EXPORT(GemmSegF32_4);
HWY_EXPORT(GemmSegRowsF32_4);
HWY_EXPORT(GemmSegF32_3);
HWY_EXPORT(GemmSegF32_2);
HWY_EXPORT(GemmSegRowsF32_2);
HWY_EXPORT(GemmSegF64_4);
HWY_EXPORT(GemmSegRowsF64_4);
HWY_EXPORT(GemmSegF64_3);
HWY_EXPORT(GemmSegF64_2);
HWY_EXPORT(GemmSegRowsF64_2);
HWY_EXPORT(GemmSegWideF32);
HWY_EXPORT(GemmSegWideF64);
HWY_EXPORT(GemmSegIndF32_4);
HWY_EXPORT(GemmSegIndF32_3);
HWY_EXPORT(GemmSegIndF32_2);
HWY_EXPORT(GemmSegWideIndF32);
HWY_EXPORT(GemmSegIndF64_4);
HWY_EXPORT(GemmSegIndF64_3);
HWY_EXPORT(GemmSegIndF64_2);
HWY_EXPORT(GemmSegWideIndF64);
HWY_EXPORT(GemmSegDirectF32_4);
HWY_EXPORT(GemmSegDirectF32_3);
HWY_EXPORT(GemmSegDirectF32_2);
HWY_EXPORT(GemmSegWideDirectF32);
HWY_EXPORT(GemmSegDirectF64_4);
HWY_EXPORT(GemmSegDirectF64_3);
HWY_EXPORT(GemmSegDirectF64_2);
HWY_EXPORT(GemmSegWideDirectF64);
HWY_EXPORT(GemmColsF32);
HWY_EXPORT(GemmColsF64);
HWY_EXPORT(GemmColsMaskedF32);
HWY_EXPORT(GemmColsMaskedF64);
HWY_EXPORT(MaskedLoadsSafe);
HWY_EXPORT(GemmColsF32_1);
HWY_EXPORT(GemmColsF64_1);
HWY_EXPORT(GemmColsMaskedF32_1);
HWY_EXPORT(GemmColsMaskedF64_1);
HWY_EXPORT(GemmColsF32_2);
HWY_EXPORT(GemmColsF64_2);
HWY_EXPORT(GemmColsMaskedF32_2);
HWY_EXPORT(GemmColsMaskedF64_2);
HWY_EXPORT(ColsVecs);
HWY_EXPORT(GemmPairF32_1);
HWY_EXPORT(GemmPairF32_2);
HWY_EXPORT(GemmPairF32_3);
HWY_EXPORT(GemmPairF64_1);
HWY_EXPORT(GemmPairF64_2);
HWY_EXPORT(GemmPairF64_3);
HWY_EXPORT(PackDupF32);
HWY_EXPORT(PackDupF64);
HWY_EXPORT(PackZipF32);
HWY_EXPORT(PackZipF64);
HWY_EXPORT(InterleaveStoreF32);
HWY_EXPORT(InterleaveStoreF64);
HWY_EXPORT(ColsRows);
HWY_EXPORT(ColsWidthF32);
HWY_EXPORT(ColsWidthF64);
HWY_EXPORT(TransposeF32);
HWY_EXPORT(PackF32);
HWY_EXPORT(PackF64);
HWY_EXPORT(PackPairF32);
HWY_EXPORT(PackPairF64);
HWY_EXPORT(TransposeF64);
HWY_EXPORT(TransposeStreamF32);
HWY_EXPORT(TransposeStreamF64);
HWY_EXPORT(CopyF32);
HWY_EXPORT(CopyF64);
HWY_EXPORT(CopyBlockF32);
HWY_EXPORT(CopyBlockF64);
HWY_EXPORT(BiasStoreF32);
HWY_EXPORT(BiasStoreF64);
HWY_EXPORT(WinoInF32);
HWY_EXPORT(WinoInF64);
HWY_EXPORT(WinoOutF32);
HWY_EXPORT(WinoOutF64);
HWY_EXPORT(CombineF32);
HWY_EXPORT(CombineF64);
HWY_EXPORT(WinoInSF32);
HWY_EXPORT(WinoInSF64);
HWY_EXPORT(WinoOutSF32);
HWY_EXPORT(WinoOutSF64);
HWY_EXPORT(LanesF32);
HWY_EXPORT(LanesF64);
HWY_EXPORT(MR);
HWY_EXPORT(GemmSegRowsF32_r3);
HWY_EXPORT(GemmSegRowsF32_r6);
HWY_EXPORT(GemmSegRowsF32_r9);
HWY_EXPORT(GemmSegRowsF64_r3);
HWY_EXPORT(GemmSegRowsF64_r6);
HWY_EXPORT(GemmSegRowsF64_r9);

const std::vector<KernelSet>& kernel_targets() {
    static const std::vector<KernelSet> sets = [] {
        std::vector<KernelSet> r;
        // Point Highway's dispatcher at one target at a time and keep the function pointers it selects;
        // done once, before any kernel runs.
        for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
            hwy::GetChosenTarget().Update(t);
            KernelSet k;
            k.target = hwy::TargetName(t);
            k.f32.fn = &HWY_DYNAMIC_DISPATCH(GemmF32);
            k.f64.fn = &HWY_DYNAMIC_DISPATCH(GemmF64);
            k.f32.fn_rows = &HWY_DYNAMIC_DISPATCH(GemmRowsF32);
            k.f64.fn_rows = &HWY_DYNAMIC_DISPATCH(GemmRowsF64);
            const size_t lf = HWY_DYNAMIC_DISPATCH(LanesF32)(), ld = HWY_DYNAMIC_DISPATCH(LanesF64)();
            k.f32.seg[0] = {&HWY_DYNAMIC_DISPATCH(GemmSegF32_4), &HWY_DYNAMIC_DISPATCH(GemmSegRowsF32_4), 2 * lf, 0,
                            &HWY_DYNAMIC_DISPATCH(GemmSegIndF32_4), &HWY_DYNAMIC_DISPATCH(GemmSegDirectF32_4)};
            k.f64.seg[0] = {&HWY_DYNAMIC_DISPATCH(GemmSegF64_4), &HWY_DYNAMIC_DISPATCH(GemmSegRowsF64_4), 2 * ld, 0,
                            &HWY_DYNAMIC_DISPATCH(GemmSegIndF64_4), &HWY_DYNAMIC_DISPATCH(GemmSegDirectF64_4)};
            if (lf >= 2)  // a half vector needs two lanes or more
                k.f32.seg[1] = {&HWY_DYNAMIC_DISPATCH(GemmSegF32_3), nullptr, lf + lf / 2, 0,
                                &HWY_DYNAMIC_DISPATCH(GemmSegIndF32_3), &HWY_DYNAMIC_DISPATCH(GemmSegDirectF32_3)};
            if (ld >= 2)
                k.f64.seg[1] = {&HWY_DYNAMIC_DISPATCH(GemmSegF64_3), nullptr, ld + ld / 2, 0,
                                &HWY_DYNAMIC_DISPATCH(GemmSegIndF64_3), &HWY_DYNAMIC_DISPATCH(GemmSegDirectF64_3)};
            k.f32.seg[2] = {&HWY_DYNAMIC_DISPATCH(GemmSegF32_2), &HWY_DYNAMIC_DISPATCH(GemmSegRowsF32_2), lf, 0,
                            &HWY_DYNAMIC_DISPATCH(GemmSegIndF32_2), &HWY_DYNAMIC_DISPATCH(GemmSegDirectF32_2)};
            // The row-read kernel for 3, 6 and 9 rows, those below MR.
            {
                const size_t mr = HWY_DYNAMIC_DISPATCH(MR)();
                const GemmSegFn<float> pf[3] = {&HWY_DYNAMIC_DISPATCH(GemmSegRowsF32_r3), &HWY_DYNAMIC_DISPATCH(GemmSegRowsF32_r6),
                                                &HWY_DYNAMIC_DISPATCH(GemmSegRowsF32_r9)};
                const GemmSegFn<double> pd[3] = {&HWY_DYNAMIC_DISPATCH(GemmSegRowsF64_r3), &HWY_DYNAMIC_DISPATCH(GemmSegRowsF64_r6),
                                                 &HWY_DYNAMIC_DISPATCH(GemmSegRowsF64_r9)};
                for (size_t i = 0; i < 3; ++i)
                    if (3 * (i + 1) < mr) k.f32.seg[0].fn_rows_part[i] = pf[i], k.f64.seg[0].fn_rows_part[i] = pd[i];
            }
            // The wide shape where 32 vector registers hold its 24 accumulators (AVX-512).
            if (HWY_DYNAMIC_DISPATCH(MR)() == 12) {
                k.f32.seg[3] = {&HWY_DYNAMIC_DISPATCH(GemmSegWideF32), nullptr, 4 * lf, 6,
                                &HWY_DYNAMIC_DISPATCH(GemmSegWideIndF32), &HWY_DYNAMIC_DISPATCH(GemmSegWideDirectF32)};
                k.f64.seg[3] = {&HWY_DYNAMIC_DISPATCH(GemmSegWideF64), nullptr, 4 * ld, 6,
                                &HWY_DYNAMIC_DISPATCH(GemmSegWideIndF64), &HWY_DYNAMIC_DISPATCH(GemmSegWideDirectF64)};
            }
            k.f64.seg[2] = {&HWY_DYNAMIC_DISPATCH(GemmSegF64_2), &HWY_DYNAMIC_DISPATCH(GemmSegRowsF64_2), ld, 0,
                            &HWY_DYNAMIC_DISPATCH(GemmSegIndF64_2), &HWY_DYNAMIC_DISPATCH(GemmSegDirectF64_2)};
            k.f32.cols = {&HWY_DYNAMIC_DISPATCH(GemmColsF32), &HWY_DYNAMIC_DISPATCH(InterleaveStoreF32),
                          HWY_DYNAMIC_DISPATCH(ColsRows)(), HWY_DYNAMIC_DISPATCH(ColsWidthF32)()};
            k.f64.cols = {&HWY_DYNAMIC_DISPATCH(GemmColsF64), &HWY_DYNAMIC_DISPATCH(InterleaveStoreF64),
                          HWY_DYNAMIC_DISPATCH(ColsRows)(), HWY_DYNAMIC_DISPATCH(ColsWidthF64)()};
            k.f32.cols.fn1 = &HWY_DYNAMIC_DISPATCH(GemmColsF32_1);
            k.f64.cols.fn1 = &HWY_DYNAMIC_DISPATCH(GemmColsF64_1);
            k.f32.cols.width1 = lf;
            k.f64.cols.width1 = ld;
            const bool two = HWY_DYNAMIC_DISPATCH(ColsVecs)() > 2;
            if (two) {
                k.f32.cols.fn2 = &HWY_DYNAMIC_DISPATCH(GemmColsF32_2);
                k.f64.cols.fn2 = &HWY_DYNAMIC_DISPATCH(GemmColsF64_2);
                k.f32.cols.width2 = 2 * lf;
                k.f64.cols.width2 = 2 * ld;
            }
            if (HWY_DYNAMIC_DISPATCH(MaskedLoadsSafe)()) {
                k.f32.cols.masked = &HWY_DYNAMIC_DISPATCH(GemmColsMaskedF32);
                k.f64.cols.masked = &HWY_DYNAMIC_DISPATCH(GemmColsMaskedF64);
                k.f32.cols.masked1 = &HWY_DYNAMIC_DISPATCH(GemmColsMaskedF32_1);
                k.f64.cols.masked1 = &HWY_DYNAMIC_DISPATCH(GemmColsMaskedF64_1);
                if (two) {
                    k.f32.cols.masked2 = &HWY_DYNAMIC_DISPATCH(GemmColsMaskedF32_2);
                    k.f64.cols.masked2 = &HWY_DYNAMIC_DISPATCH(GemmColsMaskedF64_2);
                }
            }
            // The pair path where the transposed tile is three vectors wide (AVX-512): on AVX2 (a 4 x 2 tile) it
            // measured no faster than the transposed tiles. (1, 2 and 3 chunks per call.)
            if (two) {
                k.f32.pair.fn[0] = &HWY_DYNAMIC_DISPATCH(GemmPairF32_1);
                k.f64.pair.fn[0] = &HWY_DYNAMIC_DISPATCH(GemmPairF64_1);
                k.f32.pair.fn[1] = &HWY_DYNAMIC_DISPATCH(GemmPairF32_2);
                k.f64.pair.fn[1] = &HWY_DYNAMIC_DISPATCH(GemmPairF64_2);
                k.f32.pair.fn[2] = &HWY_DYNAMIC_DISPATCH(GemmPairF32_3);
                k.f64.pair.fn[2] = &HWY_DYNAMIC_DISPATCH(GemmPairF64_3);
                k.f32.pair.vecs = k.f64.pair.vecs = HWY_DYNAMIC_DISPATCH(ColsVecs)();
                k.f32.pair.rows = k.f64.pair.rows = HWY_DYNAMIC_DISPATCH(ColsRows)();
                k.f32.pair.lanes = lf;
                k.f64.pair.lanes = ld;
                k.f32.pair.pack = &HWY_DYNAMIC_DISPATCH(PackDupF32);
                k.f64.pair.pack = &HWY_DYNAMIC_DISPATCH(PackDupF64);
                k.f32.pair.zip = &HWY_DYNAMIC_DISPATCH(PackZipF32);
                k.f64.pair.zip = &HWY_DYNAMIC_DISPATCH(PackZipF64);
            }
            k.f32.transpose = &HWY_DYNAMIC_DISPATCH(TransposeF32);
            k.f64.transpose = &HWY_DYNAMIC_DISPATCH(TransposeF64);
            k.f32.transpose_stream = &HWY_DYNAMIC_DISPATCH(TransposeStreamF32);
            k.f64.transpose_stream = &HWY_DYNAMIC_DISPATCH(TransposeStreamF64);
            k.f32.pack = &HWY_DYNAMIC_DISPATCH(PackF32);
            k.f64.pack = &HWY_DYNAMIC_DISPATCH(PackF64);
            k.f32.pack_pair = &HWY_DYNAMIC_DISPATCH(PackPairF32);
            k.f64.pack_pair = &HWY_DYNAMIC_DISPATCH(PackPairF64);
            k.f32.copy = &HWY_DYNAMIC_DISPATCH(CopyF32);
            k.f64.copy = &HWY_DYNAMIC_DISPATCH(CopyF64);
            k.f32.copy_block = &HWY_DYNAMIC_DISPATCH(CopyBlockF32);
            k.f64.copy_block = &HWY_DYNAMIC_DISPATCH(CopyBlockF64);
            k.f32.bias_store = &HWY_DYNAMIC_DISPATCH(BiasStoreF32);
            k.f64.bias_store = &HWY_DYNAMIC_DISPATCH(BiasStoreF64);
            k.f32.wino_in = &HWY_DYNAMIC_DISPATCH(WinoInF32);
            k.f64.wino_in = &HWY_DYNAMIC_DISPATCH(WinoInF64);
            k.f32.wino_out = &HWY_DYNAMIC_DISPATCH(WinoOutF32);
            k.f64.wino_out = &HWY_DYNAMIC_DISPATCH(WinoOutF64);
            k.f32.combine = &HWY_DYNAMIC_DISPATCH(CombineF32);
            k.f64.combine = &HWY_DYNAMIC_DISPATCH(CombineF64);
            k.f32.wino_in_s = &HWY_DYNAMIC_DISPATCH(WinoInSF32);
            k.f64.wino_in_s = &HWY_DYNAMIC_DISPATCH(WinoInSF64);
            k.f32.wino_out_s = &HWY_DYNAMIC_DISPATCH(WinoOutSF32);
            k.f64.wino_out_s = &HWY_DYNAMIC_DISPATCH(WinoOutSF64);
            k.f32.mr = k.f64.mr = HWY_DYNAMIC_DISPATCH(MR)();
            k.f32.nr = 2 * HWY_DYNAMIC_DISPATCH(LanesF32)();
            k.f64.nr = 2 * HWY_DYNAMIC_DISPATCH(LanesF64)();
            r.push_back(k);
        }
        hwy::GetChosenTarget().Update(hwy::SupportedTargets());
        return r;
    }();
    return sets;
}

const KernelSet& kernel_set(const std::string& target) {
    const auto& all = kernel_targets();
    if (target.empty()) return all.front();
    std::string names;
    for (const auto& k : all) {
        if (k.target == target) return k;
        names += (names.empty() ? "" : ", ") + k.target;
    }
    throw Error("SIMD target '" + target + "' is not available here (available: " + names + ")");
}

}  // namespace tconv::kernels
#endif  // HWY_ONCE
