// The digest's stripes for each Highway target (this file is compiled once per target through
// foreach_target.h); the chunking, the scalar definition and the combination below (HWY_ONCE).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/digest.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstdint>
#include <cstring>

#include "src/kernels/digest.hpp"

#ifndef TCONV_DIGEST_KEYS
#define TCONV_DIGEST_KEYS
namespace tconv::kernels::digest_detail {
// Odd 64-bit constants (fractional parts of irrational numbers and mixing constants in common use).
alignas(64) inline constexpr uint64_t kKey[24] = {
    0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL, 0x2545f4914f6cdd1dULL,
    0xd6e8feb86659fd93ULL, 0xa0761d6478bd642fULL, 0xe7037ed1a0b428dbULL, 0x8ebc6af09c88c6e3ULL,
    0x589965cc75374cc3ULL, 0x1d8e4e27c47d124fULL, 0xc2b2ae3d27d4eb4fULL, 0x165667b19e3779f9ULL,
    0x27d4eb2f165667c5ULL, 0x85ebca77c2b2ae63ULL, 0xff51afd7ed558ccdULL, 0xc4ceb9fe1a85ec53ULL,
    0x87c37b91114253d5ULL, 0x4cf5ad432745937fULL, 0x52dce729da3ed4b3ULL, 0x9fb21c651e98df25ULL,
    0xd35a2d97a1b0c3e5ULL, 0x6c8e9cf570932bd5ULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL};
inline constexpr uint64_t kPrime32 = 0x9e3779b1u;

// The definition (digest.hpp), one lane at a time.
inline void stripes_ref(const unsigned char* p, size_t stripes, uint64_t* acc) {
    for (size_t s = 0; s < stripes; ++s) {
        const uint64_t* const key = kKey + (s & 15);
        for (int i = 0; i < 8; ++i) {
            uint64_t x;
            std::memcpy(&x, p + s * 64 + 8 * i, 8);
            const uint64_t v = x ^ key[i];
            acc[i ^ 1] += x;
            acc[i] += (v & 0xffffffffu) * (v >> 32);
        }
        if ((s & 15) == 15)
            for (int i = 0; i < 8; ++i) acc[i] = (acc[i] ^ (acc[i] >> 47) ^ kKey[8 + i]) * kPrime32;
    }
}
}  // namespace tconv::kernels::digest_detail
#endif

HWY_BEFORE_NAMESPACE();
namespace tconv::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

HWY_ATTR void DigestStripes(const unsigned char* HWY_RESTRICT p, size_t stripes, uint64_t* HWY_RESTRICT acc) {
#if HWY_TARGET == HWY_SCALAR
    digest_detail::stripes_ref(p, stripes, acc);
#else
    using digest_detail::kKey;
    const hn::CappedTag<uint64_t, 8> d;  // 2, 4 or 8 lanes: the 8 lanes of the state in 4, 2 or 1 vectors
    const hn::Repartition<uint32_t, decltype(d)> d32;
    using V = hn::Vec<decltype(d)>;
    const size_t N = hn::Lanes(d), nv = 8 / N;
    V a[4];
    for (size_t j = 0; j < nv; ++j) a[j] = hn::LoadU(d, acc + j * N);
    const V prime = hn::Set(d, digest_detail::kPrime32);
    for (size_t s = 0; s < stripes; ++s) {
        const uint64_t* const key = kKey + (s & 15);
        for (size_t j = 0; j < nv; ++j) {
            const V x = hn::BitCast(d, hn::LoadU(hn::Repartition<uint8_t, decltype(d)>(), p + s * 64 + j * N * 8));
            const V v = hn::Xor(x, hn::LoadU(d, key + j * N));
            // lane i += lo32(v) * hi32(v); lane i ^ 1 += x (Reverse2: lane i takes lane i ^ 1)
            a[j] = hn::Add(a[j], hn::MulEven(hn::BitCast(d32, v), hn::BitCast(d32, hn::ShiftRight<32>(v))));
            a[j] = hn::Add(a[j], hn::Reverse2(d, x));
        }
        if ((s & 15) == 15)
            for (size_t j = 0; j < nv; ++j) {
                const V t = hn::Xor(hn::Xor(a[j], hn::ShiftRight<47>(a[j])), hn::LoadU(d, kKey + 8 + j * N));
                // t * prime mod 2^64 = lo32(t) * prime + (hi32(t) * prime << 32)
                const V lo = hn::MulEven(hn::BitCast(d32, t), hn::BitCast(d32, prime));
                const V hi = hn::MulEven(hn::BitCast(d32, hn::ShiftRight<32>(t)), hn::BitCast(d32, prime));
                a[j] = hn::Add(lo, hn::ShiftLeft<32>(hi));
            }
    }
    for (size_t j = 0; j < nv; ++j) hn::StoreU(a[j], d, acc + j * N);
#endif
}

}  // namespace tconv::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>

