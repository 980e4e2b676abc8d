// Per-target SIMD helpers shared by the kernel files (included after hwy/highway.h, once per target through
// foreach_target.h: the guard toggles with HWY_TARGET_TOGGLE, Highway's convention for -inl.h headers).
#if defined(TCONV_KERNELS_ZIP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TCONV_KERNELS_ZIP_INL_H_
#undef TCONV_KERNELS_ZIP_INL_H_
#else
#define TCONV_KERNELS_ZIP_INL_H_
#endif

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tconv::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
// AVX-512 only: lo, hi = a and b interleaved lane by lane, as registers (two two-table permutes).
template <class V>
HWY_ATTR HWY_INLINE void Zip2Regs(V a, V b, V& lo, V& hi) {
    if constexpr (sizeof(hn::TFromV<V>) == 4) {
        const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        lo = V{_mm512_permutex2var_ps(a.raw, il, b.raw)};
        hi = V{_mm512_permutex2var_ps(a.raw, ih, b.raw)};
    } else {
        const __m512i il = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), ih = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
        lo = V{_mm512_permutex2var_pd(a.raw, il, b.raw)};
        hi = V{_mm512_permutex2var_pd(a.raw, ih, b.raw)};
    }
}

// out[0..7]: eight vectors interleaved lane by lane (s0[0] s1[0] ... s7[0] s0[1] ...), by three levels of
// two-way zips: I8(s0..s7) = Zip(I4(s0, s2, s4, s6), I4(s1, s3, s5, s7)), I4(a, b, c, d) = Zip(I2(a, c), I2(b, d)).
template <class V>
HWY_ATTR HWY_INLINE void Zip8Regs(const V* s, V* out) {
    V a[2], b[2], c[2], e[2], E[4], F[4];
    Zip2Regs(s[0], s[4], a[0], a[1]);
    Zip2Regs(s[2], s[6], b[0], b[1]);
    Zip2Regs(s[1], s[5], c[0], c[1]);
    Zip2Regs(s[3], s[7], e[0], e[1]);
    for (size_t j = 0; j < 2; ++j) {
        Zip2Regs(a[j], b[j], E[2 * j], E[2 * j + 1]);
        Zip2Regs(c[j], e[j], F[2 * j], F[2 * j + 1]);
    }
    for (size_t j = 0; j < 4; ++j) Zip2Regs(E[j], F[j], out[2 * j], out[2 * j + 1]);
}
#endif

// Stores a and b interleaved lane by lane (a0 b0 a1 b1 ...) at out[0, 2N): Zip2Regs on AVX-512 (Highway 1.0's
// StoreInterleaved2 takes six shuffles there), Highway's interleaving store elsewhere.
template <class D, class V>
HWY_ATTR HWY_INLINE void Zip2(D d, V a, V b, hn::TFromD<D>* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3_ZEN4
    V lo, hi;
    Zip2Regs(a, b, lo, hi);
    hn::StoreU(lo, d, out);
    hn::StoreU(hi, d, out + hn::Lanes(d));
#else
    hn::StoreInterleaved2(a, b, d, out);
#endif
}

}  // namespace tconv::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TCONV_KERNELS_ZIP_INL_H_
