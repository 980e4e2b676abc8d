// A 128-bit digest of a byte range, for recognising weights that have not changed between one-call runs
// (src/ops.cpp). Not cryptographic: it tells apart accidental changes (any byte, any order), not crafted
// collisions. The same value on every SIMD target and for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tconv::kernels {

struct Digest {
    uint64_t a = 0, b = 0;
    bool operator==(const Digest&) const = default;
};

// The state of a chunk (8 lanes) after `stripes` stripes of 64 bytes from p: per stripe s and lane i, with
// x = the stripe's 8-byte word i and v = x ^ key[(s mod 16) + i], lane i adds lo32(v) * hi32(v) and lane i^1
// adds x; after every 16th stripe each lane is scrambled (acc ^= acc >> 47, ^= key[8 + i], *= a 32-bit prime).
using DigestStripesFn = void (*)(const unsigned char* p, size_t stripes, uint64_t* acc);

// (target name, its stripes function) for every target compiled in and supported here, best first; the
// scalar definition last, named "reference".
const std::vector<std::pair<std::string, DigestStripesFn>>& digest_targets();

// One chunk of n bytes (its index as the seed) with the given stripes function.
Digest digest_chunk(const unsigned char* p, size_t n, uint64_t seed, DigestStripesFn fn);

// The digest of n bytes: chunks of 1 MiB (digested in parallel), combined in order.
Digest digest(const void* p, size_t n);

}  // namespace tconv::kernels