#include "src/parallel/parallel.hpp"

namespace tconv::kernels {

HWY_EXPORT(DigestStripes);

namespace {

uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ULL;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dULL;
    x ^= x >> 33;
    return x;
}

constexpr size_t kChunk = size_t(1) << 20;

}  // namespace

const std::vector<std::pair<std::string, DigestStripesFn>>& digest_targets() {
    static const std::vector<std::pair<std::string, DigestStripesFn>> t = [] {
        std::vector<std::pair<std::string, DigestStripesFn>> r;
        for (int64_t tg : hwy::SupportedAndGeneratedTargets()) {
            hwy::GetChosenTarget().Update(tg);
            r.emplace_back(hwy::TargetName(tg), &HWY_DYNAMIC_DISPATCH(DigestStripes));
        }
        hwy::GetChosenTarget().Update(hwy::SupportedTargets());
        r.emplace_back("reference", &digest_detail::stripes_ref);
        return r;
    }();
    return t;
}

Digest digest_chunk(const unsigned char* p, size_t n, uint64_t seed, DigestStripesFn fn) {
    using digest_detail::kKey;
    uint64_t acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = kKey[i] ^ mix(seed + static_cast<uint64_t>(i));
    const size_t stripes = n / 64;
    fn(p, stripes, acc);
    // The last partial stripe, zero-padded (its length is in the result), as stripe 0 of its own.
    if (n % 64 != 0) {
        unsigned char tail[64] = {};
        std::memcpy(tail, p + stripes * 64, n % 64);
        digest_detail::stripes_ref(tail, 1, acc);
    }
    Digest d{mix(n), mix(~n)};
    for (int i = 0; i < 8; ++i) {
        d.a = mix(d.a ^ acc[i]);
        d.b = mix(d.b + acc[i] * kKey[16 + i]);
    }
    return d;
}

Digest digest(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    const DigestStripesFn fn = digest_targets().front().second;
    const size_t nc = std::max<size_t>(1, (n + kChunk - 1) / kChunk);
    Digest r{mix(n ^ 0x5851f42d4c957f2dULL), mix(n)};
    const auto combine = [&](const Digest& c) {
        r.a = mix(r.a ^ c.a);
        r.b = mix(r.b + c.b) ^ c.a;
    };
    if (nc == 1) {
        combine(digest_chunk(b, n, 0, fn));
        return r;
    }
    std::vector<Digest> parts(nc);
    parallel::parallel_for(static_cast<int64_t>(nc), [&](int64_t lo, int64_t hi, int) {
        for (int64_t c = lo; c < hi; ++c) {
            const size_t o = static_cast<size_t>(c) * kChunk;
            parts[static_cast<size_t>(c)] = digest_chunk(b + o, std::min(kChunk, n - o), static_cast<uint64_t>(c), fn);
        }
    });
    for (const Digest& c : parts) combine(c);
    return r;
}

}  // namespace tconv::kernels
#endif  // HWY_ONCE
