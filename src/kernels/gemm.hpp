// Register-blocked GEMM micro-kernels, written once with Highway and compiled for every SIMD target Highway
// supports here (AVX-512, AVX2, SSE4, ... and the portable EMU128 fallback). The target is chosen once, by
// the plan, from kernel_targets(); micro-kernels take raw pointers and never allocate, thread or log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tconv::kernels {

// C[MR][NR] (row stride ldc) += A * B[kc][NR] with A(k, m) = a[k*lda + m]: a packed panel (lda = MR) or
// MR consecutive input values of kc channels read in place (lda = channel stride). B is a packed panel,
// NR = 2 vectors of T.
template <class T>
using GemmFn = void (*)(const T* a, size_t lda, const T* b, size_t kc, T* c, size_t ldc);

// C[MR][NR] = (add ? C : 0) + sum over segments i < nseg of A_i * B_i, where A_i is addressed as above from
// a[i] with stride lda[i] and B_i is the packed panel at b + boff[i] (kc rows each). One call sums every tap
// of a tile with the accumulators in registers: C is read at most once and written once.
template <class T>
using GemmSegFn = void (*)(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg,
                           size_t kc, T* c, size_t ldc, bool add);

// Rows r < rows: d[r][i] = c[r*ldc + i] + bias[i] for i < n, where c rows are padded to whole vectors and
// bias may be read (not used) up to the next whole vector past n. stream: with streaming stores (no read of
// the destination lines) where d[r] is vector-aligned, for outputs far larger than the caches.
// The segment kernel with A through row pointers (GemmSegFn's fn_ind) whose result goes straight to the
// destination: d[m][col0 + i] = bias[i] + sum over segments of (A_i * B_i)(m, i) for every row m of the tile
// and i < NR, the panel's whole width (rows that must not be written point at a scratch row). stream: with
// streaming stores, every d[m] + col0 vector-aligned (not for panels of a vector and a half: plain stores).
template <class T>
using GemmSegDirectFn = void (*)(const T* const* a, const size_t* lda, const T* b, const size_t* boff, size_t nseg,
                                 size_t kc, T* const* d, size_t col0, const T* bias, bool stream);

template <class T>
using BiasStoreFn = void (*)(const T* c, size_t ldc, const T* bias, size_t n, T* const* d, size_t rows, bool stream);

// Channels-first tiles, positions as the vector columns: C[rows][width] (row stride ldc) = (add ? C : 0) + sum
// over segments i < nseg of W_i * B_i, with weights W_i(k, m) = w[woff[i] + k*rows + m] (m < rows output
// channels, broadcast) and B_i(k, j) = b[i][k*ldb[i] + j] (j < width consecutive positions per source channel
// k < kc: a channels-first plane read in place, or a packed panel).
template <class T>
using GemmColsFn = void (*)(const T* const* b, const size_t* ldb, const T* w, const size_t* woff, size_t nseg,
                            size_t kc, T* c, size_t ldc, bool add);

// The same where segment i's positions j whose bit j of mask[i] is clear read zeros: B_i(k, j) is then not
// read (a hardware masked load), so b[i] may address sources outside the source for those positions (a tile
// whose positions past a row's edge are outside, read in place with them masked off).
template <class T>
using GemmColsMaskedFn = void (*)(const T* const* b, const size_t* ldb, const T* w, const size_t* woff, size_t nseg,
                                  size_t kc, T* c, size_t ldc, bool add, const uint64_t* mask);

// d[i*nr + r] = c[r][i] + bias for i < n, r < nr: nr phases alternating along the destination's last axis,
// written as whole interleaved vectors (nr up to 4; more: value by value in destination order); stream: vector-aligned ones around the caches. The rows
// c[r] must be readable (not used) up to the next whole vector past n.
template <class T>
using InterleaveStoreFn = void (*)(const T* const* c, size_t nr, size_t n, T bias, T* d, bool stream);

