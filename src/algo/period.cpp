// period: kernels a whole number of strides long (k = T*s on every axis, no dilation), the shape of the
// large-stride upsamplers (FCN's k64 s32 and k16 s8, a vocoder's 1-D k1024 s256). Along an axis, the full
// (uncropped) output position u = o + pb splits as u = s*j + r (period j, residue r < s), and input position i
// reaches it through kernel element u - s*i = s*(j - i) + r, a tap of the kernel exactly when t = j - i < T. So
// one period of the output (its s outputs per axis, every output channel) is one row of one GEMM:
//     dst[img][s*j + r - pb][oc] = bias(oc) + sum over (t, c) of src[img][j - t][c] * wei[c][oc][s*t + r]
// with rows (img, j) over the periods that reach the cropped output, K = (t, c) (T per axis times the input
// channels; inputs j - t outside the input are zeros) and N = (r, oc) columns in the destination's own order
// (channels-last: r then oc, so a row's columns for one residue of the outer axes are one run of s_last*oc
// consecutive outputs; channels-first: oc then r, runs of s_last). Unlike the phases (phase.cpp: s GEMMs of oc
// columns each), the columns are many however few the channels are, so the micro-kernel's panels are whole and
// the output is written in long runs; the price is the periods at the edges, whose outputs the padding partly
// crops (17 x 17 periods for FCN's 16 x 16 inputs, 13% more products than the taps that land). Where the last
// axis (and the one before it) has 2 or 3 taps per period, tiles of periods along it are computed by
// Winograd's minimal filtering (setup_wino): FCN's k64 s32 with 16 products for 9 periods of 4 taps.
// docs/algorithms.md has the index math.
#include <algorithm>
#include <cmath>

#include <hwy/cache_control.h>

#include "../kernels/gemm.hpp"
#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"
#include "wino_tables.hpp"
#include "tconv/error.hpp"

