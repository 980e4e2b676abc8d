// dense: a 1x1 input (every spatial extent 1, e.g. DCGAN's first layer, which turns the latent vector into a
// 4x4 image) makes the transposed convolution one GEMM per layer:
//     dst[img][n] = bias(n) + sum over c of src[img][c] * B[c][n]
// The columns n run over the destination's (channel, position) pairs in the destination's own order
// (channels-first: n = oc*osz + o; channels-last: n = o*oc + oc), so every output row is written whole, in
// either layout. Output position o (per axis) is reached by the one kernel index kk with kk*d = o + pb, if any:
//     B[c][n] = wei[c][oc][kk(o)]  (0 where no kernel index reaches o, e.g. output padding).
// The source rows are the same in both layouts (one position per channel), read in place as the GEMM's A.
// A prepared plan packs B into panels. The one-call path packs nothing: B's rows are the weights' own rows
// (channels-first, B[c][n] = wei[c*oc*ksz + n] wherever every position has its kernel element), so the
// transposed kernel loads its vectors of columns straight from them and broadcasts the images' values.
#include <algorithm>

#include <hwy/cache_control.h>

#include "../kernels/gemm.hpp"
#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

// Columns that no kernel index reaches (dilation, output padding) cost a full GEMM column each: beyond this
// many output positions per kernel element, phase does less work.
constexpr int64_t kMaxColsPerTap = 2;