// dst[j*ldd + i] = src[i*ld + j] for j < cols and i < rows (src readable from src[0] to src[(rows-1)*ld +
// cols - 1]); dst[j*ldd + i] = 0 for rows <= i < round_up(rows, 16). Vectors are transposed in registers.
template <class T>
using TransposeFn = void (*)(const T* src, size_t ld, size_t rows, size_t cols, T* dst, size_t ldd);
// Weight panel rows from a [rows][cols] matrix (row stride ld): d[j][i] = i < rows ? s[i*ld + j] : 0 for
// i < nr, for each column j < cols whose d[j] is set (null: skipped). Transposed in registers and stored
// straight to the panel rows where nr is a multiple of the vector length (else value by value); stream:
// vector-aligned vectors are streamed. s is readable from s[0] to s[(rows-1)*ld + cols - 1].
template <class T>
using PackFn = void (*)(const T* s, size_t ld, size_t rows, size_t cols, T* const* d, size_t nr, bool stream);
// The same for two matrices at once, into panel rows of half a vector (nr = lanes / 2) that follow each other:
// d[j][i] = s[i*ld + j] and d[j][nr + i] = s2[i*ld + j] for i < nr (zeros for i >= rows), so each column's
// two panel rows are one whole vector (streamed when vector-aligned). s2 is readable as s is.
template <class T>
using PackPairFn = void (*)(const T* s, const T* s2, size_t ld, size_t rows, size_t cols, T* const* d, bool stream);
// d[i] = s[i] for i < n; stream: whole vectors at vector-aligned addresses of d are streamed (no read of the
// destination lines; the caller calls hwy::FlushStream before the values are read by another thread).
template <class T>
using CopyFn = void (*)(const T* s, size_t n, T* d, bool stream);
// d[r*ldd + i] = s[r*lds + i] (s null: 0) for r < rows, i < len: a block of short runs (a tile's positions,
// channel by channel) in one call; the tail of each run is one masked load and store where the target has them.
template <class T>
using CopyBlockFn = void (*)(const T* s, size_t lds, size_t rows, size_t len, T* d, size_t ldd);

// Channels-first, kernel == stride 2 along the last axis (no padding there): tiles of `rows` output channels x
// up to `vecs` chunks, each chunk N/2 consecutive inputs of one row whose N outputs are consecutive. a[v]: chunk
// v's panel from PackDupFn (every input value twice, [kc][N]); w: [kc][rows][2] weight pairs (kernel index 0
// and 1 along the last axis); dd[v]: chunk v's first output of channel 0 (channel m at dd[v] + m*ldd); cnt[v]:
// its outputs (N, or fewer at a row's edge: only those are written); the first `rows` channels are stored, plus
// bias[m]; stream: whole vector-aligned vectors go around the caches.
// Segments sg < nseg are summed (the tap pairs below): chunk v's panel of segment sg is a[sg*vecs + v] (vecs:
// the call's chunks; row k at a[...] + k*lda, N values from there), its weight pairs at w + woff[sg].
template <class T>
using GemmPairFn = void (*)(const T* const* a, size_t lda, const T* w, const size_t* woff, size_t nseg, size_t kc,
                            T* const* dd, size_t ldd, size_t rows, const size_t* cnt, const T* bias, bool stream);
// GemmPairFn's panels of nc chunks: d[c*ldd + k*N + 2j + r] = s[off[c] + k*lds + j] for j < cnt[c] <= N/2, r < 2
// (zeros for j >= cnt[c]), k < kc; reads nothing else. d is vector-aligned, ldd a multiple of N.
template <class T>
using PackDupFn = void (*)(const T* s, size_t lds, size_t kc, const int64_t* off, const int64_t* cnt, size_t nc, T* d,
                           size_t ldd);
// The zipped rows of the tap pairs (layers whose two last-axis phases have as many taps each): d[k*ldd + 2j] =
// s[k*lds + e + j] (the even outputs' source) and d[k*ldd + 2j + 1] = s[k*lds + o + j] (the odd ones') for j <
// len where the index lies in [0, lim), zeros elsewhere; nothing else is read (s + e may lie before the row).
template <class T>
using PackZipFn = void (*)(const T* s, size_t lds, size_t kc, int64_t e, int64_t o, int64_t len, int64_t lim, T* d,
                           size_t ldd);

// The Winograd transforms (winograd-inl.h; kinds per axis kh, kw: 0 identity, 1 F(2,2), 2 F(3,2), 3 F(2,3)).
// In: px[i*alpha_w + j] points at the n channels of the tile's input value (i, j); writes the transformed value
// (i, j) of channel c to v[(i*alpha_w + j)*ldv + c]. Out: m[(i*alpha_w + j)*ldm + c] holds the tile's products;
// writes (A_h^T m A_w)[i][j] + bias[c] to out[i*m_w + j][c] for c < n.
template <class T>
using WinoInFn = void (*)(int kh, int kw, const T* const* px, size_t n, T* v, size_t ldv);
template <class T>
using WinoOutFn = void (*)(int kh, int kw, const T* m, size_t ldm, size_t n, const T* bias, T* const* out);
// The same with value (i, j) at base + i*rs + j*cs (a tile wholly inside: no table of pointers); for the output,
// stream: vector-aligned whole vectors are streamed (no read of the destination lines; the caller fences).
template <class T>
using WinoInSFn = void (*)(int kh, int kw, const T* base, size_t rs, size_t cs, size_t n, T* v, size_t ldv);
template <class T>
using WinoOutSFn = void (*)(int kh, int kw, const T* m, size_t ldm, size_t n, const T* bias, T* base, size_t rs,
                            size_t cs, bool stream);