namespace tconv::algo {

namespace {

// A task's packed rows of A (M block x K) stay within this (L2, with a panel of B and the C tile).
constexpr double kABlockBytes = 192.0 * 1024;
constexpr int64_t kMaxRows = 16;  // rows of a micro-kernel tile
constexpr int64_t kMaxTile = 16;  // winograd: values (alpha_h x alpha_w) and periods (mh x mw) of a tile

template <class T>
class PeriodPlan {
public:
    // `storage` is reused for the packed weights when its capacity suffices (the one-call path keeps one).
    // spare: the Winograd tiles' direct panels, from which U is computed (the one-call path keeps one too).
    PeriodPlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target, Layout layout,
               detail::HugeVector<T> storage = {}, detail::HugeVector<T> spare = {})
        : rank_(p.rank()), mb_(p.mb), ic_(p.ic), oc_(p.oc), epi_(epi), last_(layout == Layout::channels_last),
          packed_(std::move(storage)), spare_(std::move(spare)) {
        const auto& ks = kernels::kernel_set(target);
        target_ = ks.target;
        const kernels::Gemm<T>& gm = [&]() -> const kernels::Gemm<T>& {
            if constexpr (sizeof(T) == 4) return ks.f32; else return ks.f64;
        }();
        // The wide shape (6 rows x 4 vectors) where the target has it: the columns are many.
        seg_ = gm.seg[3].fn ? gm.seg[3] : gm.seg[0];
        mr_ = seg_.mr ? static_cast<int64_t>(seg_.mr) : static_cast<int64_t>(gm.mr);
        nr_ = static_cast<int64_t>(seg_.nr);
        if (mr_ > kMaxRows)
            throw Error(detail::cat("internal: period's tiles hold up to ", kMaxRows, " rows (kernel set ", target_, ": ",
                                    mr_, ")"));
        bias_store_ = gm.bias_store;
        i_ = p.i;
        o_ = p.o();
        s_ = p.s;
        pb_ = p.pb;
        T_.resize(rank_);
        j0_.resize(rank_);
        jc_.resize(rank_);
        for (int a = 0; a < rank_; ++a) {
            T_[a] = p.k[a] / p.s[a];
            // The periods that hold a cropped output: [floor(pb / s), ceil((pb + o) / s)).
            j0_[a] = p.pb[a] / p.s[a];
            jc_[a] = (p.pb[a] + o_[a] + p.s[a] - 1) / p.s[a] - j0_[a];
        }
        isz_ = detail::prod(i_);
        osz_ = detail::prod(o_);
        i_st_ = detail::row_major_strides(i_);
        o_st_ = detail::row_major_strides(o_);
        jc_st_ = detail::row_major_strides(jc_);
        const Dims s_st = detail::row_major_strides(s_), t_st = detail::row_major_strides(T_);
        const Dims k_st = detail::row_major_strides(p.k);
        const int64_t ssz = detail::prod(s_), tsz = detail::prod(T_), ksz = detail::prod(p.k);
        ntap_ = tsz;
        M_ = mb_ * detail::prod(jc_);
        K_ = tsz * ic_;
        N_ = ssz * oc_;
        npan_ = (N_ + nr_ - 1) / nr_;
        // Per column n: its residues, its offset in the destination from the period's first (uncropped) output,
        // its weight within a source channel's [oc][k] block for t = 0, and the end of its run of consecutive
        // destination offsets.
        res_.resize(static_cast<size_t>(N_ * rank_));
        off_.resize(static_cast<size_t>(N_));
        for (int64_t n = 0; n < N_; ++n) {
            const int64_t c = last_ ? n % oc_ : n / ssz, rf = last_ ? n / oc_ : n % ssz;
            int64_t pos = 0;
            for (int a = 0; a < rank_; ++a) {
                const int64_t r = rf / s_st[a] % s_[a];
                res_[static_cast<size_t>(n * rank_ + a)] = r;
                pos += r * o_st_[a];
            }
            off_[static_cast<size_t>(n)] = last_ ? pos * oc_ + c : c * osz_ + pos;
        }
        // (A run keeps its outer residues, and its last residue never falls: the store crops it by them.)
        const auto joins = [&](int64_t n) {
            bool same = off_[static_cast<size_t>(n + 1)] == off_[static_cast<size_t>(n)] + 1;
            for (int a = 0; a < rank_ && same; ++a) {
                const int64_t r = res_[static_cast<size_t>(n * rank_ + a)], r1 = res_[static_cast<size_t>((n + 1) * rank_ + a)];
                same = a + 1 < rank_ ? r == r1 : r1 >= r;
            }
            return same;
        };
        run_end_.resize(static_cast<size_t>(N_));
        for (int64_t n = N_ - 1; n >= 0; --n)
            run_end_[static_cast<size_t>(n)] = n + 1 < N_ && joins(n) ? run_end_[static_cast<size_t>(n + 1)] : n + 1;
        // Per tap combination t: its index per axis and its kernel offset.
        tap_t_.resize(static_cast<size_t>(tsz * rank_));
        std::vector<int64_t> tap_k(static_cast<size_t>(tsz));
        for (int64_t t = 0; t < tsz; ++t) {
            int64_t kk = 0;
            for (int a = 0; a < rank_; ++a) {
                const int64_t ta = t / t_st[a] % T_[a];
                tap_t_[static_cast<size_t>(t * rank_ + a)] = ta;
                kk += p.s[a] * ta * k_st[a];
            }
            tap_k[static_cast<size_t>(t)] = kk;
        }
        // Bias per column, padded a panel past the end (bias_store may read up to a vector past its n).
        bias_.assign(static_cast<size_t>(npan_ * nr_ + nr_), T(0));
        if (bia)
            for (int64_t n = 0; n < N_; ++n) bias_[static_cast<size_t>(n)] = bia[last_ ? n % oc_ : n / ssz];
        // B -> packed[panel][k][NR], k = t*ic + c, zeros past N. Source channels are spread over the threads.
        // Per (c, t) and residue of the outer axes, the weights of every output channel along the last axis' s
        // residues are an oc x s_last block (rows a kernel apart): channels-first, each row is a run of s_last
        // columns; channels-last, the block is transposed in registers (columns r*oc + oc) and its rows copied.
        // (Every element is written below: the panels' columns past N as zeros.) With the Winograd tiles, these
        // direct panels go to the spare buffer and U_xi is computed from them (setup_wino).
        setup_wino(gm);
        detail::HugeVector<T>& bp = wino_ ? spare_ : packed_;
        if (bp.size() < static_cast<size_t>(npan_ * K_ * nr_)) bp.resize(static_cast<size_t>(npan_ * K_ * nr_));
        if (N_ % nr_ != 0)
            for (int64_t k = 0; k < K_; ++k) {
                T* const d = bp.data() + ((npan_ - 1) * K_ + k) * nr_;
                std::fill(d + N_ % nr_, d + nr_, T(0));
            }
        const int64_t sl = s_[rank_ - 1], nouter = ssz / sl;
        std::vector<int64_t> outer_k(static_cast<size_t>(nouter));  // the outer residues' kernel offset
        for (int64_t ro = 0; ro < nouter; ++ro) {
            int64_t kk = 0;
            for (int a = 0; a + 1 < rank_; ++a) kk += ro * sl / s_st[a] % s_[a] * k_st[a];
            outer_k[static_cast<size_t>(ro)] = kk;
        }
        const auto transpose = gm.transpose;
        const int64_t ldt = detail::round_up(oc_, int64_t(16));
        parallel::parallel_for(ic_, [&](int64_t b, int64_t e, int) {
            std::vector<T> tb(last_ ? static_cast<size_t>(sl * ldt) : 0);
            // Row k's columns [n, n + len) from v (across panel boundaries).
            const auto put = [&](int64_t k, int64_t n, const T* v, int64_t len) {
                while (len > 0) {
                    const int64_t pn = n / nr_, x = n % nr_, l = std::min(len, nr_ - x);
                    std::copy(v, v + l, bp.data() + (pn * K_ + k) * nr_ + x);
                    n += l, v += l, len -= l;
                }
            };
            for (int64_t c = b; c < e; ++c)
                for (int64_t t = 0; t < tsz; ++t)
                    for (int64_t ro = 0; ro < nouter; ++ro) {
                        const T* const w =
                            wei + c * oc_ * ksz + tap_k[static_cast<size_t>(t)] + outer_k[static_cast<size_t>(ro)];
                        const int64_t k = t * ic_ + c;
                        if (!last_) {
                            for (int64_t j = 0; j < oc_; ++j) put(k, j * ssz + ro * sl, w + j * ksz, sl);
                            continue;
                        }
                        transpose(w, static_cast<size_t>(ksz), static_cast<size_t>(oc_), static_cast<size_t>(sl), tb.data(),
                                  static_cast<size_t>(ldt));
                        for (int64_t r = 0; r < sl; ++r) put(k, (ro * sl + r) * oc_, tb.data() + r * ldt, oc_);
                    }
        });
        if (wino_) pack_u();
        // Tasks: (block of rows, chunk of panels). A block's packed A stays in L2; each panel of B is read once
        // per block. Chunks: enough tasks for the threads on small M, else whole rows of panels.
        const int64_t grows = wino_ ? MW_ : M_, rowk = wino_ ? alpha_ * KW_ : K_;
        const int64_t tiles = (grows + mr_ - 1) / mr_;
        tpb_ = std::clamp<int64_t>(
            static_cast<int64_t>(kABlockBytes / (static_cast<double>(rowk * mr_) * sizeof(T))), 1, tiles);
        nblk_ = (tiles + tpb_ - 1) / tpb_;
        tpb_ = (tiles + nblk_ - 1) / nblk_;  // blocks as even as whole tiles make them (equal tasks for the threads)
        nblk_ = (tiles + tpb_ - 1) / tpb_;
        const int64_t want = 16;  // (a fixed count: the plan does not depend on the threads)
        nchunk_ = std::clamp<int64_t>((want + nblk_ - 1) / nblk_, 1, npan_);
        ppc_ = (npan_ + nchunk_ - 1) / nchunk_;
        nchunk_ = (npan_ + ppc_ - 1) / ppc_;
        stream_ = static_cast<double>(mb_) * static_cast<double>(osz_ * oc_) * sizeof(T) >= detail::kStreamOutBytes;
        direct_ = epi_.kind == Epilogue::Kind::none && seg_.fn_direct;
        // A run is a whole residue of the last axis (its s_last outputs, channels-last times oc): consecutive
        // periods along that axis continue it.
        runlen_ = last_ ? s_[rank_ - 1] * oc_ : s_[rank_ - 1];
        chain_ = runlen_ == run_end_[0];
    }

