// Internal helpers: overflow-checked arithmetic, index odometers over N-d extents, and message building.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

#include <hwy/cache_control.h>

#include "tconv/error.hpp"
#include "tconv/problem.hpp"

namespace tconv::detail {

// a*b and a+b, throwing tconv::Error naming `what` when the exact result leaves int64. `what` is a string, or
// a callable returning one (built only on the error path: these checks run on every call).
template <class W>
std::string what_str(const W& what) {
    if constexpr (std::is_invocable_v<const W&>) return what(); else return std::string(what);
}
template <class W>
int64_t mul(int64_t a, int64_t b, const W& what) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) throw Error(what_str(what) + " overflows 64-bit integers");
    return r;
}
template <class W>
int64_t add(int64_t a, int64_t b, const W& what) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) throw Error(what_str(what) + " overflows 64-bit integers");
    return r;
}
template <class W>
int64_t sub(int64_t a, int64_t b, const W& what) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r)) throw Error(what_str(what) + " overflows 64-bit integers");
    return r;
}

// x rounded up to a multiple of m (x >= 0, m > 0).
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Outputs from this many bytes on are written with streaming stores where aligned (phase's kernels and
// stores, rows' and dense's rows): twice a core's L2 (1 MiB on Zen 4, 1.25 MiB on Ice Lake), so the output
// cannot stay there, and writing it through the caches would read every line first and evict the weights and
// source rows the next tiles need. Measured: hifigan_up1's and hifigan_up3's 3.2 MiB outputs 4-5% faster
// than with the earlier 8 MiB limit (in a loop, and against oneDNN in alternation), dw_up2's 16 MiB and
// unet3d_up's 14 MiB; level within noise on dcgan_g1 (2 MiB), dcgan_z and z_odd (2-2.5 MiB).
constexpr double kStreamOutBytes = 2.0 * 1024 * 1024;
// Packed weight panels from this many bytes on are written with streaming stores (the one-call paths pack
// on every call; smaller panels are read again at once from the caches).
constexpr double kStreamBytes = 8.0 * 1024 * 1024;

// Channels-last rows of A up to this many bytes (a few source channels per position, e.g. a group's slice of
// a wide tensor: 32 of 256 channels) are prefetched one segment or tile ahead by phase's tile-by-tile GEMM:
// their lines lie a position's stride apart and the hardware prefetchers miss them (measured: g3_groups8 7%
// faster, srgan_3x3s1 1-3%; rows of 512 bytes, hifigan_up3's, gain nothing).
constexpr int64_t kPrefetchRowBytes = 256;

// Requests every cache line of the `bytes` bytes (> 0) from p.
inline void prefetch_row(const void* p, size_t bytes) {
    const char* q = static_cast<const char*>(p);
    for (size_t b = 0; b < bytes; b += 64) hwy::Prefetch(q + b);
    hwy::Prefetch(q + bytes - 1);
}

// Working sets up to this many bytes are planned to stay in a core's L2 (1 MiB on Zen 4, 1.25 MiB on Ice
// Lake): phase's weights per tile (tile-by-tile GEMM) and per group (phases interleaved block by block).
constexpr double kL2Bytes = 1024.0 * 1024;

// An allocator for large buffers that are rewritten often (the packed weights that the one-call paths pack on
// every call): blocks of 4 MiB or more start on a 2 MiB boundary and are advised as transparent huge pages
// before their first touch, so that writing panels scattered over tens of MiB does not take a TLB miss per
// 4 KiB page (where the kernel's THP mode is "madvise", as on Debian's default; harmless elsewhere).
template <class T>
struct HugeAlloc {
    using value_type = T;
    static constexpr size_t kHuge = size_t(2) << 20;
    HugeAlloc() = default;
    template <class U>
    HugeAlloc(const HugeAlloc<U>&) {}
    T* allocate(size_t n) {
        if (n > static_cast<size_t>(PTRDIFF_MAX) / sizeof(T)) throw std::bad_alloc();
        const size_t bytes = n * sizeof(T);
        if (bytes < 2 * kHuge) return static_cast<T*>(::operator new(bytes));
        const size_t whole = (bytes + kHuge - 1) / kHuge * kHuge;  // (aligned_alloc: a multiple of the alignment)
        void* p = std::aligned_alloc(kHuge, whole);
        if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
        madvise(p, whole, MADV_HUGEPAGE);  // advice only: failure changes nothing
#endif
        return static_cast<T*>(p);
    }
    void deallocate(T* p, size_t n) {
        if (n * sizeof(T) < 2 * kHuge) ::operator delete(p);
        else std::free(p);
    }
    template <class U>
    bool operator==(const HugeAlloc<U>&) const { return true; }
};
template <class T>
using HugeVector = std::vector<T, HugeAlloc<T>>;

// Floor division (Python's //), for b > 0.
inline int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

inline int64_t prod(const Dims& v) {
    int64_t r = 1;
    for (int64_t x : v) r *= x;  // callers pass validated sizes only
    return r;
}

// Row-major strides of an extent list.
inline Dims row_major_strides(const Dims& ext) {
    Dims st(ext.size(), 1);
    for (int a = static_cast<int>(ext.size()) - 2; a >= 0; --a) st[a] = st[a + 1] * ext[a + 1];
    return st;
}

// Calls f(idx) for every multi-index in [0, ext) in row-major order; idx is an int64_t array of ext.size().
template <class F>
void for_each_index(const Dims& ext, F&& f) {
    const int n = static_cast<int>(ext.size());
    for (int64_t e : ext)
        if (e <= 0) return;
    Dims idx(n, 0);
    while (true) {
        f(idx.data());
        int a = n - 1;
        while (a >= 0 && ++idx[a] == ext[a]) idx[a--] = 0;
        if (a < 0) return;
    }
}

// "name[a]=value" for messages about per-axis parameters.
inline std::string at(const std::string& name, int a, int64_t v) {
    return name + "[" + std::to_string(a) + "]=" + std::to_string(v);
}

template <class... Args>
std::string cat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

}  // namespace tconv::detail