template <class T>
class DensePlan {
public:
    // lazy (the one-call path): no weights are packed; run() reads them in place (see run_lazy), so a call
    // costs what a prepared plan's run costs. `wei` must then outlive the plan's runs.
    DensePlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target, Layout layout,
              bool lazy = false, std::vector<T> storage = {})
        : mb_(p.mb), ic_(p.ic), epi_(epi), packed_(std::move(storage)) {
        const auto& ks = kernels::kernel_set(target);
        target_ = ks.target;
        if constexpr (sizeof(T) == 4) gemm_ = ks.f32; else gemm_ = ks.f64;
        seg_ = gemm_.seg[0];
        mr_ = static_cast<int64_t>(gemm_.mr);
        nr_ = static_cast<int64_t>(seg_.nr);
        const int rank = p.rank();
        const Dims o = p.o();
        const int64_t osz = detail::prod(o), ksz = detail::prod(p.k);
        ncols_ = p.oc * osz;
        ncb_ = (ncols_ + nr_ - 1) / nr_;
        // Per output position: the flat kernel index that reaches it, or -1.
        std::vector<int64_t> kidx(static_cast<size_t>(osz));
        const Dims o_st = detail::row_major_strides(o), k_st = detail::row_major_strides(p.k);
        for (int64_t op = 0; op < osz; ++op) {
            int64_t kf = 0;
            for (int a = 0; a < rank && kf >= 0; ++a) {
                const int64_t f = (op / o_st[a]) % o[a] + p.pb[a];
                if (f % p.d[a] != 0 || f / p.d[a] >= p.k[a]) kf = -1;
                else kf += f / p.d[a] * k_st[a];
            }
            kidx[static_cast<size_t>(op)] = kf;
        }
        const bool last = layout == Layout::channels_last;
        stream_ = static_cast<double>(mb_) * static_cast<double>(ncols_) * sizeof(T) >= detail::kStreamOutBytes;
        // Tasks: (column block, run of image tiles); a column block's B panel stays in cache over its images.
        ntile_ = (mb_ + mr_ - 1) / mr_;
        tiles_per_task_ = std::max<int64_t>(1, std::min<int64_t>(ntile_, 8));
        // packed[ncb][c][NR]: B(c, n) of column block ncb; bias per column (padded a vector past the end).
        bias_.assign(static_cast<size_t>(ncb_ * nr_ + nr_), T(0));
        for (int64_t n = 0; n < ncols_ && bia; ++n) bias_[static_cast<size_t>(n)] = bia[last ? n % p.oc : n / osz];
        bool identity = !last && osz == ksz;
        for (int64_t op = 0; op < osz && identity; ++op) identity = kidx[static_cast<size_t>(op)] == op;
        if (lazy) {
            // Column n's weight within a source channel's [oc][k] block (-1: zero); a column block (of the
            // transposed kernel's width) is read in place when it is whole and its weights lie consecutively
            // (channels-first, every position with its kernel element).
            wei_ = wei;
            cst_ = p.oc * ksz;
            const int64_t cw = static_cast<int64_t>(gemm_.cols.width), cr = static_cast<int64_t>(gemm_.cols.rows);
            // Channels-last: the columns n = o*oc + oc run over the channels, which lie a kernel size apart in
            // the weights. A task takes a chunk of W channels and transposes their [oc][k] blocks, per source
            // channel, into one panel per kernel element (all the positions' blocks of the chunk at once).
            const int64_t pitch = detail::round_up(cw, int64_t(16));
            if (last && ksz * ic_ * pitch * static_cast<int64_t>(sizeof(T)) <= (int64_t(1) << 20)) {
                ksz_ = ksz;
                oc_ = p.oc;
                osz_ = osz;
                pitch_ = pitch;
                kidx_ = kidx;
                ntile_ = (mb_ + cr - 1) / cr;
                tiles_per_task_ = std::min<int64_t>(ntile_, 16);
                ncb_ = (p.oc + cw - 1) / cw;  // channel chunks
                bias_.resize(static_cast<size_t>(ncols_ + cw), T(0));
                if constexpr (sizeof(T) == 4) transpose_ = ks.f32.transpose;
                else transpose_ = ks.f64.transpose;
                return;
            }
            ncb_ = (ncols_ + cw - 1) / cw;
            ntile_ = (mb_ + cr - 1) / cr;
            tiles_per_task_ = std::min<int64_t>(ntile_, 16);
            bpt_ = std::clamp<int64_t>(ncb_ / 8, 1, 8);
            bias_.resize(static_cast<size_t>(ncb_ * cw + cw), T(0));
            colsrc_.resize(static_cast<size_t>(ncols_));
            for (int64_t n = 0; n < ncols_; ++n) {
                const int64_t oc = last ? n % p.oc : n / osz, op = last ? n / p.oc : n % osz;
                const int64_t kf = kidx[static_cast<size_t>(op)];
                colsrc_[static_cast<size_t>(n)] = kf < 0 ? -1 : oc * ksz + kf;
            }
            contig_.assign(static_cast<size_t>(ncb_), 1);
            for (int64_t cb = 0; cb < ncb_; ++cb) {
                const int64_t n0 = cb * cw;
                bool in_place = n0 + cw <= ncols_;
                for (int64_t n = n0; n < std::min(ncols_, n0 + cw) && in_place; ++n)
                    in_place = colsrc_[static_cast<size_t>(n)] >= 0 &&
                               colsrc_[static_cast<size_t>(n)] == colsrc_[static_cast<size_t>(n0)] + (n - n0);
                contig_[static_cast<size_t>(cb)] = in_place;
            }
            return;
        }
        // (Never shrunk: a one-call buffer that served a larger layer is not zero-filled again; every element
        // used is written below.)
        if (packed_.size() < static_cast<size_t>(ncb_ * nr_ * ic_)) packed_.resize(static_cast<size_t>(ncb_ * nr_ * ic_));
        // Source channels are spread over the threads; channel c owns the rows packed[.][c][.].
        if (identity) {  // channels-first, every output position its own kernel element: B[c][n] = wei[c*oc*ksz + n]
            parallel::parallel_for(ic_, [&](int64_t b, int64_t e, int) {
                for (int64_t c = b; c < e; ++c)
                    for (int64_t cb = 0; cb < ncb_; ++cb) {
                        const int64_t n0 = cb * nr_, nn = std::min(nr_, ncols_ - n0);
                        T* d = packed_.data() + (cb * ic_ + c) * nr_;
                        const T* w = wei + c * ncols_ + n0;
                        for (int64_t i = 0; i < nn; ++i) d[i] = w[i];  // (a library call per panel row costs more)
                        for (int64_t i = nn; i < nr_; ++i) d[i] = T(0);
                    }
            });
            return;
        }
        // Column n's place in the panels (c = 0); then per source channel, the weights read in order.
        std::vector<int64_t> at(static_cast<size_t>(ncols_));
        for (int64_t n = 0; n < ncols_; ++n) at[static_cast<size_t>(n)] = (n / nr_) * ic_ * nr_ + n % nr_;
        parallel::parallel_for(ic_, [&](int64_t b, int64_t e, int) {
            for (int64_t c = b; c < e; ++c) {
                T* const pc = packed_.data() + c * nr_;
                for (int64_t cb = 0; cb < ncb_; ++cb) std::fill(pc + cb * ic_ * nr_, pc + cb * ic_ * nr_ + nr_, T(0));
                for (int64_t oc = 0; oc < p.oc; ++oc) {
                    const T* w = wei + (c * p.oc + oc) * ksz;
                    for (int64_t op = 0; op < osz; ++op) {
                        const int64_t kf = kidx[static_cast<size_t>(op)];
                        if (kf >= 0) pc[at[static_cast<size_t>(last ? op * p.oc + oc : oc * osz + op)]] = w[kf];
                    }
                }
            }
        });
    }

    void run(const T* src, T* dst) const {
        if (wei_ && transpose_) return run_lazy_last(src, dst);
        if (wei_) return run_lazy(src, dst);
        const int64_t nimg = (ntile_ + tiles_per_task_ - 1) / tiles_per_task_;
        parallel::parallel_for(ncb_ * nimg, [&](int64_t b, int64_t e, int) {
            thread_local std::vector<T> apack, ctile;
            thread_local std::vector<T*> rows;
            apack.resize(static_cast<size_t>(mr_ * ic_));
            ctile.resize(static_cast<size_t>(mr_ * nr_ + nr_));
            rows.resize(static_cast<size_t>(mr_));
            const size_t lda = static_cast<size_t>(ic_), zero = 0;
            for (int64_t task = b; task < e; ++task) {
                const int64_t cb = task / nimg, t0 = (task % nimg) * tiles_per_task_;
                const T* B = packed_.data() + cb * ic_ * nr_;
                const int64_t n0 = cb * nr_, nn = std::min(nr_, ncols_ - n0);
                for (int64_t tile = t0; tile < std::min(ntile_, t0 + tiles_per_task_); ++tile) {
                    const int64_t i0 = tile * mr_, ni = std::min(mr_, mb_ - i0);
                    const T* a = src + i0 * ic_;
                    if (ni < mr_) {  // the last images: rows past the batch are zeros
                        std::copy(a, a + ni * ic_, apack.begin());
                        std::fill(apack.begin() + ni * ic_, apack.end(), T(0));
                        a = apack.data();
                    }
                    seg_.fn_rows(&a, &lda, B, &zero, 1, static_cast<size_t>(ic_), ctile.data(), static_cast<size_t>(nr_), false);
                    store(ctile.data(), static_cast<size_t>(nr_), dst, i0, ni, n0, nn, rows.data());
                }
            }
            if (stream_) hwy::FlushStream();
        });
    }

    // The lazy plan (one call): the transposed kernel, CR images x W columns per call, with the images'
    // values broadcast from a small packed tile [c][CR] and the columns read as vectors straight from the
    // weights (a source channel's row of B is its [oc][k] block: B(c, n) at wei + c*cst + n) when a column
    // block's weights lie consecutively; other blocks (channels-last, kernel elements missing) are packed.
    // Tasks: (a few column blocks, a run of image tiles); the next block's weight lines are prefetched
    // while the current one is computed.
    void run_lazy(const T* src, T* dst) const {
        const int64_t cr = static_cast<int64_t>(gemm_.cols.rows), cw = static_cast<int64_t>(gemm_.cols.width);
        const int64_t nimg = (ntile_ + tiles_per_task_ - 1) / tiles_per_task_;
        const int64_t ngrp = (ncb_ + bpt_ - 1) / bpt_;
        parallel::parallel_for(ngrp * nimg, [&](int64_t b, int64_t e, int) {
            thread_local std::vector<T> apack, ctile, bpanel;
            thread_local std::vector<T*> rows;
            apack.resize(static_cast<size_t>(tiles_per_task_ * cr * ic_));
            ctile.resize(static_cast<size_t>(cr * cw + cw));
            bpanel.resize(static_cast<size_t>(ic_ * cw));
            rows.resize(static_cast<size_t>(cr));
            const size_t zero = 0;
            for (int64_t task = b; task < e; ++task) {
                const int64_t grp = task / nimg, t0 = (task % nimg) * tiles_per_task_;
                const int64_t t1 = std::min(ntile_, t0 + tiles_per_task_);
                pack_images(src, t0, t1, apack.data());
                for (int64_t cb = grp * bpt_; cb < std::min(ncb_, (grp + 1) * bpt_); ++cb) {
                    if (cb + 1 < ncb_) prefetch_block(cb + 1);
                    const int64_t n0 = cb * cw, nn = std::min(cw, ncols_ - n0);
                    const T* B = wei_ + colsrc_[static_cast<size_t>(n0)];
                    size_t ldb = static_cast<size_t>(cst_);
                    if (!contig_[static_cast<size_t>(cb)]) {
                        pack_block(n0, nn, cw, bpanel.data());
                        B = bpanel.data();
                        ldb = static_cast<size_t>(cw);
                    }
                    for (int64_t tile = t0; tile < t1; ++tile) {
                        const T* w = apack.data() + (tile - t0) * cr * ic_;
                        gemm_.cols.fn(&B, &ldb, w, &zero, 1, static_cast<size_t>(ic_), ctile.data(), static_cast<size_t>(cw), false);
                        store(ctile.data(), static_cast<size_t>(cw), dst, tile * cr, std::min(cr, mb_ - tile * cr), n0, nn, rows.data());
                    }
                }
            }
            if (stream_) hwy::FlushStream();
        });
    }

    // The lazy plan, channels-last: a task is (chunk of W output channels, run of image tiles). Per source
    // channel c, the chunk's weights w[c][oc0 .. oc0+W][k] are transposed into panel[k][c][W] (pitch_), then
    // each output position o reads the panel of its kernel element (none: the bias alone) for the tiles, and
    // the C tile goes to dst[img][o*oc + oc0 ..], a contiguous run.
    void run_lazy_last(const T* src, T* dst) const {
        const int64_t cr = static_cast<int64_t>(gemm_.cols.rows), cw = static_cast<int64_t>(gemm_.cols.width);
        const int64_t nimg = (ntile_ + tiles_per_task_ - 1) / tiles_per_task_;
        parallel::parallel_for(ncb_ * nimg, [&](int64_t b, int64_t e, int) {
            thread_local std::vector<T> apack, ctile, panel;
            thread_local std::vector<T*> rows;
            apack.resize(static_cast<size_t>(tiles_per_task_ * cr * ic_));
            ctile.resize(static_cast<size_t>(cr * cw + cw));
            panel.resize(static_cast<size_t>(ksz_ * ic_ * pitch_));
            rows.resize(static_cast<size_t>(cr));
            const size_t zero = 0, ldb = static_cast<size_t>(pitch_);
            for (int64_t task = b; task < e; ++task) {
                const int64_t chunk = task / nimg, t0 = (task % nimg) * tiles_per_task_;
                const int64_t t1 = std::min(ntile_, t0 + tiles_per_task_);
                const int64_t oc0 = chunk * cw, nn = std::min(cw, oc_ - oc0);
                if (task == b || (task - 1) / nimg != chunk)
                    for (int64_t c = 0; c < ic_; ++c) {
                        // The block two channels ahead (a run of nn x ksz values, channel strides apart) is
                        // requested first: the hardware prefetchers do not follow short runs that far apart.
                        // (Measured, one call, 1 thread: dcgan_z and z_odd 4-5% faster in a hot loop, level
                        // to 3% with the caches flushed between calls; one channel ahead gained 1-3% less.)
                        // Into L2, as prefetch_block's.
                        for (int64_t q = c == 0 ? 1 : c + 2; q <= c + 2 && q < ic_; ++q) {
                            const char* nx = reinterpret_cast<const char*>(wei_ + q * cst_ + oc0 * ksz_);
                            const int64_t bytes = nn * ksz_ * static_cast<int64_t>(sizeof(T));
                            asm volatile("");  // (keeps GCC from dropping a loop that only prefetches)
                            for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(nx + o, 0, 2);
                        }
                        transpose_(wei_ + c * cst_ + oc0 * ksz_, static_cast<size_t>(ksz_), static_cast<size_t>(nn),
                                   static_cast<size_t>(ksz_), panel.data() + c * pitch_, static_cast<size_t>(ic_ * pitch_));
                    }
                pack_images(src, t0, t1, apack.data());
                for (int64_t op = 0; op < osz_; ++op) {
                    const int64_t kf = kidx_[static_cast<size_t>(op)];
                    const T* B = panel.data() + std::max<int64_t>(kf, 0) * ic_ * pitch_;
                    const int64_t n0 = op * oc_ + oc0;
                    for (int64_t tile = t0; tile < t1; ++tile) {
                        const int64_t i0 = tile * cr, ni = std::min(cr, mb_ - i0);
                        if (kf >= 0)
                            gemm_.cols.fn(&B, &ldb, apack.data() + (tile - t0) * cr * ic_, &zero, 1, static_cast<size_t>(ic_),
                                          ctile.data(), static_cast<size_t>(cw), false);
                        else
                            std::fill(ctile.begin(), ctile.end(), T(0));
                        store(ctile.data(), static_cast<size_t>(cw), dst, i0, ni, n0, nn, rows.data());
                    }
                }
            }
            if (stream_) hwy::FlushStream();
        });
    }

    // The images of tiles t0 .. t1, transposed for the transposed kernel: a[tile][c][r] = src[img r][c],
    // zeros past the batch.
    void pack_images(const T* src, int64_t t0, int64_t t1, T* a) const {
        const int64_t cr = static_cast<int64_t>(gemm_.cols.rows);
        for (int64_t tile = t0; tile < t1; ++tile) {
            T* at = a + (tile - t0) * cr * ic_;
            const int64_t ni = std::min(cr, mb_ - tile * cr);
            const T* const s0 = src + tile * cr * ic_;
            for (int64_t c = 0; c < ic_; ++c, at += cr) {
                for (int64_t r = 0; r < ni; ++r) at[r] = s0[r * ic_ + c];
                for (int64_t r = ni; r < cr; ++r) at[r] = T(0);
            }
        }
    }

    // Rows i0 .. i0+ni of C (row stride ldc) plus bias, then the epilogue, into dst[img][n0 .. n0+nn].
    void store(const T* c, size_t ldc, T* dst, int64_t i0, int64_t ni, int64_t n0, int64_t nn, T** rows) const {
        for (int64_t r = 0; r < ni; ++r) rows[r] = dst + (i0 + r) * ncols_ + n0;
        gemm_.bias_store(c, ldc, bias_.data() + n0, static_cast<size_t>(nn), rows, static_cast<size_t>(ni), stream_);
        if (epi_.kind != Epilogue::Kind::none)
            for (int64_t r = 0; r < ni; ++r) apply_epilogue(epi_, rows[r], nn);
    }

    // The weight lines of the lazy plan's column block cb (when read in place), requested ahead of their use:
    // rows a channel stride apart defeat the hardware prefetchers. Into L2 (prefetcht1): requests into L1 wait
    // for its few miss buffers when the lines come from memory, and the loop stalls on them. (Measured, 1
    // thread, one-call after a 3 ms pause as the peer comparison times it: dcgan_z 0.85 -> 0.95-1.0x its plan,
    // z_odd 0.76 -> 0.90x.)
    void prefetch_block(int64_t cb) const {
        if (!contig_[static_cast<size_t>(cb)]) return;
        // (GCC drops a function whose only effect is prefetching as dead code: the empty asm keeps it.)
        asm volatile("");
        const int64_t cw = static_cast<int64_t>(gemm_.cols.width);
        const char* w = reinterpret_cast<const char*>(wei_ + colsrc_[static_cast<size_t>(cb * cw)]);
        const int64_t bytes = cw * static_cast<int64_t>(sizeof(T)), step = cst_ * static_cast<int64_t>(sizeof(T));
        for (int64_t c = 0; c < ic_; ++c, w += step) {
            for (int64_t at = 0; at < bytes; at += 64) __builtin_prefetch(w + at, 0, 2);
            __builtin_prefetch(w + bytes - 1, 0, 2);
        }
    }

    // A lazy column block that is not read in place: d[c][j] = B(c, n0 + j) for j < nn, zeros up to w.
    void pack_block(int64_t n0, int64_t nn, int64_t w, T* d) const {
        const int64_t* src = colsrc_.data() + n0;
        for (int64_t c = 0; c < ic_; ++c, d += w) {
            const T* const wc = wei_ + c * cst_;
            for (int64_t i = 0; i < nn; ++i) d[i] = src[i] < 0 ? T(0) : wc[src[i]];
            for (int64_t i = nn; i < w; ++i) d[i] = T(0);
        }
    }

    std::vector<T> release() { return std::move(packed_); }
    size_t packed_bytes() const { return (packed_.size() + bias_.size()) * sizeof(T); }
    size_t workspace_bytes() const {
        if (wei_) {  // lazy: the tiles' images, one packed column block (channels-last: a chunk's panels), a C tile
            const int64_t cr = static_cast<int64_t>(gemm_.cols.rows), cw = static_cast<int64_t>(gemm_.cols.width);
            const int64_t panels = transpose_ ? ksz_ * ic_ * pitch_ : ic_ * cw;
            return static_cast<size_t>(tiles_per_task_ * cr * ic_ + panels + cr * cw + cw) * sizeof(T) +
                   static_cast<size_t>(cr) * sizeof(T*);
        }
        return static_cast<size_t>(mr_ * ic_ + mr_ * nr_ + nr_) * sizeof(T) + static_cast<size_t>(mr_) * sizeof(T*);
    }
    const std::string& target() const { return target_; }