    void run(const T* src, T* dst) const {
        if (wino_) return run_wino(src, dst);
        parallel::parallel_for(nblk_ * nchunk_, [&](int64_t b, int64_t e, int) {
            thread_local Scratch ws;
            ws.a.resize(static_cast<size_t>((tpb_ * mr_ + 1) * K_));
            ws.c.resize(static_cast<size_t>(mr_ * nr_ + nr_));
            ws.sink.resize(static_cast<size_t>(nr_));
            ws.rows.resize(static_cast<size_t>(tpb_ * mr_));
            ws.aptr.resize(static_cast<size_t>(tpb_ * mr_));
            int64_t packed_blk = -1;
            for (int64_t task = b; task < e; ++task) {
                const int64_t blk = task / nchunk_, chunk = task % nchunk_;
                const int64_t t0 = blk * tpb_, t1 = std::min((M_ + mr_ - 1) / mr_, t0 + tpb_);
                if (blk != packed_blk) {
                    pack_a(src, t0, t1, ws);
                    packed_blk = blk;
                }
                const size_t zero = 0;
                for (int64_t pn = chunk * ppc_; pn < std::min(npan_, (chunk + 1) * ppc_); ++pn) {
                    const T* const B = packed_.data() + pn * K_ * nr_;
                    const int64_t n0 = pn * nr_;
                    // A panel that is one run of the destination: interior tiles go straight from the registers.
                    const bool whole = direct_ && n0 + nr_ <= N_ && run_end_[static_cast<size_t>(n0)] >= n0 + nr_;
                    for (int64_t tile = t0; tile < t1; ++tile) {
                        const int64_t x0 = (tile - t0) * mr_;
                        const T* const* a = ws.aptr.data() + x0;
                        const Row* const rw = ws.rows.data() + x0;
                        if (whole && rw[0].tile_inner) {
                            T* d[kMaxRows];
                            bool aligned = stream_;
                            for (int64_t x = 0; x < mr_; ++x) {
                                d[x] = dst + rw[x].base + off_[static_cast<size_t>(n0)];
                                aligned = aligned && reinterpret_cast<uintptr_t>(d[x]) % 64 == 0;
                            }
                            seg_.fn_direct(a, &zero, B, &zero, 1, static_cast<size_t>(K_), d, 0, bias_.data() + n0, aligned);
                            continue;
                        }
                        seg_.fn_ind(a, &zero, B, &zero, 1, static_cast<size_t>(K_), ws.c.data(), static_cast<size_t>(nr_),
                                    false);
                        const int64_t rows = std::min(mr_, M_ - tile * mr_);
                        store(ws.c.data(), dst, rw, rows, n0, rows == mr_ && rw[0].tile_inner);
                    }
                }
            }
            if (stream_) hwy::FlushStream();
        });
    }

    // Winograd along the transformed axes: per block, the transformed values V of its tiles; per panel and group
    // of MR tiles, one GEMM per point xi (U_xi's panel), then each tile's output transform, straight to the
    // destination (interior tiles, a panel that is one run, no epilogue) or through C rows and store().
    void run_wino(const T* src, T* dst) const {
        const int64_t nxmax = tpb_ * mr_, mhw = mh_ * mw_;
        parallel::parallel_for(nblk_ * nchunk_, [&](int64_t b, int64_t e, int) {
            thread_local Scratch ws;
            ws.a.resize(static_cast<size_t>((alpha_ * nxmax + 1) * KW_));
            ws.x.resize(static_cast<size_t>(alpha_ * KW_));
            ws.c.resize(static_cast<size_t>(alpha_ * mr_ * nr_ + nr_));
            ws.sink.resize(static_cast<size_t>(mhw * nr_ + nr_));
            ws.rows.resize(static_cast<size_t>(nxmax * mhw));
            ws.aptr.resize(static_cast<size_t>(alpha_ * nxmax));
            ws.tin.resize(static_cast<size_t>(nxmax));
            int64_t packed_blk = -1;
            for (int64_t task = b; task < e; ++task) {
                const int64_t blk = task / nchunk_, chunk = task % nchunk_;
                const int64_t t0 = blk * tpb_, t1 = std::min((MW_ + mr_ - 1) / mr_, t0 + tpb_);
                if (blk != packed_blk) {
                    pack_v(src, t0, t1, ws);
                    packed_blk = blk;
                }
                const size_t zero = 0;
                for (int64_t pn = chunk * ppc_; pn < std::min(npan_, (chunk + 1) * ppc_); ++pn) {
                    const int64_t n0 = pn * nr_;
                    const bool whole = direct_ && n0 + nr_ <= N_ && run_end_[static_cast<size_t>(n0)] >= n0 + nr_;
                    for (int64_t tile = t0; tile < t1; ++tile) {
                        const int64_t x0 = (tile - t0) * mr_;
                        for (int64_t xi = 0; xi < alpha_; ++xi)
                            seg_.fn_ind(ws.aptr.data() + xi * nxmax + x0, &zero, packed_.data() + (xi * npan_ + pn) * KW_ * nr_,
                                        &zero, 1, static_cast<size_t>(KW_), ws.c.data() + xi * mr_ * nr_,
                                        static_cast<size_t>(nr_), false);
                        const int64_t nt = std::min(mr_, MW_ - tile * mr_);
                        for (int64_t x = 0; x < nt; ++x) {
                            const Row* const rw = ws.rows.data() + (x0 + x) * mhw;
                            const bool inner = ws.tin[static_cast<size_t>(x0 + x)] != 0;
                            T* out[kMaxTile];
                            if (whole && inner) {
                                // (an interior tile's periods lie a row and a period apart in the destination)
                                const int64_t rs = mh_ > 1 ? rw[mw_].base - rw[0].base : 0;
                                const int64_t cs = mw_ > 1 ? rw[1].base - rw[0].base : 0;
                                wino_out_s_(kh_, kw_, ws.c.data() + x * nr_, static_cast<size_t>(mr_ * nr_),
                                            static_cast<size_t>(nr_), bias_.data() + n0,
                                            dst + rw[0].base + off_[static_cast<size_t>(n0)], static_cast<size_t>(rs),
                                            static_cast<size_t>(cs), stream_);
                                continue;
                            }
                            for (int64_t q = 0; q < mhw; ++q) out[q] = ws.sink.data() + q * nr_;
                            wino_out_(kh_, kw_, ws.c.data() + x * nr_, static_cast<size_t>(mr_ * nr_),
                                      static_cast<size_t>(nr_), zeros_.data(), out);
                            store(ws.sink.data(), dst, rw, mhw, n0, inner);
                        }
                    }
                }
            }
            if (stream_) hwy::FlushStream();
        });
    }