// The winograd path's weight transforms, a source channel at a time: for each output row o < nrows and j < n,
// d[dofs[o] + (j / pw) * pst + j % pw] = sum over terms t in [start[o], start[o + 1]) of coef[t] * w[widx[t] + j]
// (a product, then fused multiply-adds in the terms' order; no terms: zeros). Row o's n values go to panels pw
// wide, pst apart. n and pw are multiples of the vector length; stream: vector-aligned stores are streamed (the
// caller fences).
template <class T>
using CombineFn = void (*)(const T* w, const int64_t* widx, const T* coef, const uint32_t* start, size_t nrows,
                           size_t n, T* d, const int64_t* dofs, size_t pw, size_t pst, bool stream);

template <class T>
struct Gemm {
    GemmFn<T> fn = nullptr;
    GemmFn<T> fn_rows = nullptr;  // the same with A(k, m) = a[m*lda + k]
    // The segment kernel for B and C panels of nr columns: [0] two vectors (nr as above), [1] a vector and a
    // half, [2] one vector (narrow layers pad less); fn_rows reads A by rows ([0]: the dense path's tile kernel
    // and winograd's; [2]: winograd's for groups of few output channels; the phase path's channels-last tiles use
    // fn_ind). Empty where not compiled.
    struct Seg {
        GemmSegFn<T> fn = nullptr, fn_rows = nullptr;
        size_t nr = 0;
        size_t mr = 0;  // rows of A and C per call; 0: mr below
        // The same with A read through row pointers: a holds nseg x (rows per call) pointers, A(k, m) of
        // segment i = a[i*rows + m][lda[i] + k] (a position's channels, or zeros).
        GemmSegFn<T> fn_ind = nullptr;
        GemmSegDirectFn<T> fn_direct = nullptr;  // fn_ind storing rows plus the bias to the destination
        // fn_rows for 3, 6 and 9 rows of A and C (only [0]; null where not fewer than mr): the last tiles of a
        // block, with fewer rows computed in vain.
        GemmSegFn<T> fn_rows_part[3] = {};
    } seg[4];  // [3]: the wide shape, 6 rows x 4 vectors (AVX-512 only)
    BiasStoreFn<T> bias_store = nullptr;
    TransposeFn<T> transpose = nullptr;  // for packing weights
    // The same where whole blocks' vector-aligned rows are streamed (no read of the destination lines; the
    // caller fences).
    TransposeFn<T> transpose_stream = nullptr;
    PackFn<T> pack = nullptr;            // the same, straight into panel rows
    PackPairFn<T> pack_pair = nullptr;   // two source channels' panel rows of half a vector at once
    CopyFn<T> copy = nullptr;
    CopyBlockFn<T> copy_block = nullptr;
    struct Cols {
        GemmColsFn<T> fn = nullptr;
        InterleaveStoreFn<T> store = nullptr;
        size_t rows = 0, width = 0;  // output channels and positions per call
        GemmColsMaskedFn<T> masked = nullptr;  // only where masked loads never fault (AVX-512); else null
        // The same one vector wide (width1 positions), for a block's last tile when it holds no more; and
        // two vectors wide where the tile is three (AVX-512; else null).
        GemmColsFn<T> fn1 = nullptr, fn2 = nullptr;
        GemmColsMaskedFn<T> masked1 = nullptr, masked2 = nullptr;
        size_t width1 = 0, width2 = 0;
    } cols;
    struct Pair {
        GemmPairFn<T> fn[3] = {};  // 1, 2, 3 chunks per call (all null where the transposed tile is narrower)
        PackDupFn<T> pack = nullptr;
        PackZipFn<T> zip = nullptr;
        size_t rows = 0, vecs = 0, lanes = 0;  // output channels and chunks per full call, N
    } pair;
    WinoInFn<T> wino_in = nullptr;
    WinoOutFn<T> wino_out = nullptr;
    CombineFn<T> combine = nullptr;
    WinoInSFn<T> wino_in_s = nullptr;
    WinoOutSFn<T> wino_out_s = nullptr;
    size_t mr = 0, nr = 0;
};

struct KernelSet {
    std::string target;  // Highway's name for it: "AVX3", "AVX2", "SSE4", "EMU128", ...
    Gemm<float> f32;
    Gemm<double> f64;
};

// Every target compiled in and supported by this CPU, best first. The last is the portable fallback.
const std::vector<KernelSet>& kernel_targets();

// The kernel set named `target`, or the best one when `target` is empty. Throws tconv::Error when unknown.
const KernelSet& kernel_set(const std::string& target = {});

}  // namespace tconv::kernels