private:
    int64_t mb_, ic_;
    Epilogue epi_;
    std::string target_;
    kernels::Gemm<T> gemm_;
    typename kernels::Gemm<T>::Seg seg_;
    int64_t mr_ = 0, nr_ = 0, ncols_ = 0, ncb_ = 0, ntile_ = 0, tiles_per_task_ = 1;
    int64_t bpt_ = 1;  // lazy: column blocks per task
    bool stream_ = false;
    std::vector<T> packed_, bias_;
    const T* wei_ = nullptr;  // lazy: the caller's weights, packed panel by panel in run()
    int64_t cst_ = 0;         // lazy: a source channel's stride in wei_
    std::vector<int64_t> colsrc_;
    // lazy, channels-last: the kernel element of each output position (-1: none), the panel pitch, and the
    // transpose that packs a chunk's panels
    std::vector<int64_t> kidx_;
    int64_t ksz_ = 0, oc_ = 0, osz_ = 0, pitch_ = 0;
    kernels::TransposeFn<T> transpose_ = nullptr;
    std::vector<char> contig_;
};

std::string supports(const Problem& p, Direction dir) {
    if (dir != Direction::forward) return "implements the forward direction only";
    for (int a = 0; a < p.rank(); ++a)
        if (p.i[a] != 1) return detail::cat("made for inputs of one position (1x1); this one has i[", a, "]=", p.i[a]);
    if (p.g != 1) return detail::cat("made for one group; this layer has g=", p.g);
    const int64_t osz = detail::prod(p.o()), ksz = detail::prod(p.k);
    if (osz > kMaxColsPerTap * ksz)
        return detail::cat("the output has ", osz, " positions per channel, over ", kMaxColsPerTap, " per kernel element (", ksz, ")");
    return {};
}