    detail::HugeVector<T> release() { return std::move(packed_); }
    detail::HugeVector<T> release_spare() { return std::move(spare_); }
    size_t packed_bytes() const {
        return (static_cast<size_t>(wino_ ? alpha_ * npan_ * KW_ * nr_ : npan_ * K_ * nr_) + bias_.size()) * sizeof(T);
    }
    size_t workspace_bytes() const {
        if (wino_) {
            const int64_t nxmax = tpb_ * mr_, mhw = mh_ * mw_;
            return static_cast<size_t>((alpha_ * nxmax + 1) * KW_ + alpha_ * KW_ + alpha_ * mr_ * nr_ + nr_ + mhw * nr_ + nr_) *
                       sizeof(T) +
                   static_cast<size_t>(nxmax) * (mhw * sizeof(Row) + alpha_ * sizeof(T*) + 1);
        }
        return static_cast<size_t>((tpb_ * mr_ + 1) * K_ + mr_ * nr_ + 2 * nr_) * sizeof(T) +
               static_cast<size_t>(tpb_ * mr_) * (sizeof(Row) + sizeof(T*));
    }
    const std::string& target() const { return target_; }

private:
    // A row of the GEMM (a period of an image): its first output's offset in the destination (as if uncropped:
    // may lie outside), per axis the residues [lo, hi) that the padding keeps, and whether it keeps them all
    // (inner; tile_inner: every row of its tile, on the tile's first row).
    struct Row {
        int64_t base = 0;
        int64_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
        bool inner = false, tile_inner = false;
    };
    struct Scratch {
        std::vector<T> a, c, sink, x;
        std::vector<Row> rows;
        std::vector<const T*> aptr;
        std::vector<char> tin;  // winograd: every period of the tile there and interior
    };

    // Winograd's minimal filtering along the last axis and the one before it (where their periods take 2 or 3
    // taps: F(3,2), F(2,3); one tap: the identity), the taps of any other axis staying in K: a tile of mh x mw
    // periods is computed from alpha_h x alpha_w transformed values (K' = the other axes' taps x ic each), one
    // GEMM per point xi with U_xi = (G_h g G_w^T)[xi], and its output transform. The correlation y[i] = sum_t
    // h[t] x[i + t] takes x[i] = the input at J0 - (T - 1) + i (J0 the tile's first period) and h[t] = the
    // taps in reverse, h[t] = W[T - 1 - t]. Exact with small integers (G holds halves, B^T and A^T +-1).
    void setup_wino(const kernels::Gemm<T>& gm) {
        const int L = rank_ - 1;
        const auto kind = [](int64_t t) { return t == 1 ? 0 : t == 2 ? 2 : t == 3 ? 3 : -1; };
        if (!gm.wino_in || !gm.wino_out || !gm.wino_out_s || !gm.combine || kind(T_[L]) < 0) return;
        const int ah = rank_ >= 2 && kind(T_[L - 1]) >= 0 ? L - 1 : -1;
        kw_ = kind(T_[L]);
        kh_ = ah >= 0 ? kind(T_[ah]) : 0;
        if (kw_ == 0 && kh_ == 0) return;
        wino_ = true;
        wino_in_ = gm.wino_in;
        wino_out_ = gm.wino_out;
        wino_out_s_ = gm.wino_out_s;
        combine_ = gm.combine;
        tr_.assign(rank_, 0);
        tr_[L] = 1;
        if (ah >= 0) tr_[ah] = 1;
        mh_ = wino::kM[kh_], mw_ = wino::kM[kw_];
        alh_ = wino::kAlpha[kh_], alw_ = wino::kAlpha[kw_];
        alpha_ = alh_ * alw_;
        // Per axis: the tile's periods (1 where not transformed), the GEMM rows along it, the
        // taps in K'.
        tm_.assign(rank_, 1);
        tkt_.assign(rank_, 1);
        tc_.resize(rank_);
        for (int a = 0; a < rank_; ++a) {
            if (tr_[a]) {
                tm_[a] = a == L ? mw_ : mh_;
            } else {
                tkt_[a] = T_[a];
            }
            tc_[a] = (jc_[a] + tm_[a] - 1) / tm_[a];
        }
        tc_st_ = detail::row_major_strides(tc_);
        MW_ = mb_ * detail::prod(tc_);
        nkt_ = detail::prod(tkt_);
        KW_ = nkt_ * ic_;
        const Dims kt_st = detail::row_major_strides(tkt_);
        // Per K' tap combination: its tap per axis (0 on the transformed axes).
        kt_.resize(static_cast<size_t>(nkt_ * rank_));
        for (int64_t q = 0; q < nkt_; ++q)
            for (int a = 0; a < rank_; ++a) kt_[static_cast<size_t>(q * rank_ + a)] = q / kt_st[a] % tkt_[a];
        zeros_.assign(static_cast<size_t>(nr_ + 16), T(0));
    }

    // U[xi][panel][k'][NR] from the direct panels (spare_): row (t, c) of B for t = (the K' taps, T - 1 - t' on
    // the transformed axes) times G_h[xi_h][t'_h] G_w[xi_w][t'_w], summed; per (xi, K' tap) a list of terms.
    void pack_u() {
        const int L = rank_ - 1;
        const int ah = rank_ >= 2 && tr_[L - 1] ? L - 1 : -1;
        const Dims t_st = detail::row_major_strides(T_);
        const int64_t th = ah >= 0 ? T_[ah] : 1, tw = T_[L];
        std::vector<std::vector<std::pair<int64_t, T>>> terms(static_cast<size_t>(alpha_ * nkt_));
        for (int64_t xi = 0; xi < alpha_; ++xi)
            for (int64_t q = 0; q < nkt_; ++q)
                for (int64_t a1 = 0; a1 < th; ++a1)
                    for (int64_t a2 = 0; a2 < tw; ++a2) {
                        const double g = wino::kG[kh_][xi / alw_][a1] * wino::kG[kw_][xi % alw_][a2];
                        if (g == 0) continue;
                        int64_t t = 0;
                        for (int a = 0; a < rank_; ++a)
                            t += (!tr_[a] ? kt_[static_cast<size_t>(q * rank_ + a)] : T_[a] - 1 - (a == L ? a2 : a1)) * t_st[a];
                        terms[static_cast<size_t>(xi * nkt_ + q)].emplace_back(t, static_cast<T>(g));
                    }
        // The terms as the combine kernel takes them: per row o = xi * nkt + q, its terms' offsets from the source
        // channel's row of t = 0 and coefficients. Per (panel, channel), one call writes the alpha x nkt rows
        // (streamed where U is larger than the caches: no read of its lines).
        std::vector<int64_t> widx;
        std::vector<T> coef;
        std::vector<uint32_t> start(1, 0);
        for (const auto& tl : terms) {
            for (const auto& [t, g] : tl) widx.push_back(t * ic_ * nr_), coef.push_back(g);
            start.push_back(static_cast<uint32_t>(widx.size()));
        }
        const size_t need = static_cast<size_t>(alpha_ * npan_ * KW_ * nr_);
        if (packed_.size() < need) packed_.resize(need);
        const bool stream = static_cast<double>(need) * sizeof(T) >= detail::kStreamBytes && (nr_ * sizeof(T)) % 64 == 0 &&
                            reinterpret_cast<uintptr_t>(packed_.data()) % 64 == 0;
        const int64_t nrows = alpha_ * nkt_;
        parallel::parallel_for(npan_, [&](int64_t b, int64_t e, int) {
            std::vector<int64_t> dofs(static_cast<size_t>(nrows));
            for (int64_t pn = b; pn < e; ++pn)
                for (int64_t c = 0; c < ic_; ++c) {
                    for (int64_t o = 0; o < nrows; ++o)
                        dofs[static_cast<size_t>(o)] = ((o / nkt_ * npan_ + pn) * KW_ + o % nkt_ * ic_ + c) * nr_;
                    combine_(spare_.data() + (pn * K_ + c) * nr_, widx.data(), coef.data(), start.data(),
                             static_cast<size_t>(nrows), static_cast<size_t>(nr_), packed_.data(), dofs.data(),
                             static_cast<size_t>(nr_), 0, stream);
                }
            if (stream) hwy::FlushStream();
        });
    }

    // The transformed values of tiles t0 .. t1 (GEMM rows): per tile, its alpha values (the input at the tile's
    // places, K' = (K' tap, channel) each, zeros outside the input), transformed into V[xi][x][k']; the places
    // of its periods (absent past the last period: nothing stored) and whether all are there and interior.
    void pack_v(const T* src, int64_t t0, int64_t t1, Scratch& ws) const {
        const int64_t nx = (t1 - t0) * mr_, nxmax = tpb_ * mr_, mhw = mh_ * mw_;
        T* const zrow = ws.a.data() + alpha_ * nxmax * KW_;
        std::fill(zrow, zrow + KW_, T(0));
        const int64_t per = MW_ / mb_, L = rank_ - 1;
        const T* px[kMaxTile];
        for (int64_t x = 0; x < nx; ++x) {
            const int64_t m = t0 * mr_ + x;
            Row* const rw = ws.rows.data() + x * mhw;
            if (m >= MW_) {
                for (int64_t xi = 0; xi < alpha_; ++xi) ws.aptr[static_cast<size_t>(xi * nxmax + x)] = zrow;
                for (int64_t q = 0; q < mhw; ++q) rw[q] = Row{};
                ws.tin[static_cast<size_t>(x)] = 0;
                continue;
            }
            for (int64_t xi = 0; xi < alpha_; ++xi)
                ws.aptr[static_cast<size_t>(xi * nxmax + x)] = ws.a.data() + (xi * nxmax + x) * KW_;
            const int64_t img = m / per, r = m % per;
            int64_t idx[3], j[3];
            for (int a = 0; a < rank_; ++a) idx[a] = r / tc_st_[a] % tc_[a];
            // The tile's periods: (i, k) over mh x mw, the last axis fastest.
            bool all = true;
            for (int64_t q = 0; q < mhw; ++q) {
                bool there = true;
                int64_t e[2] = {q / mw_, q % mw_};
                int w = 1;
                for (int a = L; a >= 0; --a) {
                    const int64_t off = tr_[a] ? e[w--] : 0;
                    const int64_t jj = idx[a] * tm_[a] + off;
                    there = there && jj < jc_[a];
                    j[a] = jj + j0_[a];
                }
                if (!there) {
                    rw[q] = Row{};
                    all = false;
                    continue;
                }
                period_row(img, j, rw[q]);
                all = all && rw[q].inner;
            }
            ws.tin[static_cast<size_t>(x)] = all;
            // The tile's values: (vh, vw) over alpha_h x alpha_w.
            for (int64_t v = 0; v < alpha_; ++v) {
                const int64_t e[2] = {v / alw_, v % alw_};
                for (int64_t q = 0; q < nkt_; ++q) {
                    bool inside = true;
                    int64_t pos = 0;
                    int w = 1;
                    for (int a = L; a >= 0; --a) {
                        const int64_t ja = idx[a] * tm_[a] + j0_[a];
                        const int64_t qa = tr_[a] ? ja - (T_[a] - 1) + e[w--] : ja - kt_[static_cast<size_t>(q * rank_ + a)];
                        inside = inside && qa >= 0 && qa < i_[a];
                        pos += qa * i_st_[a];
                    }
                    T* const d = ws.x.data() + v * KW_ + q * ic_;
                    if (!inside)
                        std::fill(d, d + ic_, T(0));
                    else if (last_)
                        std::copy(src + (img * isz_ + pos) * ic_, src + (img * isz_ + pos + 1) * ic_, d);
                    else {
                        const T* const sp = src + img * ic_ * isz_ + pos;
                        for (int64_t c = 0; c < ic_; ++c) d[c] = sp[c * isz_];
                    }
                }
                px[v] = ws.x.data() + v * KW_;
            }
            wino_in_(kh_, kw_, px, static_cast<size_t>(KW_), ws.a.data() + x * KW_, static_cast<size_t>(nxmax * KW_));
        }
    }