// The one-call path. Channels-last, and channels-first layers whose weights exceed L2 (unless the input
// channels are few or, with many images, many: then the weights read in place in strides of a channel's
// row cost more than packing them in one sweep), are computed lazily: the weights read in place or moved
// a chunk at a time just before use. Other channels-first layers pack every panel, into a buffer kept per
// thread (no page faults after the first), as a plan does. (Measured, AVX-512, 1 thread, one-call: dcgan_z
// 1.5 -> 1.15 ms lazy; 512 KiB of weights over 256 images, or 512 input channels over 64 images: packing
// 10-15% faster.)
bool lazy_one_call(const Problem& p, Layout layout, size_t elem) {
    const double wbytes = static_cast<double>(p.wei_elems()) * static_cast<double>(elem);
    return layout == Layout::channels_last || (wbytes >= detail::kL2Bytes && p.ic >= 16 && (p.ic <= 256 || p.mb <= 16));
}

// Channels-first, the lazy one-call path costs what a plan's run costs: a kept plan would only add the digest
// of the weights (Algorithm::one_call_in_place; measured, 1 thread: dcgan_z 0.93x its plan with the kept plan,
// 1.04x lazy). Channels-last it moves the weights a chunk at a time (z_odd 0.84x its plan; kept, 0.94x).
bool in_place(const Problem& p, Layout layout, size_t elem) {
    return layout == Layout::channels_first && lazy_one_call(p, layout, elem);
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    thread_local std::vector<T> storage;
    const CallContext& ctx = call_context();
    const bool lazy = lazy_one_call(p, ctx.layout, sizeof(T));
    DensePlan<T> plan(p, wei, bia, ctx.epilogue ? *ctx.epilogue : Epilogue{}, ctx.simd, ctx.layout, lazy,
                      lazy ? std::vector<T>{} : std::move(storage));
    plan.run(src, dst);
    if (!lazy) storage = plan.release();
}

}  // namespace

Algorithm dense() {
    Algorithm a;
    a.name = "dense";
    a.summary = "1x1 input (DCGAN's first layer): one GEMM whose columns are the destination's (channel, position) "
                "pairs in its own order, whole output rows in either layout";
    a.supports = supports;
    a.fused_epilogue = true;
    a.simd = true;
    a.channels_last = true;
    a.f32.fwd = forward<float>;
    a.f64.fwd = forward<double>;
    a.one_call_in_place = in_place;
    a.f32.prepare = prepare_plan<float, DensePlan<float>>;
    a.f64.prepare = prepare_plan<double, DensePlan<double>>;
    return a;
}

}  // namespace tconv::algo