    // The place of period j (per axis) of image img.
    void period_row(int64_t img, const int64_t* j, Row& rw) const {
        rw.base = img * osz_ * oc_;
        rw.inner = true;
        for (int a = 0; a < rank_; ++a) {
            const int64_t u = s_[a] * j[a] - pb_[a];  // the period's first output (may lie before 0)
            rw.base += u * o_st_[a] * (last_ ? oc_ : 1);
            rw.lo[a] = std::max<int64_t>(0, -u);
            rw.hi[a] = std::min<int64_t>(s_[a], o_[a] - u);
            rw.inner = rw.inner && rw.lo[a] == 0 && rw.hi[a] == s_[a];
        }
    }

    // Rows of tiles t0 .. t1: A's rows, a[x][k] (k = t*ic + c: the input at j - t per axis, channel c; zeros
    // outside the input), the kernel's row pointers (rows past M: a row of zeros) and the rows' places.
    void pack_a(const T* src, int64_t t0, int64_t t1, Scratch& ws) const {
        const int64_t nx = (t1 - t0) * mr_;
        T* const zrow = ws.a.data() + nx * K_;
        std::fill(zrow, zrow + K_, T(0));
        const int64_t per = M_ / mb_;
        for (int64_t x = 0; x < nx; ++x) {
            const int64_t m = t0 * mr_ + x;
            Row& rw = ws.rows[static_cast<size_t>(x)];
            if (m >= M_) {
                ws.aptr[static_cast<size_t>(x)] = zrow;
                rw = Row{};
                continue;
            }
            T* const ar = ws.a.data() + x * K_;
            ws.aptr[static_cast<size_t>(x)] = ar;
            const int64_t img = m / per, q = m % per;
            int64_t j[3];
            for (int a = 0; a < rank_; ++a) j[a] = q / jc_st_[a] % jc_[a] + j0_[a];
            period_row(img, j, rw);
            for (int64_t t = 0; t < ntap_; ++t) {
                bool inside = true;
                int64_t pos = 0;
                for (int a = 0; a < rank_ && inside; ++a) {
                    const int64_t qa = j[a] - tap_t_[static_cast<size_t>(t * rank_ + a)];
                    inside = qa >= 0 && qa < i_[a];
                    pos += qa * i_st_[a];
                }
                T* const d = ar + t * ic_;
                if (!inside)
                    std::fill(d, d + ic_, T(0));
                else if (last_)
                    std::copy(src + (img * isz_ + pos) * ic_, src + (img * isz_ + pos + 1) * ic_, d);
                else {
                    const T* const sp = src + img * ic_ * isz_ + pos;
                    for (int64_t c = 0; c < ic_; ++c) d[c] = sp[c * isz_];
                }
            }
        }
        for (int64_t x0 = 0; x0 < nx; x0 += mr_) {
            bool all = true;
            for (int64_t x = x0; x < x0 + mr_; ++x) all = all && ws.rows[static_cast<size_t>(x)].inner;
            ws.rows[static_cast<size_t>(x0)].tile_inner = all;
        }
    }

    template <int kLen>
    void store_short(const T* c, T* dst, const Row* rw, int64_t rows, int64_t n0) const {
        int64_t start[kMaxRows + 1], nch = 0;
        const int64_t step = s_[rank_ - 1] * (last_ ? oc_ : 1);
        for (int64_t x = 0; x < rows; ++x)
            if (x == 0 || rw[x].base != rw[x - 1].base + step) start[nch++] = x;
        start[nch] = rows;
        for (int64_t q = 0; q < nr_ / kLen; ++q) {
            const int64_t n = n0 + q * kLen, off = off_[static_cast<size_t>(n)];
            const T* const bp = bias_.data() + n;
            T b[kLen];
            for (int i = 0; i < kLen; ++i) b[i] = bp[i];
            for (int64_t h = 0; h < nch; ++h) {
                T* d = dst + rw[start[h]].base + off;
                for (int64_t y = start[h]; y < start[h + 1]; ++y, d += kLen) {
                    const T* const cp = c + y * nr_ + q * kLen;
                    for (int i = 0; i < kLen; ++i) d[i] = cp[i] + b[i];
                }
                if (epi_.kind != Epilogue::Kind::none)
                    apply_epilogue(epi_, dst + rw[start[h]].base + off, (start[h + 1] - start[h]) * kLen);
            }
        }
    }

    // C tile (rows rw[0 .. rows), NR columns from n0, row stride NR) plus the bias into the destination: each
    // run of consecutive destination offsets, less the outputs that the padding crops (periods at the edges;
    // interior: no row has any, and every row is there).
    void store(const T* c, T* dst, const Row* rw, int64_t rows, int64_t n0, bool interior) const {
        const int64_t n1 = std::min(N_, n0 + nr_);
        T* rowp[kMaxRows];
        // Short runs that divide the panel (channels-first, a last stride of 8, 4 or 2): every run whole, its
        // chains of consecutive periods found once for the tile, the copies unrolled for the run's length.
        if (interior && chain_ && runlen_ < 16 && nr_ % runlen_ == 0 && n0 % runlen_ == 0 && n1 - n0 == nr_) {
            switch (runlen_) {
                case 8: return store_short<8>(c, dst, rw, rows, n0);
                case 4: return store_short<4>(c, dst, rw, rows, n0);
                case 2: return store_short<2>(c, dst, rw, rows, n0);
                default: break;
            }
        }
        for (int64_t n = n0; n < n1;) {
            const int64_t e = std::min(n1, run_end_[static_cast<size_t>(n)]), len = e - n;
            const T* const cp = c + (n - n0);
            const T* const bp = bias_.data() + n;
            if (interior && chain_ && len == runlen_ && len < 16) {
                // Short whole runs (channels-first, a small last stride): the tile's rows are consecutive periods
                // along the last axis, so their runs follow each other in the destination.
                int64_t x = 0;
                while (x < rows) {
                    int64_t x1 = x + 1;
                    while (x1 < rows && rw[x1].base == rw[x1 - 1].base + s_[rank_ - 1] * (last_ ? oc_ : 1)) ++x1;
                    T* d = dst + rw[x].base + off_[static_cast<size_t>(n)];
                    for (int64_t y = x; y < x1; ++y, d += len)
                        for (int64_t i = 0; i < len; ++i) d[i] = cp[y * nr_ + i] + bp[i];
                    if (epi_.kind != Epilogue::Kind::none)
                        apply_epilogue(epi_, dst + rw[x].base + off_[static_cast<size_t>(n)], (x1 - x) * len);
                    x = x1;
                }
            } else if (interior) {
                for (int64_t x = 0; x < rows; ++x) rowp[x] = dst + rw[x].base + off_[static_cast<size_t>(n)];
                bias_store_(cp, static_cast<size_t>(nr_), bp, static_cast<size_t>(len), rowp, static_cast<size_t>(rows),
                            stream_);
                if (epi_.kind != Epilogue::Kind::none)
                    for (int64_t x = 0; x < rows; ++x) apply_epilogue(epi_, rowp[x], len);
            } else {
                const int64_t* const r0 = res_.data() + n * rank_;
                const int l = rank_ - 1;
                for (int64_t x = 0; x < rows; ++x) {
                    // The outer axes' residues are the run's; along the last axis they rise through the run.
                    bool ok = true;
                    for (int a = 0; a < l && ok; ++a) ok = r0[a] >= rw[x].lo[a] && r0[a] < rw[x].hi[a];
                    if (!ok) continue;
                    int64_t a0 = n, a1 = e;
                    while (a0 < a1 && res_[static_cast<size_t>(a0 * rank_ + l)] < rw[x].lo[l]) ++a0;
                    while (a1 > a0 && res_[static_cast<size_t>((a1 - 1) * rank_ + l)] >= rw[x].hi[l]) --a1;
                    if (a0 == a1) continue;
                    T* d = dst + rw[x].base + off_[static_cast<size_t>(a0)];
                    bias_store_(cp + x * nr_ + (a0 - n), static_cast<size_t>(nr_), bias_.data() + a0,
                                static_cast<size_t>(a1 - a0), &d, 1, stream_);
                    if (epi_.kind != Epilogue::Kind::none) apply_epilogue(epi_, d, a1 - a0);
                }
            }
            n = e;
        }
    }

    int rank_;
    int64_t mb_, ic_, oc_;
    Epilogue epi_;
    bool last_;
    std::string target_;
    typename kernels::Gemm<T>::Seg seg_;
    kernels::BiasStoreFn<T> bias_store_ = nullptr;
    int64_t mr_ = 0, nr_ = 0;
    Dims i_, o_, s_, pb_, T_, j0_, jc_, i_st_, o_st_, jc_st_;
    int64_t isz_ = 0, osz_ = 0, ntap_ = 0, M_ = 0, K_ = 0, N_ = 0, npan_ = 0;
    int64_t tpb_ = 1, nblk_ = 1, nchunk_ = 1, ppc_ = 1, runlen_ = 0;
    bool stream_ = false, direct_ = false, chain_ = false;
    // winograd (setup_wino): kinds on the axis before the last and on the last, per axis whether transformed, its
    // periods per tile, its taps in K', its GEMM rows; the tile's periods and values (mh, mw, alpha); K' tap
    // combinations
    bool wino_ = false;
    int kh_ = 0, kw_ = 0;
    int64_t mh_ = 1, mw_ = 1, alh_ = 1, alw_ = 1, alpha_ = 1, MW_ = 0, KW_ = 0, nkt_ = 1;
    Dims tr_, tm_, tkt_, tc_, tc_st_;
    std::vector<int64_t> kt_;
    std::vector<T> zeros_;
    kernels::WinoInFn<T> wino_in_ = nullptr;
    kernels::WinoOutFn<T> wino_out_ = nullptr;
    kernels::WinoOutSFn<T> wino_out_s_ = nullptr;
    kernels::CombineFn<T> combine_ = nullptr;
    std::vector<int64_t> res_, off_, run_end_, tap_t_;
    std::vector<T> bias_;
    detail::HugeVector<T> packed_, spare_;
};

std::string supports(const Problem& p, Direction dir) {
    if (dir != Direction::forward) return "implements the forward direction only";
    if (p.g != 1) return detail::cat("made for one group; this layer has g=", p.g);
    const int rank = p.rank();
    if (rank > 3) return detail::cat("ranks 1 to 3 only (here ", rank, ")");
    const Dims o = p.o();
    for (int a = 0; a < rank; ++a) {
        if (p.d[a] != 1) return detail::cat("needs dilation 1 (here d[", a, "]=", p.d[a], ")");
        if (p.k[a] % p.s[a] != 0)
            return detail::cat("needs kernels a whole number of strides long (here k[", a, "]=", p.k[a], ", s[", a,
                               "]=", p.s[a], ")");
        if (p.pb[a] < 0) return detail::cat("needs padding >= 0 at the start (here pb[", a, "]=", p.pb[a], ")");
        // The output may not reach past the last period (output padding beyond the kernel's reach).
        if (p.pb[a] + o[a] > p.s[a] * (p.i[a] - 1) + p.k[a])
            return detail::cat("the output along axis ", a, " reaches past the last tap (pe - op = ", p.pe[a] - p.op[a],
                               " < 0)");
    }
    return {};
}

// auto's choice of period, ahead of winograd and phase. Measured in-process, 1 thread, AVX-512, with the direct
// periods (period / phase): FCN's k64 s32 p16 on 16 x 16 inputs of 21 channels 1.5x channels-last and 1.9x
// channels-first, k16 s8 p4 on 64 x 64 of 21 (fcn8s_up8) 1.22x channels-last but 0.88x channels-first, 1-D k1024
// s256 with 16 channels 1.4x and 3.0x, with 64 channels 1.03x and 1.38x; with small strides or many channels the
// phases' own panels are whole and period only adds its edge periods (k4 s2 p1, 256 -> 128 on 16 x 16: 0.87x and
// 0.68x; k8 s4 p2, 256 -> 128: 0.92x and 0.77x; unet_up2 level channels-last). With the Winograd tiles (2 or 3
// taps per period along the last axis), against winograd's phases: 1-D k64 s32 128 -> 64 1.14x channels-last and
// 1.46x channels-first, 2-D k16 s8 64 -> 64 1.05x channels-last (0.79x channels-first, runs of 8: winograd keeps
// it), hifigan_up1 (k16 s8, periods of 8: F(6,2) per phase keeps it) 0.90x. Channels-first runs of 8 outputs
// (a last stride of 8) with the tiles, where winograd does not take the layer: k16 s8 p4 with 21 channels
// (fcn8s_up8) 1.04-1.09x phase, with 32 channels 1.07x (there winograd, 1.03x period, keeps it), 16 -> 8 0.97x.
std::string prefers(const Problem& p, Direction) {
    const int rank = p.rank();
    const Dims o = p.o();
    int64_t S = 1, taps = 1;
    double waste = 1;
    for (int a = 0; a < rank; ++a) {
        const int64_t s = p.s[a], jc = (p.pb[a] + o[a] + s - 1) / s - p.pb[a] / s;
        S *= s;
        taps *= p.k[a] / s;
        waste *= static_cast<double>(jc * s) / static_cast<double>(o[a]);
    }
    const int64_t tl = p.k[rank - 1] / p.s[rank - 1];
    const bool tiles = tl == 2 || tl == 3;  // the Winograd tiles along the last axis (setup_wino)
    if (S < 16) return detail::cat("periods of ", S, " outputs per channel (under 16): the phases do as well");
    if (S * p.oc < 64)
        return detail::cat("N = ", S * p.oc, " columns (stride periods x output channels) under 64: a panel is partly empty");
    if (p.ic * taps > 1024) return detail::cat("K = ", p.ic * taps, " (ic x taps per period) over 1024");
    if (waste > 1.15)
        return detail::cat("the edge periods would compute ", static_cast<int>(std::lround((waste - 1) * 100)),
                           "% more outputs than the layer has (over 15%)");
    if (call_context().data == Layout::channels_last) {
        if (p.oc > 32 && !tiles)
            return detail::cat("channels-last with ", p.oc,
                               " output channels (over 32) and no Winograd tiles: the phases' panels are whole");
    } else if (p.s[rank - 1] < 8 || (p.s[rank - 1] < 16 && !(tiles && !winograd_preferred(p, Direction::forward).empty()))) {
        return detail::cat("channels-first with runs of ", p.s[rank - 1], " outputs (a stride under 16 along the last axis",
                           p.s[rank - 1] >= 8 ? ", where winograd takes the layer or no Winograd tile applies)" : ")");
    }
    return {};
}

}  // namespace

std::string period_preferred(const Problem& p, Direction dir) {
    if (std::string why = supports(p, dir); !why.empty()) return why;
    return prefers(p, dir);
}

namespace {

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    // (The packed weights go into a buffer kept per thread: no page faults after the first call.)
    thread_local detail::HugeVector<T> storage, spare;
    const CallContext& ctx = call_context();
    PeriodPlan<T> plan(p, wei, bia, ctx.epilogue ? *ctx.epilogue : Epilogue{}, ctx.simd, ctx.layout, std::move(storage),
                       std::move(spare));
    plan.run(src, dst);
    storage = plan.release();
    spare = plan.release_spare();
}

}  // namespace

Algorithm period() {
    Algorithm a;
    a.name = "period";
    a.summary = "kernel a whole number of strides long (large strides: FCN, vocoders): one GEMM over the output's "
                "stride periods, columns (residue, channel) in the destination's order";
    a.supports = supports;
    a.prefers = prefers;
    a.fused_epilogue = true;
    a.simd = true;
    a.channels_last = true;
    a.f32.fwd = forward<float>;
    a.f64.fwd = forward<double>;
    a.f32.prepare = prepare_plan<float, PeriodPlan<float>>;
    a.f64.prepare = prepare_plan<double, PeriodPlan<double>>;
    return a;
}

}  // namespace tconv::algo
