// phase: the sub-pixel decomposition. Output positions whose full-output coordinate f = o + pb has
// f mod s = r (per axis) receive only the taps with k*d mod s = r, and there input = q + base for the q-th
// output of the phase: every phase is a dense stride-1 correlation, so no multiply ever meets an inserted
// zero. Each phase is computed as a GEMM  C[pos][oc] = sum over (tap, ic) of A[pos][(tap, ic)] * W[(tap, ic)][oc]
// whose A panels (cache-sized: MC positions x KC channels) are packed from the input on the fly, skipping
// taps that miss every position of the block; the result goes straight to the strided output with bias and
// epilogue. Tasks (group, phase, block of positions) own their outputs, so threads never share a write.
#include "phase.hpp"

#include <algorithm>
#include <cmath>

#include <hwy/cache_control.h>

#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

template <class T>
inline T activate(const Epilogue& e, T v) {
    switch (e.kind) {
        case Epilogue::Kind::none: return v;
        case Epilogue::Kind::relu: return v > T(0) ? v : T(0);
        case Epilogue::Kind::leaky_relu: return v >= T(0) ? v : static_cast<T>(e.alpha) * v;
        case Epilogue::Kind::tanh: return std::tanh(v);
        case Epilogue::Kind::sigmoid: return T(1) / (T(1) + std::exp(-v));
        case Epilogue::Kind::clamp: return std::min(std::max(v, static_cast<T>(e.lo)), static_cast<T>(e.hi));
    }
    return v;
}

// The most phases along the last axis that one transposed task computes and interleaves in its store.
constexpr int64_t kMaxGroup = 16;
constexpr double kGroupBytes = 256.0 * 1024;  // and the most bytes of their C blocks
constexpr int64_t kIlvChunk = 16;  // ilv_last_: positions per staged stretch of destination rows

}  // namespace

// Per-thread scratch of one run: A panels, the C block, and the decoded positions.
template <class T>
struct PhasePlan<T>::Scratch {
    std::vector<T> a, c;
    std::vector<int64_t> off, mbi, oofs, alda, runs;
    std::vector<int64_t> dofs;  // direct_: each decoded position's destination element offset (group 0, the phase decoded); channels-first stores: in store order
    std::vector<const T*> aptr, segp, rowp;
    std::vector<T*> dptr;
    std::vector<T> sink;  // direct_: where a partial tile's rows past the block are written
    std::vector<T> stage;  // ilv_last_: a chunk of positions' destination rows, interleaved
    std::vector<T> s;      // cfl_: the block's images, channels-last, one K chunk
    std::vector<int64_t> soff;  // cfl_ with seg_: per tap and position, its row's offset in s (-1 outside)
    std::vector<T> tt;          // channels-first stores from C: 16 of its columns transposed
    std::vector<size_t> segl, sego, segt;
    std::vector<int64_t> tsegs;
    // block_cols: each (decode, tile, tap)'s in-place test, found for the first group and kept for the others
    struct ColsTap {
        int64_t e, im;  // source position of the tile's first column (im < 0: the tap misses the tile)
        uint64_t bits;  // the columns inside the source
        bool direct;    // read in place
    };
    std::vector<ColsTap> ctap;
    std::vector<uint64_t> segm;
    std::vector<char> active;
};

template <class T>
PhasePlan<T>::PhasePlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
                        Layout layout, detail::HugeVector<T> storage, PhaseRole role)
    : mb_(p.mb), g_(p.g), epi_(role == PhaseRole::forward ? epi : Epilogue{}), last_(layout == Layout::channels_last) {
    const auto& ks = kernels::kernel_set(target);
    target_ = ks.target;
    if constexpr (sizeof(T) == 4) gemm_ = ks.f32; else gemm_ = ks.f64;
    const bool fwd = role == PhaseRole::forward;
    const int rank = p.rank();
    const Dims o = p.o();
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
    const int64_t mr = static_cast<int64_t>(gemm_.mr);
    mr_ = mr;
    int64_t nr = static_cast<int64_t>(gemm_.nr);
    // Forward: source src (ic, i), destination dst (oc, o), source step 1, destination step s.
    // Data gradient: source diff_dst (oc, o), destination diff_src (ic, i), source step s, destination step 1.
    kin_ = fwd ? icg : ocg;
    nout_ = fwd ? ocg : icg;
    cin_ = fwd ? p.ic : p.oc;
    cout_ = fwd ? p.oc : p.ic;
    np_ = detail::round_up(nout_, nr);
    in_ = fwd ? p.i : o;
    const Dims out = fwd ? o : p.i;
    insz_ = detail::prod(in_);
    outsz_ = detail::prod(out);
    in_st_ = detail::row_major_strides(in_);
    out_st_ = detail::row_major_strides(out);
    olast_ = out[rank - 1];
    istep_ = fwd ? Dims(rank, 1) : p.s;
    ostep_ = fwd ? p.s : Dims(rank, 1);
    const int64_t ksz = detail::prod(p.k);
    const Dims k_st = detail::row_major_strides(p.k);
    mc_ = mr * 8;
    kc_ = 256;
    // Written around the caches (no read of each destination line first).
    slast_ = last_ || insz_ == 1;  // one source position per channel: both layouts are the same
    stream_ = last_ && static_cast<double>(p.mb) * static_cast<double>(outsz_ * cout_) * sizeof(T) >= detail::kStreamOutBytes;
    // Channels-first, kernel == stride on every axis with a stride of 2 along the last, no padding at the start
    // and the whole output (U-Net's up-convolutions): the pair path (init_pair). Rows at least one output vector
    // long; no epilogue (bias only); up to 2048 source channels (a call's panels, 3 x K vectors, stay in L2); 4
    // output channels per group or more (a tile computes 8; its table of chunks, 24 bytes per N outputs of a
    // channel, stays a small part of the output).
    {
        const auto& pk = gemm_.pair;
        bool ok = fwd && !last_ && epi_.kind == Epilogue::Kind::none && pk.fn[0] && pk.pack && pk.lanes >= 2 &&
                  kin_ <= 2048 && nout_ >= 4 &&
                  p.s[rank - 1] == 2 && 2 * p.i[rank - 1] >= static_cast<int64_t>(pk.lanes);
        for (int a = 0; a < rank && ok; ++a) ok = p.k[a] == p.s[a] && p.d[a] == 1 && p.pb[a] == 0 && o[a] == p.s[a] * p.i[a];
        if (ok) {
            init_pair(p, wei, bia, std::move(storage));
            return;
        }
    }

    // Per axis and residue r: the first output, the count, and the taps (kernel index, source base).
    std::vector<std::vector<AxisPhase>> axes(rank);
    for (int a = 0; a < rank; ++a) {
        const int64_t s = p.s[a];
        if (!fwd) {
            // Every input position q reads diff_dst at q*s + kk*d - pb: one phase, every tap that lands
            // inside the output for some q.
            AxisPhase ap{0, p.i[a], {}};
            for (int64_t kk = 0; kk < p.k[a]; ++kk) {
                const int64_t base = kk * p.d[a] - p.pb[a];
                const int64_t qlo = base >= 0 ? 0 : (-base + s - 1) / s;  // first q with q*s + base >= 0
                if (qlo < ap.Q && qlo * s + base < o[a]) ap.taps.emplace_back(kk, base);
            }
            axes[a].push_back(std::move(ap));
            continue;
        }
        for (int64_t r = 0; r < s; ++r) {
            AxisPhase ap;
            ap.o0 = ((r - p.pb[a]) % s + s) % s;
            ap.Q = ap.o0 < o[a] ? (o[a] - ap.o0 + s - 1) / s : 0;
            for (int64_t kk = 0; kk < p.k[a]; ++kk) {
                if ((kk * p.d[a]) % s != r) continue;
                const int64_t base = (ap.o0 + p.pb[a] - kk * p.d[a]) / s;  // exact: both sides are = r (mod s)
                if (base < p.i[a] && base + ap.Q - 1 >= 0) ap.taps.emplace_back(kk, base);  // else it reaches nothing
            }
            axes[a].push_back(std::move(ap));
        }
    }
    if (fwd && init_tpair(p, axes, wei, bia, storage)) return;
    // Phases: the product of the per-axis residues; taps: the product of the per-axis tap lists.
    detail::for_each_index(fwd ? p.s : Dims(rank, 1), [&](const int64_t* r) {
        Phase ph;
        ph.positions = 1;
        std::vector<size_t> ntap(rank);
        for (int a = 0; a < rank; ++a) {
            const AxisPhase& ap = axes[a][r[a]];
            ph.o0.push_back(ap.o0);
            ph.Q.push_back(ap.Q);
            ph.positions *= ap.Q;
            ntap[a] = ap.taps.size();
        }
        if (ph.positions == 0) return;
        Dims text(ntap.begin(), ntap.end());
        detail::for_each_index(text, [&](const int64_t* t) {
            Dims base(rank);
            int64_t koff = 0;
            for (int a = 0; a < rank; ++a) {
                const auto& tap = axes[a][r[a]].taps[t[a]];
                koff += tap.first * k_st[a];
                base[a] = tap.second;
            }
            // Source offset of q = 0 and the valid q range per axis: 0 <= q*istep + base < in.
            int64_t toff = 0;
            for (int a = 0; a < rank; ++a) {
                const int64_t is = fwd ? 1 : p.s[a], n_in = fwd ? p.i[a] : o[a];
                toff += base[a] * in_st_[a];
                const int64_t lo = base[a] >= 0 ? 0 : (-base[a] + is - 1) / is;
                const int64_t hi = n_in - base[a] <= 0 ? 0 : (n_in - base[a] + is - 1) / is;
                ph.qlo.push_back(std::min(lo, ph.Q[a]));
                ph.qhi.push_back(std::max(std::min(hi, ph.Q[a]), std::min(lo, ph.Q[a])));
            }
            ph.toff.push_back(toff);
            ph.base.push_back(std::move(base));
            ph.koff.push_back(koff);
        });
        phases_.push_back(std::move(ph));
    });

    int64_t most = 0;
    ntaps_ = 0;
    for (const Phase& ph : phases_) {
        most = std::max(most, ph.positions);
        ntaps_ = std::max<int64_t>(ntaps_, static_cast<int64_t>(ph.koff.size()));
    }
    mb_inner_ = p.mb >= mr && most < 4 * mr;
    // Phases that read the same inputs (the same counts and tap bases, e.g. kernel == stride without
    // padding: one tap each, at the same place) are computed together: one A panel serves all of them.
    merged_ = phases_.size() > 1;
    for (const Phase& ph : phases_) merged_ = merged_ && ph.Q == phases_[0].Q && ph.base == phases_[0].base;
    // Few source channels per tap: one kernel call per tap would do little work per load of C, so every
    // tap goes into one packed A panel and one call covers K = taps x channels.
    // (Measured: it pays for up to 8 channels; at 16 or 21 the in-place tiles of the per-tap path win.)
    fused_ = kin_ <= 8 && ntaps_ > 1 && ntaps_ * kin_ <= 512;
    // Tile by tile over every tap, with the accumulators in registers, when a tile's weights (every tap, every
    // NR block) stay in L2 between tiles, and in the forward pass up to 16 MiB per phase: each tile then streams
    // the phase's weights from L3, which since the packed weights lie on huge pages (no TLB miss per 4 KiB)
    // measured faster than the per-tap order (in-process, alternating, channels-last: dcgan_g1's 8 MiB 1.2x at
    // 1 thread and 1.28x at 2, ic/oc 1024/512 k4 s2 on 8 x 8 inputs 1.4x, 512/256 k5 s2 1.16x, 1024/1024 (16
    // MiB) 1.16x; channels-first dcgan_g1 1.1x at 1 thread, level at 2).
    const double sgw = static_cast<double>(np_) * ntaps_ * kin_ * sizeof(T);
    seg_ = !fused_ && kin_ <= 1024 && (sgw <= detail::kL2Bytes || (fwd && sgw <= 16 * detail::kL2Bytes));
    seg_k_ = gemm_.seg[0];
    if (seg_) {
        // The panel width with the least work per row of A: ceil(n/nr) blocks, each costing its width in
        // vectors (ties to the wider one, which re-reads A less). 21 channels: 24 columns, not 32.
        double best = 1e300;
        for (const auto& sk : gemm_.seg) {
            if (!sk.fn) continue;
            const double cost = static_cast<double>((nout_ + sk.nr - 1) / sk.nr) * sk.nr;
            if (cost < best) best = cost, seg_k_ = sk;
        }
        // The wide shape (6 rows x 4 vectors) when it pads nothing more.
        const auto& wide = gemm_.seg[3];
        if (wide.fn && static_cast<double>((nout_ + wide.nr - 1) / wide.nr * wide.nr) <= best) seg_k_ = wide;
        nr = static_cast<int64_t>(seg_k_.nr);
        if (seg_k_.mr) mr_ = static_cast<int64_t>(seg_k_.mr);
        np_ = detail::round_up(nout_, nr);
    }
    // Channels-first sources whose positions run along rows: the tile is transposed, so that the positions
    // are the vector columns (loaded in place from a source plane, or packed), the weights of `rows` output
    // channels are broadcast, and each C row runs along a destination plane: the store writes whole vectors
    // (interleaving the phases of the last axis when one task computes them all) instead of one value per
    // plane. (Images inner, a few positions per phase, keep the other order.)
    const int64_t cw = static_cast<int64_t>(gemm_.cols.width), crow = static_cast<int64_t>(gemm_.cols.rows);
    // Groups of sl phases along the last axis (consecutive in phases_), each group ordered by the phases' first
    // output along it (0 .. sl - 1) and alike in every other respect (positions, first outputs on the other
    // axes): then a group's outputs for a run of positions along the last axis are consecutive.
    // short_ok: the counts along the last axis may differ by one (the output's length not a multiple of the
    // stride: the phases past its end have a position fewer, see equalize below).
    auto make_groups = [&](int64_t sl, bool short_ok) {
        bool ok = sl >= 2 && sl <= kMaxGroup && static_cast<int64_t>(phases_.size()) % sl == 0;
        for (size_t g0 = 0; g0 < phases_.size() && ok; g0 += static_cast<size_t>(sl)) {
            std::vector<int64_t> gr(static_cast<size_t>(sl), -1);
            for (int64_t r = 0; r < sl && ok; ++r) {
                const Phase& ph = phases_[g0 + static_cast<size_t>(r)];
                const int64_t at = ph.o0[rank - 1];
                ok = at < sl && gr[static_cast<size_t>(at)] < 0;
                for (int a = 0; a < rank && ok; ++a) {
                    const int64_t dq = ph.Q[a] - phases_[g0].Q[a];
                    ok = dq == 0 || (short_ok && a == rank - 1 && (dq == 1 || dq == -1));
                }
                for (int a = 0; a + 1 < rank && ok; ++a) ok = ph.o0[a] == phases_[g0].o0[a];
                if (ok) gr[static_cast<size_t>(at)] = static_cast<int64_t>(g0) + r;
            }
            groups_.push_back(std::move(gr));
        }
        if (!ok) groups_.clear();
        return ok;
    };
    // (Forward, also with a phase's weights beyond L2, up to 16 MiB, where the C^T block of all the output
    // channels, np x 5 tile widths, stays within 768 KiB: a block of 4 tile widths reads the phase's weights once
    // from L3, about 2 x 192 FLOPs per 4 bytes. Measured in-process against the per-tap order, whose
    // channels-first tiles are packed value by value: g3_odd_k5 (1.2 MiB) 1.2x, ic/oc 512/256 k5 s2 1.07x, 1000/300
    // k4 s2 1.12x, 1024/512 k4 s2 (8 MiB) 1.1x.)
    const double cwb = static_cast<double>(detail::round_up(nout_, crow)) * ntaps_ * kin_ * sizeof(T);
    cols_ = !slast_ && !fused_ && !mb_inner_ && gemm_.cols.fn && kin_ <= 1024 &&
            (cwb <= detail::kL2Bytes ||
             (fwd && cwb <= 16 * detail::kL2Bytes &&
              static_cast<double>(detail::round_up(nout_, crow) * 5 * cw) * sizeof(T) <= 768.0 * 1024));
    if (cols_) {
        seg_ = false;
        nr = crow;
        np_ = detail::round_up(nout_, nr);
        mc_ = 4 * cw;
        // Groups of the phases along the last axis (consecutive in phases_), ordered by their first output
        // along it: with the same positions, a task computes them all and interleaves them in the store.
        const int64_t sl = p.s[rank - 1];
        ilv_ = fwd && make_groups(sl, true);
        // A group's C blocks (sl of np x (MC + W)) stay within 256 KiB: MC shrinks to 2 or 1 tile widths, or
        // the phases are computed one by one (hifigan_up1: 8 phases x 256 channels).
        if (ilv_ && !merged_)
            while (mc_ > cw && static_cast<double>(sl * np_ * (mc_ + cw)) * sizeof(T) > kGroupBytes) mc_ /= 2;
        ccb_ = np_ / nr;
        if (ilv_ && !merged_ && static_cast<double>(sl * np_ * (mc_ + cw)) * sizeof(T) > kGroupBytes) {
            // Too many channels for a group's C blocks even at one tile width (hifigan_up1: 8 phases x 256
            // channels): a task computes a chunk of the output channels (panels of nr) for every phase of the
            // group. (Else each phase alone would write every s-th value of the whole output: s passes over it.)
            // Blocks of up to 4 tile widths, as even as whole tiles make them (400 positions: 3 x 144, not
            // 192 + 192 + 16: each block reads every weight of its chunk).
            const int64_t pos = p.mb * phases_[groups_[0][0]].positions, nb = (pos + 4 * cw - 1) / (4 * cw);
            mc_ = detail::round_up((pos + nb - 1) / nb, cw);
            ccb_ = std::clamp<int64_t>(static_cast<int64_t>(kGroupBytes / (static_cast<double>(sl * nr * (mc_ + cw)) * sizeof(T))), 1, np_ / nr);
        }
        if (!ilv_) groups_.clear(), mc_ = 4 * cw;
        // Equalize: a group's phases with a position fewer along the last axis (those whose first output there
        // is past the output's length modulo the stride) take the group's count, so one decode maps a position
        // to the same place in each. The position added reads nothing (past every tap's [qlo, qhi), computed
        // from the real count), and the store leaves out the outputs past the axis' end.
        for (const auto& gr : groups_) {
            const int64_t qmax = phases_[gr[0]].Q[rank - 1];
            for (int64_t phi : gr) {
                Phase& ph = phases_[phi];
                if (ph.Q[rank - 1] == qmax) continue;
                ph.Q[rank - 1] = qmax;
                ph.positions = detail::prod(ph.Q);
                ilv_short_ = true;
            }
        }
    }
    // The per-tap order (weights beyond L2) takes a narrower panel too where it pads less (130 channels: nine
    // panels of one vector, 144 columns, instead of five of two, 160), through the segment kernel of that
    // width with one segment.
    if (!seg_ && !fused_ && !cols_) {
        double best = static_cast<double>(np_);
        for (int i = 2; i >= 1; --i) {
            const auto& sk = gemm_.seg[i];
            if (!sk.fn || !sk.fn_ind || sk.mr) continue;
            const double cost = static_cast<double>((nout_ + sk.nr - 1) / sk.nr * sk.nr);
            if (cost < best) best = cost, seg_k_ = sk, narrow_ = true;
        }
        if (narrow_) {
            nr = static_cast<int64_t>(seg_k_.nr);
            np_ = detail::round_up(nout_, nr);
        }
    }
    nr_ = nr;
    if (!cols_) ccb_ = np_ / nr;
    // Channels-last outputs of whole panels: the kernel adds the bias and writes each tile's rows straight to
    // the destination (no C block, no second pass), not with an epilogue. An output that is streamed takes this
    // path only where every row of every panel starts on a cache line (see block()).
    direct_ = seg_ && slast_ && last_ && fwd && epi_.kind == Epilogue::Kind::none && nout_ % nr == 0 &&
              seg_k_.fn_direct;
    direct_lines_ = (cout_ * static_cast<int64_t>(sizeof(T))) % 64 == 0 && (nout_ * static_cast<int64_t>(sizeof(T))) % 64 == 0 &&
                    (nr * static_cast<int64_t>(sizeof(T))) % 64 == 0;
    // Channels-last outputs that the kernel does not store itself (channels not a whole number of panels, or an
    // epilogue) and that are streamed: a task computes every phase of a group along the last axis (the same
    // positions), and the store writes each run of positions as one stretch of consecutive destination rows,
    // staged and streamed. (A phase alone writes every s-th row, so each destination line was read first.)
    if (seg_ && slast_ && last_ && fwd && !direct_ && stream_ && p.g == 1 && !merged_ && !mb_inner_ && !cols_) {
        const int64_t sl = p.s[rank - 1];
        ilv_ = static_cast<double>(sl * mc_ * np_) * sizeof(T) <= kGroupBytes && make_groups(sl, false);
        ilv_last_ = ilv_;
    }
    // Channels-first outputs far larger than the caches are streamed too: the transposed store writes whole
    // destination rows, and a row's complete aligned vectors (also the last, masked one when it is full) go
    // around the caches. (Measured: unet3d_up's rows of 48 values gain 10%, style_up's of 256 4%.)
    if (cols_)
        stream_ = static_cast<double>(p.mb) * static_cast<double>(outsz_ * cout_) * sizeof(T) >= detail::kStreamOutBytes;
    // The packed source panels: MC x KC (per tap, a K chunk), all taps of a tile (fused), or up to every tap's
    // panel of a transposed tile (at most 128 Ki elements; beyond, a tile's taps are summed in several calls).
    asz_ = fused_ ? mc_ * std::max(kc_, ntaps_ * kin_)
                  : cols_ ? std::max(mc_ * kc_, std::min<int64_t>(ntaps_, std::max<int64_t>(1, 131072 / (kin_ * cw))) *
                                                    kin_ * cw)
                          : mc_ * kc_;

    // Weights -> packed[grp][phase][ncb][tap][c][NR], zero past nout. GEMM element (c, n) of kernel element
    // k: forward wei[grp][c][n][k], data gradient wei[grp][n][c][k].
    const int64_t nncb = np_ / nr;
    const int64_t cst = fwd ? ocg * ksz : ksz, nst = fwd ? ksz : ocg * ksz;
    int64_t total = 0;
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (const Phase& ph : phases_) {
            wofs_.push_back(total);
            total += nncb * static_cast<int64_t>(ph.koff.size()) * kin_ * nr;
        }
    // (One line more: the panels start on a cache line, for the streaming stores below.)
    const int64_t line = 64 / static_cast<int64_t>(sizeof(T));
    packed_ = std::move(storage);
    // Every element used is written below. (Never shrunk: a one-call buffer that served a larger layer keeps
    // its size, so growing back to it does not zero-fill it again.)
    if (packed_.size() < static_cast<size_t>(total + line)) packed_.resize(static_cast<size_t>(total + line));
    const int64_t pofs = (line - static_cast<int64_t>(reinterpret_cast<uintptr_t>(packed_.data()) / sizeof(T)) % line) % line;
    for (int64_t& w : wofs_) w += pofs;
    // Every kernel element belongs to at most one (phase, tap): map it once.
    std::vector<int64_t> kdst(static_cast<size_t>(ksz), -1), kstep(static_cast<size_t>(ksz), 0);
    for (size_t phi = 0; phi < phases_.size(); ++phi) {
        const int64_t nt = static_cast<int64_t>(phases_[phi].koff.size());
        for (int64_t t = 0; t < nt; ++t) {
            kdst[phases_[phi].koff[t]] = wofs_[phi] + t * kin_ * nr;
            kstep[phases_[phi].koff[t]] = nt * kin_ * nr;  // one block of NR destination channels further
        }
    }
    const int64_t gstride = phases_.empty() ? 0 : total / p.g;
    // Per source channel c, the weights are a matrix [n][kernel element] (row stride nst): it is transposed in
    // registers into a buffer [kernel element][n] (zeros past nout). Then, for a chunk of CB channels, each
    // (kernel element, NR block) panel gets its CB x NR values in one run: the panels of different kernel
    // elements lie far apart, and runs of a few lines each would cost a TLB miss per run and share cache
    // sets. Panels far larger than the caches are streamed. The chunks are spread over the threads (the
    // one-call paths pack on every call).
    const int64_t ldd = detail::round_up(std::max(np_, nout_), int64_t(16));
    const int64_t kch = std::min<int64_t>(ksz, std::max<int64_t>(16, 65536 / ldd / 16 * 16));
    const int64_t cb = std::clamp<int64_t>(65536 / (kch * ldd), 1, 16), nchunk = (kin_ + cb - 1) / cb;
    // Panels of whole vectors (NR a multiple of the vector length) are written straight from registers: per
    // channel, NR block and chunk of 16 kernel elements, one call transposes the [NR][16] block and stores each
    // element's row into its panel; the weights are read once, in order, and written once.
    const int64_t lanes = static_cast<int64_t>(gemm_.nr) / 2;
    // Panels of half a vector (the transposed tiles' 8 output channels on AVX-512): two source channels per
    // call, their panel rows one whole vector (a lone last channel of a chunk value by value).
    const bool pair = gemm_.pack_pair && lanes > 1 && 2 * nr == lanes;
    // (Streamed: panel rows that fill whole lines, or pairs of them.)
    const bool stream = static_cast<double>(total) * sizeof(T) >= detail::kStreamBytes && (nr % line == 0 || (pair && 2 * nr == line));
    if (lanes > 1 && (nr % lanes == 0 || pair)) {
        constexpr int64_t kc16 = 16;
        // (Only where each block is a whole run of lines: the kernel's elements of a channel all taken.)
        const bool pf_next = ksz <= kc16 && nst == ksz;
        parallel::parallel_for(p.g * nchunk, [&](int64_t b, int64_t e, int) {
            T* dp[kc16];
            for (int64_t ch = b; ch < e; ++ch) {
                const int64_t grp = ch / nchunk, c0 = ch % nchunk * cb, c1 = std::min(kin_, c0 + cb);
                const T* const wg = wei + grp * icg * ocg * ksz;
                T* const pg = packed_.data() + grp * gstride;
                for (int64_t c = c0; c < c1;) {
                    const bool two = pair && c + 1 < c1;
                    for (int64_t k0 = 0; k0 < ksz; k0 += kc16) {
                        const int64_t kn = std::min(kc16, ksz - k0);
                        bool any = false;
                        for (int64_t j = 0; j < kn; ++j) any = any || kdst[k0 + j] >= 0;
                        if (!any) continue;
                        for (int64_t ncb = 0; ncb < nncb; ++ncb) {
                            for (int64_t j = 0; j < kn; ++j)
                                dp[j] = kdst[k0 + j] < 0 ? nullptr : pg + kdst[k0 + j] + ncb * kstep[k0 + j] + c * nr;
                            const int64_t rows = std::clamp<int64_t>(nout_ - ncb * nr, 0, nr);
                            const T* s0 = wg + c * cst + k0 + ncb * nr * nst;
                            // The next call's source (the block that follows this one in memory, of each
                            // channel of a pair) is requested now: the weights are read once, from memory, and
                            // each transpose would otherwise wait for its loads (measured: the pack ran at a
                            // third of copy speed; the hardware prefetchers alone did not keep up).
                            if (pf_next)
                                for (int64_t q = 0; q < (two ? 2 : 1); ++q) {
                                    // (an address past the weights is harmless to prefetch; as an integer, no
                                    // pointer leaves the array)
                                    const uintptr_t np = reinterpret_cast<uintptr_t>(s0 + q * cst) + static_cast<uintptr_t>(nr * nst) * sizeof(T);
                                    for (int64_t l = 0; l < nr * nst * static_cast<int64_t>(sizeof(T)); l += 64) {
                                        hwy::Prefetch(reinterpret_cast<const char*>(np + static_cast<uintptr_t>(l)));
                                        asm volatile("");
                                    }
                                }
                            if (two)
                                gemm_.pack_pair(s0, s0 + cst, static_cast<size_t>(nst), static_cast<size_t>(rows),
                                                static_cast<size_t>(kn), dp, stream);
                            else
                                gemm_.pack(s0, static_cast<size_t>(nst), static_cast<size_t>(rows), static_cast<size_t>(kn),
                                           dp, static_cast<size_t>(nr), stream);
                        }
                    }
                    c += two ? 2 : 1;
                }
            }
            if (stream) hwy::FlushStream();
        });
    } else
    parallel::parallel_for(p.g * nchunk, [&](int64_t b, int64_t e, int) {
        thread_local std::vector<T> tb;
        const int64_t tsz = kch * ldd;
        tb.assign(static_cast<size_t>(cb * tsz), T(0));
        for (int64_t ch = b; ch < e; ++ch) {
            const int64_t grp = ch / nchunk, c0 = ch % nchunk * cb, c1 = std::min(kin_, c0 + cb);
            const T* const wg = wei + grp * icg * ocg * ksz;
            T* const pg = packed_.data() + grp * gstride;
            for (int64_t k0 = 0; k0 < ksz; k0 += kch) {
                const int64_t kn = std::min(kch, ksz - k0);
                for (int64_t c = c0; c < c1; ++c) {
                    // The next channel's rows are requested first: the weights are read once, from memory, and
                    // a transpose alone would wait for each of its loads. (The empty asm keeps GCC from
                    // dropping a loop that only prefetches.)
                    if (c + 1 < c1)
                        for (int64_t r = 0; r < nout_; ++r) {
                            hwy::Prefetch(wg + (c + 1) * cst + k0 + r * nst);
                            asm volatile("");
                        }
                    gemm_.transpose(wg + c * cst + k0, static_cast<size_t>(nst), static_cast<size_t>(nout_),
                                    static_cast<size_t>(kn), tb.data() + (c - c0) * tsz, static_cast<size_t>(ldd));
                }
                for (int64_t k = k0; k < k0 + kn; ++k) {
                    if (kdst[k] < 0) continue;
                    for (int64_t ncb = 0; ncb < nncb; ++ncb) {
                        T* d = pg + kdst[k] + ncb * kstep[k] + c0 * nr;
                        const T* t = tb.data() + (k - k0) * ldd + ncb * nr;
                        if (stream) {
                            for (int64_t c = c0; c < c1; ++c, d += nr, t += tsz)
                                gemm_.copy(t, static_cast<size_t>(nr), d, true);
                        } else if (nr == 8) {  // the transposed tile's rows: a call per 32 bytes would cost more
                            for (int64_t c = c0; c < c1; ++c, d += 8, t += tsz)
                                for (int i = 0; i < 8; ++i) d[i] = t[i];
                        } else {
                            for (int64_t c = c0; c < c1; ++c, d += nr, t += tsz)
                                for (int64_t i = 0; i < nr; ++i) d[i] = t[i];
                        }
                    }
                }
            }
        }
        if (stream) hwy::FlushStream();
    });
    bias_.assign(static_cast<size_t>(cout_ + nr), T(0));  // the store may read up to a vector past the end
    if (bia && fwd) std::copy(bia, bia + p.oc, bias_.begin());

    // Channels-first, images inner, per tap (dcgan_g1): a tile's rows are the same position of consecutive
    // images, which lie an image apart, so packing its A panel moved one value at a time (6% of dcgan_g1's
    // time). Instead, per K chunk, each image of the block is transposed channels-last once (a register
    // transpose of its chunk of channel planes) and every tap's tiles read their rows there in place. The
    // image stride is a cache line more than the rows it holds, so the tile's rows do not share L1 sets.
    // The same for the tile-by-tile order (seg_: a tile's taps summed in one call), whose channels-first tiles
    // were otherwise packed value by value for every tap (9% of dcgan_g1's time): per K chunk every tap is one
    // segment read through row pointers into those rows, summed into C over the chunks, each NR block's weights
    // reused by every tile of the block (channels-first dcgan_g1 1.03-1.07x at 1 thread, 1.10x at 2,
    // in-process). Only the source positions the block's taps read are transposed.
    {
        const int64_t kcm = std::min(kc_, kin_);
        const int64_t ld = detail::round_up(kcm, int64_t(16));
        cfl_ = !slast_ && mb_inner_ && !fused_ && !cols_ && seg_k_.fn_ind && (seg_ || seg_k_.mr == 0) && gemm_.transpose &&
               static_cast<double>(p.mb) * static_cast<double>(insz_ * ld + 16) * sizeof(T) <= 512.0 * 1024;
        if (cfl_) {
            sld_ = ld;
            sistr_ = insz_ * ld + 16;
            asz_ = 0;
            zeros_.assign(static_cast<size_t>(ld), T(0));
        }
    }
    // Tasks: (group, phase, block of MC positions); merged phases count as one (the first). Phase by phase
    // keeps one phase's weights in cache over its blocks. When every phase's weights of a group fit in L2
    // together, the phases are interleaved block by block instead: neighbouring outputs (which belong to
    // different phases) are then written close in time, and a destination line is completed while cached.
    const int64_t nph = static_cast<int64_t>(phases_.size());
    // (Groups of phases along the last axis count as one: the task's phase is then the group's index.)
    const bool grouped = ilv_ && !merged_;
    const int64_t nrun = merged_ ? 1 : grouped ? static_cast<int64_t>(groups_.size()) : nph;
    interleave_ = nrun > 1 && static_cast<double>(gstride) * sizeof(T) <= detail::kL2Bytes;
    std::vector<int64_t> nblk(static_cast<size_t>(nrun));
    int64_t most_blk = 0;
    for (int64_t k = 0; k < nrun; ++k) {
        nblk[k] = (p.mb * phases_[grouped ? groups_[k][0] : k].positions + mc_ - 1) / mc_;
        most_blk = std::max(most_blk, nblk[k]);
    }
    // Groups inner: one task computes a block of every group from one decode, when all groups' packed weights
    // fit in L2 together (grouped layers of a few hundred channels: the decode is not repeated per group).
    gin_ = p.g > 1 && static_cast<double>(total) * sizeof(T) <= detail::kL2Bytes;
    // Channels-last tiles are never packed: a tile read in place with one step, or through row pointers
    // (rows outside the source point at zeros).
    if (seg_ && slast_) {
        asz_ = 0;
        zeros_.assign(static_cast<size_t>(cin_), T(0));  // (group g's rows read it from g * kin)
    }
    // (cols_: a block's chunks of output channels one after the other, so the block's sources stay in cache)
    const int64_t nchunks = cols_ ? (np_ / nr + ccb_ - 1) / ccb_ : 1;
    for (int64_t grp = 0; grp < (gin_ ? 1 : p.g); ++grp) {
        if (interleave_) {
            for (int64_t blk = 0; blk < most_blk; ++blk)
                for (int64_t k = 0; k < nrun; ++k)
                    for (int64_t ch = 0; ch < nchunks && blk < nblk[k]; ++ch) tasks_.push_back({grp, k, blk * mc_, ch * ccb_});
        } else {
            for (int64_t k = 0; k < nrun; ++k)
                for (int64_t blk = 0; blk < nblk[k]; ++blk)
                    for (int64_t ch = 0; ch < nchunks; ++ch) tasks_.push_back({grp, k, blk * mc_, ch * ccb_});
        }
    }
    // The threads' slices of the tasks are of about equal cost, not count: phases differ in their taps (k3 s2:
    // 4, 2, 2 and 1 per phase; taken phase by phase, one thread of two would get 6 of 9 parts of the work).
    // A task costs its positions times (the taps of the phases it computes x the GEMM's kin x np, plus the
    // store's np).
    tcost_.assign(tasks_.size() + 1, 0.0);
    for (size_t i = 0; i < tasks_.size(); ++i) {
        const Task& tk = tasks_[i];
        const int64_t first = grouped ? groups_[tk.phase][0] : tk.phase;
        const double npos = static_cast<double>(std::min(mc_, p.mb * phases_[first].positions - tk.p0));
        double taps = 0;
        if (merged_) {
            for (const Phase& ph : phases_) taps += static_cast<double>(ph.koff.size());
        } else if (grouped) {
            for (int64_t phi : groups_[tk.phase]) taps += static_cast<double>(phases_[phi].koff.size());
        } else {
            taps = static_cast<double>(phases_[tk.phase].koff.size());
        }
        const double outs = merged_ ? static_cast<double>(phases_.size()) : grouped ? static_cast<double>(groups_[tk.phase].size()) : 1.0;
        const double cnp = static_cast<double>(std::min(np_, (tk.cb0 + ccb_) * nr) - tk.cb0 * nr);
        tcost_[i + 1] = tcost_[i] + npos * (taps * static_cast<double>(kin_) * cnp + outs * cnp);
    }
}

// The weight pairs of the pair path and the tap pairs (GemmPairT's [kin][rows][2] per tile of output channels),
// into packed_ (from storage when large enough): for each set i (a row phase or segment: kernel offsets ke[i]
// and ko[i] for the even and odd lanes), group and tile tl, at dof(grp, i, tl): [c][m] = (wei[grp][c][oc][ke[i]],
// wei[grp][c][oc][ko[i]]) for oc = tl*rows + m, zeros past nout. Spread over the threads by source channel (the
// one-call path packs on every call).
template <class T>
template <class F>
void PhasePlan<T>::pack_pairs(const Problem& p, const T* wei, detail::HugeVector<T> storage, const std::vector<int64_t>& ke,
                              const std::vector<int64_t>& ko, F dof) {
    const int64_t rows = static_cast<int64_t>(gemm_.pair.rows), ksz = detail::prod(p.k), ocg = p.oc / p.g;
    const int64_t nset = static_cast<int64_t>(ke.size());
    packed_ = std::move(storage);
    const size_t total = static_cast<size_t>(p.g * nset * ntiles_ * kin_ * rows * 2);
    if (packed_.size() < total) packed_.resize(total);
    parallel::parallel_for(p.g * kin_, [&](int64_t b, int64_t e, int) {
        for (int64_t ch = b; ch < e; ++ch) {
            const int64_t grp = ch / kin_, c = ch % kin_;
            const T* const wc = wei + (grp * kin_ + c) * ocg * ksz;
            for (int64_t i = 0; i < nset; ++i)
                for (int64_t tl = 0; tl < ntiles_; ++tl) {
                    T* d = packed_.data() + dof(grp, i, tl) + c * rows * 2;
                    for (int64_t m = 0; m < rows; ++m) {
                        const int64_t oc = tl * rows + m;
                        d[2 * m] = oc < nout_ ? wc[oc * ksz + ke[i]] : T(0);
                        d[2 * m + 1] = oc < nout_ ? wc[oc * ksz + ko[i]] : T(0);
                    }
                }
        }
    });
}

// The pair path. Output x = 2q + r along the last axis reads input q through kernel index r alone (and so on
// every axis, with its own stride): each output row of a row phase (the residues of the other axes) is the
// GEMM of the weight pairs (r = 0, 1) of its row phase and the input row with each value twice. See GemmPairT.
template <class T>
void PhasePlan<T>::init_pair(const Problem& p, const T* wei, const T* bia, detail::HugeVector<T> storage) {
    pair_ = true;
    const auto& pk = gemm_.pair;
    const int rank = p.rank();
    const int64_t N = static_cast<int64_t>(pk.lanes), half = N / 2, rows = static_cast<int64_t>(pk.rows);
    const int64_t vecs = static_cast<int64_t>(pk.vecs);
    const int64_t il = in_[rank - 1];
    nr_ = rows;
    mr_ = 1;
    stream_ = static_cast<double>(p.mb) * static_cast<double>(outsz_ * cout_) * sizeof(T) >= detail::kStreamOutBytes;
    const Dims kst = detail::row_major_strides(p.k);
    detail::for_each_index(Dims(p.s.begin(), p.s.end() - 1), [&](const int64_t* r) {
        int64_t dof = 0, kof = 0;
        for (int a = 0; a + 1 < rank; ++a) dof += r[a] * out_st_[a], kof += r[a] * kst[a];
        pdoff_.push_back(dof);
        pkoff_.push_back(kof);
    });
    const int64_t nrp = static_cast<int64_t>(pdoff_.size());
    // Chunks, row by row: a row's outputs start at 2 * (its position on the other axes) per axis; where that is
    // an even number of elements past a vector boundary, the first chunk stops at the next one (for a
    // destination on a vector boundary, the rest are then whole aligned vectors, streamed).
    const int64_t nrow = insz_ / il;
    for (int64_t n = 0; n < mb_; ++n)
        for (int64_t row = 0; row < nrow; ++row) {
            int64_t rem = row, dro = 0;
            for (int a = rank - 2; a >= 0; --a) {
                dro += rem % in_[a] * p.s[a] * out_st_[a];
                rem /= in_[a];
            }
            const int64_t so = n * cin_ * insz_ + row * il, dof = n * cout_ * outsz_ + dro, mis = dof % N;
            int64_t x = 0;
            if (mis != 0 && mis % 2 == 0) {
                x = std::min(il, (N - mis) / 2);
                psrc_.push_back(so), pdst_.push_back(dof), pn_.push_back(x);
            }
            for (; x < il; x += half) psrc_.push_back(so + x), pdst_.push_back(dof + 2 * x), pn_.push_back(std::min(half, il - x));
        }
    // Tasks: blocks of chunks whose doubled panels fill about 192 KiB (whole calls of `vecs` chunks; measured
    // against 3 to 48 chunks on unet3d_up, unet_up4 and unet_up2), each computed for every tile of output
    // channels and row phase (repacking a block per chunk of channels measured slower than reading every
    // weight pair once per block).
    const double cbytes = static_cast<double>(kin_ * N) * sizeof(T);
    pblk_ = std::clamp<int64_t>(static_cast<int64_t>(192.0 * 1024 / cbytes), 1, 8 * vecs);
    if (pblk_ >= vecs) pblk_ = pblk_ / vecs * vecs;
    ntiles_ = (nout_ + rows - 1) / rows;
    const int64_t nch = static_cast<int64_t>(psrc_.size());
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (int64_t c0 = 0; c0 < nch; c0 += pblk_) tasks_.push_back({grp, 0, c0, 0});
    tcost_.assign(tasks_.size() + 1, 0.0);
    for (size_t i = 0; i < tasks_.size(); ++i) {
        const Task& tk = tasks_[i];
        tcost_[i + 1] = tcost_[i] + static_cast<double>(std::min(nch, tk.p0 + pblk_) - tk.p0);
    }
    asz_ = pblk_ * kin_ * N + N;  // (+ a vector: the panels start on a vector boundary)
    // Weights -> [grp][row phase][tile][kin][rows][2]: (wei[grp][c][oc][kernel offset + r] for r = 0, 1).
    std::vector<int64_t> ko1(pkoff_);
    for (int64_t& k : ko1) ++k;
    pack_pairs(p, wei, std::move(storage), pkoff_, ko1, [&](int64_t grp, int64_t rp, int64_t t) {
        return ((grp * nrp + rp) * ntiles_ + t) * kin_ * rows * 2;
    });
    bias_.assign(static_cast<size_t>(cout_ + rows), T(0));  // (the kernel reads a tile's rows of bias)
    if (bia) std::copy(bia, bia + p.oc, bias_.begin());
}

// One task of the pair path: the chunks [c0, c0 + pblk_) of group grp, doubled into panels, then for every row
// phase and tile of output channels, calls of up to `vecs` chunks.
template <class T>
void PhasePlan<T>::block_pair(const T* src, T* dst, int64_t grp, int64_t c0, Scratch& ws) const {
    const auto& pk = gemm_.pair;
    const int64_t N = static_cast<int64_t>(pk.lanes), rows = static_cast<int64_t>(pk.rows);
    const int64_t vecs = static_cast<int64_t>(pk.vecs), nrp = static_cast<int64_t>(pdoff_.size());
    const int64_t nch = static_cast<int64_t>(psrc_.size()), c1 = std::min(nch, c0 + pblk_);
    const int64_t tsz = kin_ * rows * 2, psz = kin_ * N;
    const uintptr_t va = static_cast<uintptr_t>(N) * sizeof(T);
    T* const A = reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(ws.a.data()) + va - 1) / va * va);
    pk.pack(src + grp * kin_ * insz_, static_cast<size_t>(insz_), static_cast<size_t>(kin_), psrc_.data() + c0,
            pn_.data() + c0, static_cast<size_t>(c1 - c0), A, static_cast<size_t>(psz));
    const T* a[3];
    T* dd[3];
    size_t cnt[3];
    const size_t woff = 0;
    for (int64_t rp = 0; rp < nrp; ++rp)
        for (int64_t t = 0; t < ntiles_; ++t) {
            const T* w = packed_.data() + ((grp * nrp + rp) * ntiles_ + t) * tsz;
            const int64_t oc0 = t * rows, nrow = std::min(rows, nout_ - oc0);
            T* const dbase = dst + (grp * nout_ + oc0) * outsz_ + pdoff_[rp];
            const T* bias = bias_.data() + grp * nout_ + oc0;
            for (int64_t c = c0; c < c1; c += vecs) {
                const int64_t nv = std::min(vecs, c1 - c);
                for (int64_t v = 0; v < nv; ++v) {
                    a[v] = A + (c + v - c0) * psz;
                    dd[v] = dbase + pdst_[c + v];
                    cnt[v] = static_cast<size_t>(2 * pn_[c + v]);
                }
                pk.fn[nv - 1](a, static_cast<size_t>(N), w, &woff, 1, static_cast<size_t>(kin_), dd,
                              static_cast<size_t>(outsz_), static_cast<size_t>(nrow), cnt, bias, stream_);
            }
        }
}

// The tap pairs. With a stride of 2 along the last axis, output x = 2q reads source q + be[t] and output 2q + 1
// reads q + bo[t] through the last-axis taps t of the two phases; where both phases have T taps, tap t of each is
// a pair: a panel whose lane 2j holds source q0 + j + be[t] and lane 2j + 1 source q0 + j + bo[t] (PackZipT),
// times the broadcast pair of their weights, gives N consecutive outputs of the row with no wasted product
// (k4 s2 p1: x = 2q from kernel indices 1, 3, x = 2q + 1 from 0, 2). The other axes' taps multiply the
// segments: a row phase with U taps there sums U x T segments. Returns false (nothing changed) where it does
// not apply.
template <class T>
bool PhasePlan<T>::init_tpair(const Problem& p, const std::vector<std::vector<AxisPhase>>& axes, const T* wei,
                              const T* bia, detail::HugeVector<T>& storage) {
    const auto& pk = gemm_.pair;
    const int rank = p.rank();
    if (last_ || epi_.kind != Epilogue::Kind::none || !pk.fn[0] || !pk.zip || pk.lanes < 2 || kin_ > 2048 ||
        nout_ < 4 || p.s[rank - 1] != 2 || 2 * p.i[rank - 1] < static_cast<int64_t>(pk.lanes))
        return false;
    const auto& ax = axes[rank - 1];
    const AxisPhase* ev = ax[0].o0 == 0 ? &ax[0] : &ax[1];
    const AxisPhase* od = ax[0].o0 == 0 ? &ax[1] : &ax[0];
    if (ev->o0 != 0 || od->o0 != 1 || ev->taps.empty() || ev->taps.size() != od->taps.size()) return false;
    const int64_t N = static_cast<int64_t>(pk.lanes), half = N / 2, rows = static_cast<int64_t>(pk.rows);
    const int64_t vecs = static_cast<int64_t>(pk.vecs);
    const int64_t ol = olast_;
    const Dims kst = detail::row_major_strides(p.k);
    tT_ = static_cast<int64_t>(ev->taps.size());
    std::vector<int64_t> kke, kko;
    for (int64_t t = 0; t < tT_; ++t) {
        tbe_.push_back(ev->taps[t].second), kke.push_back(ev->taps[t].first);
        tbo_.push_back(od->taps[t].second), kko.push_back(od->taps[t].first);
        int64_t c = 0;
        while (c < static_cast<int64_t>(tce_.size()) && tce_[c] - tco_[c] != tbe_[t] - tbo_[t]) ++c;
        if (c == static_cast<int64_t>(tce_.size())) tce_.push_back(tbe_[t]), tco_.push_back(tbo_[t]);
        tcls_.push_back(c);
        tsh_.push_back(tbe_[t] - tce_[c]);
    }
    tncls_ = static_cast<int64_t>(tce_.size());
    const int64_t npair = (ol + 1) / 2;
    {
        const int64_t lo = *std::min_element(tsh_.begin(), tsh_.end()), hi = *std::max_element(tsh_.begin(), tsh_.end());
        tpad_ = std::max<int64_t>(0, -lo);
        tW_ = npair + std::max<int64_t>(0, hi) + tpad_ + half;  // (a chunk reads N values from its first pair)
        tlda_ = 2 * tW_;
    }
    // Row phases and their taps on the other axes (kernel offset, source base per axis).
    struct RowPhase {
        Dims o0, Q;
        std::vector<int64_t> koff;
        std::vector<Dims> base;
    };
    std::vector<RowPhase> rph;
    detail::for_each_index(Dims(p.s.begin(), p.s.end() - 1), [&](const int64_t* r) {
        RowPhase rp;
        Dims text;
        for (int a = 0; a + 1 < rank; ++a) {
            rp.o0.push_back(axes[a][r[a]].o0);
            rp.Q.push_back(axes[a][r[a]].Q);
            text.push_back(static_cast<int64_t>(axes[a][r[a]].taps.size()));
        }
        for (int64_t q : rp.Q)
            if (q == 0) return;  // no output in this row phase
        detail::for_each_index(text, [&](const int64_t* t) {
            int64_t koff = 0;
            Dims base;
            for (int a = 0; a + 1 < rank; ++a) {
                koff += axes[a][r[a]].taps[t[a]].first * kst[a];
                base.push_back(axes[a][r[a]].taps[t[a]].second);
            }
            rp.koff.push_back(koff);
            rp.base.push_back(std::move(base));
        });
        rph.push_back(std::move(rp));
    });
    tumax_ = 0;
    tsegs_ = 0;
    for (const RowPhase& rp : rph) {
        tu_.push_back(static_cast<int64_t>(rp.koff.size()));
        tsb_.push_back(tsegs_);
        tsegs_ += tu_.back() * tT_;
        tumax_ = std::max(tumax_, tu_.back());
    }
    // The cached zipped rows: those of one call (up to `vecs` output rows' taps, every class) and of one more
    // output row, within 512 KiB.
    tslots_ = (vecs + 1) * tumax_ * tncls_;
    if (tumax_ > 16 || tumax_ * tT_ > 256 || static_cast<double>(tslots_ * kin_ * tlda_) * sizeof(T) > 512.0 * 1024) {
        for (auto* v : {&tbe_, &tbo_, &tcls_, &tsh_, &tce_, &tco_, &tu_, &tsb_}) v->clear();
        return false;
    }
    tpair_ = true;
    nr_ = rows;
    mr_ = 1;
    stream_ = static_cast<double>(p.mb) * static_cast<double>(outsz_ * cout_) * sizeof(T) >= detail::kStreamOutBytes;
    // Output rows, in the order (image, position on the other axes, row phase): the output rows 2y and 2y + 1
    // read overlapping source rows, zipped once for both. Their chunks of output pairs: a row's first chunk ends
    // where the destination reaches a vector boundary (as in the pair path).
    int64_t nrows = 0;
    Dims qmax(static_cast<size_t>(rank - 1), 0);
    for (const RowPhase& rp : rph)
        for (int a = 0; a + 1 < rank; ++a) qmax[a] = std::max(qmax[a], rp.Q[a]);
    for (int64_t n = 0; n < mb_; ++n)
        detail::for_each_index(qmax, [&](const int64_t* q) {
        for (size_t ri = 0; ri < rph.size(); ++ri) {
            const RowPhase& rp = rph[ri];
            bool inq = true;
            for (int a = 0; a + 1 < rank; ++a) inq = inq && q[a] < rp.Q[a];
            if (!inq) continue;
            {
                int64_t dof = n * cout_ * outsz_, mask = 0;
                for (int a = 0; a + 1 < rank; ++a) dof += (rp.o0[a] + p.s[a] * q[a]) * out_st_[a];
                for (int64_t u = 0; u < tu_[ri]; ++u) {
                    int64_t so = n * cin_ * insz_;
                    bool in = true;
                    for (int a = 0; a + 1 < rank; ++a) {
                        const int64_t x = q[a] + rp.base[u][a];
                        in = in && x >= 0 && x < in_[a];
                        so += x * in_st_[a];
                    }
                    trow_.push_back(in ? so : -1);
                    if (in) mask |= int64_t(1) << u;
                }
                for (int64_t u = tu_[ri]; u < tumax_; ++u) trow_.push_back(-1);
                tsig_.push_back(static_cast<int64_t>(ri) << 16 | mask);
                const int64_t mis = dof % N;
                int64_t q0 = 0;
                auto chunk = [&](int64_t len) {
                    tcr_.push_back(nrows), tq0_.push_back(q0), tlen_.push_back(len);
                    tcnt_.push_back(std::min(2 * len, ol - 2 * q0));
                    pdst_.push_back(dof + 2 * q0);
                    q0 += len;
                };
                if (mis != 0 && mis % 2 == 0) chunk(std::min(npair, (N - mis) / 2));
                while (q0 < npair) chunk(std::min(half, npair - q0));
                ++nrows;
            }
        }
        });
    // Tasks: runs of 8 calls' chunks, extended to the end of their row (up to 16 calls'), costed by their
    // segments; a task's chunks are [p0, cb0).
    const int64_t nch = static_cast<int64_t>(tcr_.size());
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (int64_t c0 = 0; c0 < nch;) {
            int64_t c1 = std::min(nch, c0 + 8 * vecs);
            while (c1 < nch && c1 > c0 + 1 && tcr_[c1] == tcr_[c1 - 1] && c1 < c0 + 16 * vecs) ++c1;
            tasks_.push_back({grp, 0, c0, c1});
            c0 = c1;
        }
    tcost_.assign(tasks_.size() + 1, 0.0);
    for (size_t i = 0; i < tasks_.size(); ++i) {
        double c = 0;
        for (int64_t ch = tasks_[i].p0; ch < tasks_[i].cb0; ++ch) c += 1.0 + static_cast<double>(tT_) * tu_[tsig_[tcr_[ch]] >> 16];
        tcost_[i + 1] = tcost_[i] + c;
    }
    asz_ = tslots_ * kin_ * tlda_;
    // Weights -> [grp][tile][segment][kin][rows][2]: segment (row phase, tap u, pair t) holds
    // (wei[grp][c][oc][koff_u + kke[t]], wei[grp][c][oc][koff_u + kko[t]]).
    ntiles_ = (nout_ + rows - 1) / rows;
    std::vector<int64_t> ske, sko;
    for (size_t ri = 0; ri < rph.size(); ++ri)
        for (int64_t u = 0; u < tu_[ri]; ++u)
            for (int64_t t = 0; t < tT_; ++t) {
                ske.push_back(rph[ri].koff[u] + kke[t]);
                sko.push_back(rph[ri].koff[u] + kko[t]);
            }
    pack_pairs(p, wei, std::move(storage), ske, sko, [&](int64_t grp, int64_t sg, int64_t tl) {
        return ((grp * ntiles_ + tl) * tsegs_ + sg) * kin_ * rows * 2;
    });
    bias_.assign(static_cast<size_t>(cout_ + rows), T(0));
    if (bia) std::copy(bia, bia + p.oc, bias_.begin());
    return true;
}

// One task of the tap pairs: the chunks [c0, c1) of group grp, in calls of up to `vecs` consecutive chunks of
// rows with one signature (row phase, taps inside), each for every tile of output channels. The source rows
// they read are zipped into cached rows (least recently used replaced), once per task.
template <class T>
void PhasePlan<T>::block_tpair(const T* src, T* dst, int64_t grp, int64_t c0, int64_t c1, Scratch& ws) const {
    const auto& pk = gemm_.pair;
    const int64_t rows = static_cast<int64_t>(pk.rows), vecs = static_cast<int64_t>(pk.vecs), tsz = kin_ * rows * 2;
    const int64_t il = in_[in_.size() - 1], rsz = kin_ * tlda_;
    T* const Z = ws.a.data();
    int64_t* const key = ws.mbi.data();    // per slot: source row * classes + class, -1 empty
    int64_t* const stamp = ws.oofs.data();  // per slot: last use
    for (int64_t i = 0; i < tslots_; ++i) key[i] = -1, stamp[i] = 0;
    int64_t clock = 0;
    auto row = [&](int64_t srow, int64_t cls) -> const T* {
        const int64_t k = srow * tncls_ + cls;
        int64_t victim = 0;
        for (int64_t i = 0; i < tslots_; ++i) {
            if (key[i] == k) {
                stamp[i] = ++clock;
                return Z + i * rsz;
            }
            if (stamp[i] < stamp[victim]) victim = i;
        }
        key[victim] = k;
        stamp[victim] = ++clock;
        T* z = Z + victim * rsz;
        pk.zip(src + grp * kin_ * insz_ + srow, static_cast<size_t>(insz_), static_cast<size_t>(kin_), tce_[cls] - tpad_,
               tco_[cls] - tpad_, tW_, il, z, static_cast<size_t>(tlda_));
        return z;
    };
    const T* a[16 * 16 * 3];
    size_t woff[16 * 16];
    T* dd[3];
    size_t cnt[3];
    for (int64_t c = c0; c < c1;) {
        const int64_t sig = tsig_[tcr_[c]];
        int64_t nv = 1;
        while (nv < vecs && c + nv < c1 && tsig_[tcr_[c + nv]] == sig) ++nv;
        const int64_t ri = sig >> 16, mask = sig & 0xffff;
        int64_t nseg = 0;
        for (int64_t u = 0; u < tu_[ri]; ++u) {
            if (!(mask >> u & 1)) continue;
            for (int64_t t = 0; t < tT_; ++t, ++nseg) {
                woff[nseg] = static_cast<size_t>((tsb_[ri] + u * tT_ + t) * tsz);
                for (int64_t v = 0; v < nv; ++v) {
                    const int64_t ch = c + v;
                    a[nseg * nv + v] = row(trow_[tcr_[ch] * tumax_ + u], tcls_[t]) + 2 * (tq0_[ch] + tsh_[t] + tpad_);
                }
            }
        }
        for (int64_t tl = 0; tl < ntiles_; ++tl) {
            const int64_t oc0 = tl * rows, nrow = std::min(rows, nout_ - oc0);
            T* const dbase = dst + (grp * nout_ + oc0) * outsz_;
            for (int64_t v = 0; v < nv; ++v) {
                dd[v] = dbase + pdst_[c + v];
                cnt[v] = static_cast<size_t>(tcnt_[c + v]);
            }
            pk.fn[nv - 1](a, static_cast<size_t>(tlda_), packed_.data() + (grp * ntiles_ + tl) * tsegs_ * tsz, woff,
                          static_cast<size_t>(nseg), static_cast<size_t>(kin_), dd, static_cast<size_t>(outsz_),
                          static_cast<size_t>(nrow), cnt, bias_.data() + grp * nout_ + oc0, stream_);
        }
        c += nv;
    }
}

template <class T>
size_t PhasePlan<T>::workspace_bytes() const {
    if (pair_ || tpair_) return static_cast<size_t>(asz_) * sizeof(T);
    const size_t taps = static_cast<size_t>(std::max<int64_t>(ntaps_, 1));
    const size_t mc = static_cast<size_t>(mc_), nm = cslots();
    // (decodes per C slot: source offsets per tap, images, destination offsets, runs; then the tile offsets)
    return sizeof(T) * (static_cast<size_t>(asz_) + csize() * nm + gemm_.nr + (direct_ ? static_cast<size_t>(np_) : 0) +
                        (ilv_last_ ? static_cast<size_t>(kIlvChunk) * nm * static_cast<size_t>(nout_) + 16 : 0) +
                        (cfl_ ? static_cast<size_t>(mb_ * sistr_) : 0)) +
           (cfl_ && seg_ ? mc * taps * sizeof(int64_t) : 0) + (!last_ ? 16 * (mc + 16) * sizeof(T) : 0) +
           mc * ((taps + 4) * nm + 1 + (direct_ || !last_ ? 1 : 0)) * sizeof(int64_t) + 2 * mc * sizeof(T*) +
           taps * (sizeof(T*) + 2 * sizeof(size_t) + sizeof(uint64_t) + 1) +
           // (channels-last tiles: row pointers and segments of the block's tiles)
           taps * ((mc + static_cast<size_t>(mr_)) * sizeof(T*) + (mc / static_cast<size_t>(mr_) + 1) * sizeof(size_t)) +
           (mc / static_cast<size_t>(mr_) + 1) * sizeof(int64_t) +
           // (transposed tiles: each tile's in-place test per decode and tap)
           (cols_ ? nm * ((mc + gemm_.cols.width - 1) / gemm_.cols.width) * taps * sizeof(typename Scratch::ColsTap) : 0);
}

template <class T>
void PhasePlan<T>::run(const T* src, T* dst) const {
    if (pair_ || tpair_) {
        parallel::parallel_for(tcost_, [&](int64_t b, int64_t e, int) {
            thread_local Scratch ws;
            ws.a.resize(static_cast<size_t>(asz_));
            ws.mbi.resize(static_cast<size_t>(tslots_));
            ws.oofs.resize(static_cast<size_t>(tslots_));
            for (int64_t task = b; task < e; ++task) {
                const Task& tk = tasks_[static_cast<size_t>(task)];
                if (pair_)
                    block_pair(src, dst, tk.grp, tk.p0, ws);
                else
                    block_tpair(src, dst, tk.grp, tk.p0, tk.cb0, ws);
            }
            if (stream_) hwy::FlushStream();
        });
        return;
    }
    parallel::parallel_for(tcost_, [&](int64_t b, int64_t e, int) {
        // Scratch lives per thread and only grows: no allocation (and no page faults) on repeated runs, and
        // the plan stays reentrant, as no two threads share it.
        thread_local Scratch ws;
        const size_t taps = static_cast<size_t>(std::max<int64_t>(ntaps_, 1));
        ws.a.resize(static_cast<size_t>(asz_));
        // (+ a panel: the store reads whole vectors, up to one past the last row's padded end)
        ws.c.resize(csize() * cslots() + gemm_.nr);
        // (decodes: one per C slot; the transposed path keeps every phase of its task decoded)
        const size_t nd = cslots();
        ws.runs.resize(2 * static_cast<size_t>(mc_) * nd);
        ws.off.resize(static_cast<size_t>(mc_) * taps * nd);
        ws.mbi.resize(static_cast<size_t>(mc_) * nd);
        ws.oofs.resize(static_cast<size_t>(mc_) * nd);
        ws.active.resize(taps);
        ws.aptr.resize(static_cast<size_t>(mc_));
        ws.segp.resize(taps);
        ws.dptr.resize(static_cast<size_t>(mc_));
        ws.segl.resize(taps);
        ws.sego.resize(taps);
        ws.segm.resize(taps);
        ws.rowp.resize(taps * static_cast<size_t>(mc_ + mr_));
        ws.segt.resize(taps * static_cast<size_t>(mc_ / mr_ + 1));
        ws.tsegs.resize(static_cast<size_t>(mc_ / mr_ + 1));
        ws.alda.resize(static_cast<size_t>(mc_));
        if (direct_ || !last_) ws.dofs.resize(static_cast<size_t>(mc_));
        if (cols_) ws.ctap.resize(nd * static_cast<size_t>((mc_ + gemm_.cols.width - 1) / gemm_.cols.width) * taps);
        if (direct_) ws.sink.resize(static_cast<size_t>(np_ + 16));
        // (+ a vector: the bias store's masked tail may address up to a vector past a row)
        if (ilv_last_) ws.stage.resize(static_cast<size_t>(kIlvChunk * cslots() * nout_ + 16));
        if (cfl_) ws.s.resize(static_cast<size_t>(mb_ * sistr_));
        if (cfl_ && seg_) ws.soff.resize(static_cast<size_t>(mc_) * taps);
        if (!last_) ws.tt.resize(static_cast<size_t>(16 * (mc_ + 16)));
        for (int64_t task = b; task < e; ++task) {
            const Task& tk = tasks_[static_cast<size_t>(task)];
            block(src, dst, tk.grp, tk.phase, tk.p0, tk.cb0, ws);
        }
        if (stream_) hwy::FlushStream();  // the streamed outputs are visible before the task range ends
    });
}

template <class T>
int64_t PhasePlan<T>::decode(const Phase& ph, int64_t p0, int64_t n, Scratch& ws, int64_t slot, bool elems) const {
    const int rank = static_cast<int>(in_.size());
    const int64_t nt = static_cast<int64_t>(ph.koff.size());
    int64_t nruns = 0;  // runs of positions along the last axis: (first position, count) in ws.runs
    // Decode the block's positions: image, destination offset, and per tap the source offset (-1: outside).
    // The first position is divided out once; the rest advance like an odometer (no division per position).
    Dims q(rank);
    int64_t im;
    {
        int64_t qf;
        if (mb_inner_) im = p0 % mb_, qf = p0 / mb_;
        else im = p0 / ph.positions, qf = p0 % ph.positions;
        for (int a = rank - 1; a >= 0; --a) q[a] = qf % ph.Q[a], qf /= ph.Q[a];
    }
    auto next_q = [&] {  // true when q wrapped around to all zeros
        for (int a = rank - 1; a >= 0; --a) {
            if (++q[a] < ph.Q[a]) return false;
            q[a] = 0;
        }
        return true;
    };
    // (Raw pointers in locals: the compiler need not reload them after every store.)
    {
        int64_t* const mbi = ws.mbi.data() + slot * mc_;
        int64_t* const oofs = ws.oofs.data() + slot * mc_;
        int64_t* const offs = ws.off.data() + slot * mc_ * static_cast<int64_t>(ws.active.size());
        int64_t* const runs = ws.runs.data() + slot * 2 * mc_;
        const int64_t* const qlo = ph.qlo.data();
        const int64_t* const qhi = ph.qhi.data();
        const int64_t* const toff = ph.toff.data();
        const int64_t* const o0 = ph.o0.data();
        const int64_t* const ostep = ostep_.data();
        const int64_t* const ost = out_st_.data();
        const int64_t* const istep = istep_.data();
        const int64_t* const ist = in_st_.data();
        int64_t* const qq = q.data();
        const int64_t mc = mc_, insz = insz_, cin = cin_;
        const int last = rank - 1;
        for (int64_t j = 0; j < n;) {
            // A run: positions of one image and one outer index q[0..last-1], consecutive along the last
            // axis (one position when images are the inner order). Along it every offset moves in steps.
            const int64_t run = mb_inner_ ? 1 : std::min(n - j, ph.Q[last] - qq[last]);
            int64_t oo = 0, qo = 0;
            for (int a = 0; a < rank; ++a) {
                oo += (o0[a] + qq[a] * ostep[a]) * ost[a];
                qo += qq[a] * istep[a] * ist[a];
            }
            const int64_t doo = ostep[last] * ost[last], dqo = istep[last] * ist[last];
            // (elems: offsets of the image's channels-last source, in elements)
            const int64_t ebase = elems ? im * insz : 0, escale = elems ? cin : 1;
            for (int64_t k = 0; k < run; ++k) {
                mbi[j + k] = im;
                oofs[j + k] = oo + k * doo;
            }
            for (int64_t t = 0; t < nt; ++t) {
                bool outer = true;
                for (int a = 0; a < last; ++a) outer = outer && qq[a] >= qlo[t * rank + a] && qq[a] < qhi[t * rank + a];
                // Valid k: lo <= q[last] + k < hi.
                const int64_t lo = outer ? std::clamp(qlo[t * rank + last] - qq[last], int64_t(0), run) : run;
                const int64_t hi = outer ? std::clamp(qhi[t * rank + last] - qq[last], lo, run) : run;
                int64_t* o = offs + t * mc + j;
                for (int64_t k = 0; k < lo; ++k) o[k] = -1;
                for (int64_t k = lo, v = (ebase + qo + toff[t] + lo * dqo) * escale; k < hi; ++k, v += dqo * escale)
                    o[k] = v;
                for (int64_t k = hi; k < run; ++k) o[k] = -1;
            }
            runs[2 * nruns] = j;
            runs[2 * nruns++ + 1] = run;
            j += run;
            if (mb_inner_) {
                if (++im == mb_) im = 0, next_q();
            } else {
                qq[last] += run - 1;
                if (next_q()) ++im;
            }
        }
        for (int64_t t = 0; t < nt; ++t) {  // (stops at the first position inside: usually the first)
            const int64_t* o = offs + t * mc;
            ws.active[t] = std::any_of(o, o + n, [](int64_t v) { return v >= 0; });
        }
    }
    return nruns;
}

// Spans of at least this many consecutive positions are packed for every channel in one call (measured:
// dcgan_g1's spans of 3-4 positions are faster value by value).
constexpr int64_t kMinSpan = 8;

// Channels-first, transposed: tiles of W positions (the vector columns) x `rows` output channels. The task
// computes one phase, every merged phase (from one decode), or a group of phases alternating along the last
// axis (each decoded in turn); C^T[channel][position] of each goes to its own slot (row stride MC + W), and
// the store then runs along destination rows: whole vectors, the phases of a group interleaved.
template <class T>
void PhasePlan<T>::block_cols(const T* src, T* dst, int64_t grp0, int64_t task, int64_t p0, int64_t cb0, Scratch& ws) const {
    const int rank = static_cast<int>(in_.size());
    const int64_t nr = nr_, W = static_cast<int64_t>(gemm_.cols.width), ldct = mc_ + W, cs = static_cast<int64_t>(csize());
    // (the panels cb0 .. cb1 of output channels; C holds their rows from row 0)
    const int64_t nph = static_cast<int64_t>(phases_.size()), cb1 = std::min(np_ / nr, cb0 + ccb_);
    const int64_t slots = std::max<int64_t>(1, static_cast<int64_t>(ws.a.size()) / (kin_ * W));
    const int64_t img = cin_ * insz_;
    const int64_t taps = static_cast<int64_t>(ws.active.size());
    T* const C = ws.c.data();
    // What this task computes: (phase, C slot) pairs, each phase decoded once into its own decode slot (merged
    // phases: one decode for all), for one group or (groups inner) every group.
    const bool grouped = ilv_ && !merged_;
    const int64_t first = grouped ? groups_[task][0] : task;
    const int64_t n = std::min(mc_, mb_ * phases_[first].positions - p0);
    const int64_t ncomp = grouped ? static_cast<int64_t>(groups_[task].size()) : 1;
    int64_t nruns = 0;
    for (int64_t gi = 0; gi < ncomp; ++gi) nruns = decode(phases_[grouped ? groups_[task][gi] : task], p0, n, ws, gi);
    // (the store reads the runs, images and destination offsets of the last decode)
    const int64_t dec = grouped ? groups_[task][ncomp - 1] : task, dslot = ncomp - 1;
    for (int64_t grp = grp0; grp < (gin_ ? g_ : grp0 + 1); ++grp) {
    const T* sbase = src + grp * kin_ * insz_;
    for (int64_t gi = 0; gi < ncomp; ++gi) {
        const int64_t phi = grouped ? groups_[task][gi] : task;
        const Phase& ph = phases_[phi];
        const int64_t nt = static_cast<int64_t>(ph.koff.size());
        const int64_t* const mbi = ws.mbi.data() + gi * mc_;
        const int64_t* const offs = ws.off.data() + gi * mc_ * taps;
        // (phase, slot) of the products computed from this decode
        const int64_t k0 = merged_ ? 0 : phi, k1 = merged_ ? nph : phi + 1;
        auto slot = [&](int64_t k) { return merged_ ? k : gi; };
        for (int64_t j0 = 0; j0 < n; j0 += W) {
            const int64_t jn = std::min(n, j0 + W);
            int64_t ns = 0, used = 0;
            bool started = false, partial = false;
            // A tile of one vector's positions or fewer (a block's last) runs the one-vector kernel, of two
            // vectors' the two-vector one where the tile is three.
            const auto& ck = gemm_.cols;
            const bool one = ck.fn1 && jn - j0 <= static_cast<int64_t>(ck.width1) && (!ck.masked || ck.masked1);
            const bool two = !one && ck.fn2 && jn - j0 <= static_cast<int64_t>(ck.width2) && (!ck.masked || ck.masked2);
            const auto colsfn = one ? ck.fn1 : two ? ck.fn2 : ck.fn;
            const auto colsmasked = one ? ck.masked1 : two ? ck.masked2 : ck.masked;
            auto emit = [&] {
                if (ns == 0) return;
                for (int64_t k = k0; k < k1; ++k) {
                    const T* wbase = packed_.data() + wofs_[grp * nph + k];
                    T* Ck = C + slot(k) * cs + j0;
                    for (int64_t ncb = cb0; ncb < cb1; ++ncb) {
                        if (partial)
                            colsmasked(ws.segp.data(), ws.segl.data(), wbase + ncb * nt * kin_ * nr,
                                              ws.sego.data(), static_cast<size_t>(ns), static_cast<size_t>(kin_),
                                              Ck + (ncb - cb0) * nr * ldct, static_cast<size_t>(ldct), started, ws.segm.data());
                        else
                            colsfn(ws.segp.data(), ws.segl.data(), wbase + ncb * nt * kin_ * nr, ws.sego.data(),
                                          static_cast<size_t>(ns), static_cast<size_t>(kin_), Ck + (ncb - cb0) * nr * ldct,
                                          static_cast<size_t>(ldct), started);
                    }
                }
                started = true;
                partial = false;
                ns = used = 0;
            };
            const uint64_t full = W >= 64 ? ~uint64_t(0) : (uint64_t(1) << W) - 1;
            typename Scratch::ColsTap* const ct = ws.ctap.data() + ((gi * ((mc_ + W - 1) / W) + j0 / W) * taps);
            for (int64_t t = 0; t < nt; ++t) {
                const int64_t* off = offs + t * mc_;
                // In place when the tile's positions inside the source are consecutive sources of one image:
                // position j0 + m reads source e + m (the kernel reads W values per source plane). Positions
                // outside (past a row's edge, past the block) are masked off where the target has masked loads
                // that never read them (their sources e + m may lie outside the source); elsewhere every
                // position must be inside. (The same for every group: found for the first.)
                if (grp == grp0) {
                    int64_t e = 0, im = -1, inside = 0;
                    uint64_t bits = 0;  // (the masked kernel exists only where W <= 64)
                    bool direct = true;
                    for (int64_t m = 0; m < jn - j0 && direct; ++m) {
                        const int64_t j = j0 + m;
                        if (off[j] < 0) continue;
                        if (im < 0) im = mbi[j], e = off[j] - m;
                        direct = mbi[j] == im && off[j] == e + m;
                        if (m < 64) bits |= uint64_t(1) << m;
                        ++inside;
                    }
                    direct = direct && (inside == W || gemm_.cols.masked);
                    if (inside == W) bits = full;
                    ct[t] = {e, im, bits, direct};
                }
                const int64_t e = ct[t].e, im = ct[t].im;
                const uint64_t bits = ct[t].bits;
                const bool direct = ct[t].direct;
                if (im < 0) continue;  // the tap misses every position of the tile
                ws.sego[ns] = static_cast<size_t>(t * kin_ * nr);
                if (direct) {
                    // (e < 0 or e + W > insz_ only with masked positions, which are never read)
                    ws.segp[ns] = reinterpret_cast<const T*>(reinterpret_cast<uintptr_t>(sbase) +
                                                             static_cast<uintptr_t>(im * img + e) * sizeof(T));
                    ws.segm[ns] = bits;
                    partial = partial || bits != full;
                    ws.segl[ns++] = static_cast<size_t>(insz_);
                    continue;
                }
                T* P = ws.a.data() + used++ * kin_ * W;
                ws.segp[ns] = P;
                ws.segm[ns] = full;
                ws.segl[ns++] = static_cast<size_t>(W);
                // Packed as [kin][W]: spans of evenly spaced sources of one image, or of positions outside
                // (zeros), copied channel by channel.
                for (int64_t m = 0; m < W;) {
                    const int64_t j = j0 + m;
                    int64_t len = 1;
                    if (j >= jn || off[j] < 0) {
                        while (m + len < W && (j + len >= jn || off[j + len] < 0)) ++len;
                        if (len >= kMinSpan)
                            gemm_.copy_block(nullptr, 0, static_cast<size_t>(kin_), static_cast<size_t>(len), P + m,
                                             static_cast<size_t>(W));
                        else
                            for (int64_t c = 0; c < kin_; ++c)
                                for (int64_t i = 0; i < len; ++i) P[c * W + m + i] = T(0);
                    } else {
                        const int64_t step =
                            j + 1 < jn && off[j + 1] > off[j] && mbi[j + 1] == mbi[j] ? off[j + 1] - off[j] : 1;
                        while (m + len < W && j + len < jn && mbi[j + len] == mbi[j] && off[j + len] == off[j] + len * step)
                            ++len;
                        const T* sp = sbase + mbi[j] * img + off[j];
                        if (step == 1 && len >= kMinSpan) {
                            gemm_.copy_block(sp, static_cast<size_t>(insz_), static_cast<size_t>(kin_), static_cast<size_t>(len),
                                             P + m, static_cast<size_t>(W));
                        } else {
                            for (int64_t c = 0; c < kin_; ++c)
                                for (int64_t i = 0; i < len; ++i) P[c * W + m + i] = sp[c * insz_ + i * step];
                        }
                    }
                    m += len;
                }
                if (used == slots) emit();
            }
            emit();
            if (!started)  // no tap reaches the tile: its outputs are the bias alone
                for (int64_t k = k0; k < k1; ++k)
                    for (int64_t r = 0; r < (cb1 - cb0) * nr; ++r) {
                        T* row = C + slot(k) * cs + r * ldct + j0;
                        std::fill(row, row + W, T(0));
                    }
        }
    }
    // The store, run by run along destination rows (the runs and offsets of the last decode): whole vectors,
    // the phases of a group interleaved, else one value per destination step (or with the epilogue).
    const int64_t* const mbi = ws.mbi.data() + dslot * mc_;
    const int64_t* const runs = ws.runs.data() + dslot * 2 * mc_;
    const int64_t* const oofs = ws.oofs.data() + dslot * mc_;
    const T* bias = bias_.data() + grp * nout_;
    const int64_t dimg = cout_ * outsz_, doo = ostep_[rank - 1] * out_st_[rank - 1];
    const int64_t nstore = ilv_ ? (merged_ ? static_cast<int64_t>(groups_.size()) : 1) : (merged_ ? nph : 1);
    for (int64_t gs = 0; gs < nstore; ++gs) {
        // The slots of this store, in order along the last axis, and the phase of the first.
        int64_t sl = 1, sidx[kMaxGroup] = {};
        int64_t base = dec;
        if (ilv_) {
            const auto& gr = groups_[merged_ ? gs : task];
            sl = static_cast<int64_t>(gr.size());
            for (int64_t r = 0; r < sl; ++r) sidx[r] = merged_ ? gr[r] : r;
            base = gr[0];
        } else if (merged_) {
            sidx[0] = gs;
            base = gs;
        }
        int64_t delta = 0;
        for (int a = 0; a < rank; ++a) delta += (phases_[base].o0[a] - phases_[dec].o0[a]) * out_st_[a];
        T* dbase = dst + grp * nout_ * outsz_ + delta;
        for (int64_t oc = cb0 * nr; oc < std::min(nout_, cb1 * nr); ++oc) {
            const T b = bias[oc];
            const T* rows[kMaxGroup];
            for (int64_t r = 0; r < sl; ++r) rows[r] = C + sidx[r] * cs + (oc - cb0 * nr) * ldct;
            T* d = dbase + oc * outsz_;
            for (int64_t ri = 0; ri < nruns; ++ri) {
                const int64_t j = runs[2 * ri], len = runs[2 * ri + 1];
                T* dd = d + mbi[j] * dimg + oofs[j];
                // Equalized groups: the phases whose output at the run's last position lies past the axis' end
                // (the first phase's output there is at o, phase r's at o + r) are not stored there.
                const int64_t lastv = ilv_short_ ? std::min(sl, olast_ - (oofs[j + len - 1] + delta) % olast_) : sl;
                if (epi_.kind == Epilogue::Kind::none && (sl > 1 || doo == 1)) {
                    const T* rj[kMaxGroup];
                    for (int64_t r = 0; r < sl; ++r) rj[r] = rows[r] + j;
                    gemm_.cols.store(rj, static_cast<size_t>(sl), static_cast<size_t>(len - (lastv < sl)), b, dd, stream_);
                    for (int64_t r = 0; r < lastv && lastv < sl; ++r) dd[(len - 1) * sl + r] = rj[r][len - 1] + b;
                } else if (epi_.kind == Epilogue::Kind::none) {  // one phase, strided: value by value
                    const T* rj = rows[0] + j;
                    for (int64_t i = 0; i < len; ++i) dd[i * doo] = rj[i] + b;
                } else {
                    for (int64_t r = 0; r < sl; ++r)
                        for (int64_t i = 0; i < len - (r >= lastv); ++i) dd[i * doo + r] = activate(epi_, rows[r][j + i] + b);
                }
            }
        }
    }
    }  // groups
}

// Channels-last tiles of one decode (tap offsets decoded as element offsets, offs[t * MC + j]): per tile, the
// row pointers of each tap that reaches it (one segment; positions outside the source and past n read
// zeros_), the segment's offset in the tap-major weight panel, and the count of segments.
template <class T>
void PhasePlan<T>::rows_last(const T* src, const int64_t* offs, int64_t n, int64_t nt, Scratch& ws) const {
    // (Raw pointers and members in locals: the stores of row pointers would otherwise make the compiler
    // reload them for every row.)
    const int64_t mr = mr_, mc = mc_, ntile = (n + mr - 1) / mr;
    const T* const zrow = zeros_.data();
    const T** const rowp = ws.rowp.data();
    size_t* const segt = ws.segt.data();
    int64_t* const tsegs = ws.tsegs.data();
    const size_t tstep = static_cast<size_t>(kin_ * nr_);
    for (int64_t tile = 0; tile < ntile; ++tile) {
        const int64_t j0 = tile * mr, mm = std::min(mr, n - j0);
        int64_t ns = 0;
        for (int64_t t = 0; t < nt; ++t) {
            const int64_t* off = offs + t * mc + j0;
            const T** rp = rowp + (tile * nt + ns) * mr;
            bool any = false;
            for (int64_t m = 0; m < mm; ++m) {
                const int64_t o = off[m];
                rp[m] = o >= 0 ? src + o : zrow;
                any |= o >= 0;
            }
            for (int64_t m = mm; m < mr; ++m) rp[m] = zrow;
            if (any) segt[tile * nt + ns++] = static_cast<size_t>(t) * tstep;
        }
        tsegs[tile] = ns;
    }
}

// Channels-last, a group of phases along the last axis (ilv_last_; one group of channels): each phase's tiles
// as in block() (row pointers, every tap one segment) into its own C slot; then, run by run, the rows of the
// group's phases are written interleaved (position i, phase r: destination row i * sl + r of the run) into a
// staging buffer, a chunk of positions at a time, and copied to the destination with streaming stores.
template <class T>
void PhasePlan<T>::block_ilv_last(const T* src, T* dst, int64_t task, int64_t p0, Scratch& ws) const {
    const std::vector<int64_t>& gr = groups_[static_cast<size_t>(task)];
    const int64_t sl = static_cast<int64_t>(gr.size()), mr = mr_, nr = nr_, nncb = np_ / nr, mc = mc_;
    const int64_t n = std::min(mc, mb_ * phases_[static_cast<size_t>(gr[0])].positions - p0);
    const int64_t ntile = (n + mr - 1) / mr, taps = static_cast<int64_t>(ws.active.size());
    const int64_t cs = static_cast<int64_t>(csize());
    T* const C = ws.c.data();
    const T** const rowp = ws.rowp.data();
    size_t* const segt = ws.segt.data();
    int64_t* const tsegs = ws.tsegs.data();
    const bool pf = kin_ * static_cast<int64_t>(sizeof(T)) <= detail::kPrefetchRowBytes;
    std::fill(ws.segl.begin(), ws.segl.end(), size_t(0));
    int64_t nruns = 0;
    for (int64_t gi = 0; gi < sl; ++gi) {
        const int64_t phi = gr[static_cast<size_t>(gi)];
        const Phase& ph = phases_[static_cast<size_t>(phi)];
        const int64_t nt = static_cast<int64_t>(ph.koff.size());
        const int64_t r = decode(ph, p0, n, ws, gi, true);
        if (gi == 0) nruns = r;
        rows_last(src, ws.off.data() + gi * mc * taps, n, nt, ws);
        const T* wbase = packed_.data() + wofs_[static_cast<size_t>(phi)];
        for (int64_t tile = 0; tile < ntile; ++tile) {
            const int64_t ns = tsegs[tile];
            if (pf && tile + 1 < ntile) {
                const T* const* rp = rowp + (tile + 1) * nt * mr;
                for (int64_t m = 0; m < mr; ++m) detail::prefetch_row(rp[m], static_cast<size_t>(kin_) * sizeof(T));
            }
            T* Ck = C + gi * cs + tile * mr * np_;
            if (ns == 0) {  // no tap reaches the tile: its outputs are the bias alone
                std::fill(Ck, Ck + mr * np_, T(0));
                continue;
            }
            for (int64_t ncb = 0; ncb < nncb; ++ncb)
                seg_k_.fn_ind(rowp + tile * nt * mr, ws.segl.data(), wbase + ncb * nt * kin_ * nr, segt + tile * nt,
                              static_cast<size_t>(ns), static_cast<size_t>(kin_), Ck + ncb * nr,
                              static_cast<size_t>(np_), false);
        }
    }
    // The store (the runs, images and destination offsets of the group's first phase, whose first output along
    // the last axis is 0: phase r's row of position i lies r rows further).
    const int64_t* const mbi = ws.mbi.data();
    const int64_t* const oofs = ws.oofs.data();
    const int64_t* const runs = ws.runs.data();
    const T* const bias = bias_.data();
    T* const stage = ws.stage.data();
    T* rows[kIlvChunk];
    for (int64_t ri = 0; ri < nruns; ++ri) {
        const int64_t j = runs[2 * ri], len = runs[2 * ri + 1];
        T* const d0 = dst + (mbi[j] * outsz_ + oofs[j]) * cout_;
        for (int64_t i0 = 0; i0 < len; i0 += kIlvChunk) {
            const int64_t cl = std::min(kIlvChunk, len - i0);
            for (int64_t gi = 0; gi < sl; ++gi) {
                const T* Cr = C + gi * cs + (j + i0) * np_;
                if (epi_.kind == Epilogue::Kind::none) {
                    for (int64_t i = 0; i < cl; ++i) rows[i] = stage + (i * sl + gi) * nout_;
                    gemm_.bias_store(Cr, static_cast<size_t>(np_), bias, static_cast<size_t>(nout_), rows,
                                     static_cast<size_t>(cl), false);
                } else {
                    for (int64_t i = 0; i < cl; ++i)
                        for (int64_t oc = 0; oc < nout_; ++oc)
                            stage[(i * sl + gi) * nout_ + oc] = activate(epi_, Cr[i * np_ + oc] + bias[oc]);
                }
            }
            gemm_.copy(stage, static_cast<size_t>(cl * sl * nout_), d0 + i0 * sl * cout_, true);
        }
    }
}

template <class T>
void PhasePlan<T>::block(const T* src, T* dst, int64_t grp0, int64_t phi, int64_t p0, int64_t cb0, Scratch& ws) const {
    if (cols_) return block_cols(src, dst, grp0, phi, p0, cb0, ws);
    if (ilv_last_) return block_ilv_last(src, dst, phi, p0, ws);
    const Phase& ph = phases_[phi];
    const int rank = static_cast<int>(in_.size());
    const int64_t mr = mr_, nr = nr_;
    const int64_t n = std::min(mc_, mb_ * ph.positions - p0);
    const int64_t ntiles = (n + mr - 1) / mr;
    const int64_t nt = static_cast<int64_t>(ph.koff.size());

    decode(ph, p0, n, ws, 0, seg_ && slast_);
    // The kernel stores the tiles itself (direct_), with streaming stores when the output is streamed: then
    // only where every destination row and the scratch row start on a cache line; else through C below.
    const bool direct = direct_ && (!stream_ || (direct_lines_ && reinterpret_cast<uintptr_t>(dst) % 64 == 0));
    T* const sink = direct_ ? ws.sink.data() + (16 - reinterpret_cast<uintptr_t>(ws.sink.data()) / sizeof(T) % 16) % 16 : nullptr;

    // The groups computed from this decode: one, or all of them (groups inner: the positions and source offsets
    // are the same for every group).
    for (int64_t grp = grp0; grp < (gin_ ? g_ : grp0 + 1); ++grp) {

    // The phases computed here: phi alone, or every phase when merged (C of phase phi + k at C + k*MC*np).
    const int64_t nph = static_cast<int64_t>(phases_.size()), ph_end = merged_ ? nph : phi + 1;
    T* C = ws.c.data();
    for (int64_t k = phi; k < ph_end && !seg_ && !cols_; ++k)
        std::fill(C + (k - phi) * mc_ * np_, C + (k - phi) * mc_ * np_ + ntiles * mr * np_, T(0));
    const int64_t nncb = np_ / nr;
    const T* sbase = src + grp * kin_ * insz_;
    const int64_t img = cin_ * insz_;
    const kernels::GemmFn<T> fn = slast_ ? gemm_.fn_rows : gemm_.fn;
    // The source value of channel c at decoded offset `off` of position j.
    auto at = [&](int64_t j, int64_t off, int64_t c) -> const T* {
        return slast_ ? src + (ws.mbi[j] * insz_ + off) * cin_ + grp * kin_ + c : sbase + ws.mbi[j] * img + c * insz_ + off;
    };
    // A channels-first tile packed as [c][MR] (channels c0 .. c0+kc): span by span, a span being positions
    // of one image whose sources are consecutive (one call copies it for every channel) or outside the
    // source (zeros); spans under kMinSpan positions (masked tails would cost more), and other positions,
    // one value at a time.
    auto pack_cf = [&](T* At, int64_t j0, int64_t n, const int64_t* off, int64_t c0, int64_t kc) {
        const int64_t mr = mr_;
        for (int64_t m = 0; m < mr;) {
            const int64_t j = j0 + m;
            int64_t len = 1;
            const bool out = j >= n || off[j] < 0;
            if (out) {
                while (m + len < mr && (j + len >= n || off[j + len] < 0)) ++len;
            } else {
                while (m + len < mr && j + len < n && ws.mbi[j + len] == ws.mbi[j] && off[j + len] == off[j] + len) ++len;
            }
            if (len >= kMinSpan) {
                gemm_.copy_block(out ? nullptr : at(j, off[j], c0), static_cast<size_t>(insz_), static_cast<size_t>(kc),
                                 static_cast<size_t>(len), At + m, static_cast<size_t>(mr));
            } else {
                for (int64_t i = m; i < m + len; ++i) {
                    const T* sp = out ? nullptr : at(j + (i - m), off[j + (i - m)], c0);
                    for (int64_t c = 0; c < kc; ++c) At[c * mr + i] = sp ? sp[c * insz_] : T(0);
                }
            }
            m += len;
        }
    };
    if (fused_) {
        // One A panel per tile over K = (tap, c): channels-first [(t, c)][MR], channels-last [MR][(t, c)].
        const int64_t K = nt * kin_;
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            const int64_t j0 = tile * mr, jn = std::min(n, j0 + mr);
            bool any = false;
            for (int64_t t = 0; t < nt && !any; ++t)
                for (int64_t j = j0; j < jn && !any; ++j) any = ws.off[t * mc_ + j] >= 0;
            if (!any) {
                ws.aptr[tile] = nullptr;
                continue;
            }
            T* At = ws.a.data() + tile * K * mr;
            ws.aptr[tile] = At;
            for (int64_t t = 0; t < nt; ++t) {
                const int64_t* off = ws.off.data() + t * mc_;
                for (int64_t m = 0; m < mr; ++m) {
                    const int64_t j = j0 + m;
                    const bool in = j < n && off[j] >= 0;
                    if (slast_) {
                        T* d = At + m * K + t * kin_;
                        if (in) std::copy(at(j, off[j], 0), at(j, off[j], 0) + kin_, d);
                        else std::fill(d, d + kin_, T(0));
                    } else {
                        T* d = At + t * kin_ * mr + m;
                        if (in) {
                            const T* s = at(j, off[j], 0);
                            for (int64_t c = 0; c < kin_; ++c) d[c * mr] = s[c * insz_];
                        } else {
                            for (int64_t c = 0; c < kin_; ++c) d[c * mr] = T(0);
                        }
                    }
                }
            }
        }
        for (int64_t k = phi; k < ph_end; ++k) {
            const T* wbase = packed_.data() + wofs_[grp * nph + k];
            T* Ck = C + (k - phi) * mc_ * np_;
            for (int64_t ncb = 0; ncb < nncb; ++ncb)
                for (int64_t tile = 0; tile < ntiles; ++tile)
                    if (ws.aptr[tile])
                        fn(ws.aptr[tile], static_cast<size_t>(slast_ ? K : mr), wbase + ncb * K * nr,
                           static_cast<size_t>(K), Ck + tile * mr * np_ + ncb * nr, static_cast<size_t>(np_));
        }
    }
    const int64_t dstep = slast_ ? istep_[rank - 1] : 1;  // offset step of an in-place tile
    if (seg_ && slast_) {
        // Channels-last, tile by tile: every tap that reaches the tile is one segment of one kernel call per
        // (phase, NR block), so the accumulators stay in registers over K = taps x channels. The kernel reads
        // A through one pointer per row: position j's source channels at (image, offset) of the tap, or a row
        // of zeros outside the source. Nothing is packed. The rows and segments depend on the decode alone:
        // built for the first group, and group g adds g * kin to every pointer (the kernel's lda).
        const int64_t ntile = (n + mr - 1) / mr;
        if (grp == grp0) {
            if (direct) {
                for (int64_t j = 0; j < n; ++j) ws.dofs[j] = (ws.mbi[j] * outsz_ + ws.oofs[j]) * cout_;
            }
            rows_last(src, ws.off.data(), n, nt, ws);
        }
        for (int64_t t = 0; t < nt; ++t) ws.segl[t] = static_cast<size_t>(grp * kin_);
        const T* bias = bias_.data() + grp * nout_;
        // Short rows of A (see detail::kPrefetchRowBytes): the next tile's first segment is requested before
        // this tile's kernel calls (the kernel requests each next segment itself); after the last tile, the
        // first tile of the next group when the groups are inner.
        const bool pf = kin_ * static_cast<int64_t>(sizeof(T)) <= detail::kPrefetchRowBytes;
        for (int64_t tile = 0; tile < ntile; ++tile) {
            const int64_t ns = ws.tsegs[tile];
            if (pf && (tile + 1 < ntile || grp + 1 < (gin_ ? g_ : grp0 + 1))) {
                const bool next = tile + 1 < ntile;
                const T* const* rp = ws.rowp.data() + (next ? tile + 1 : 0) * nt * mr;
                const int64_t col = (next ? grp : grp + 1) * kin_;
                for (int64_t m = 0; m < mr; ++m) detail::prefetch_row(rp[m] + col, static_cast<size_t>(kin_) * sizeof(T));
            }
            if (direct) {
                // Each phase's tile rows in dst (rows past the block write the scratch row).
                const int64_t j0 = tile * mr, jn = std::min(n, j0 + mr);
                T* drows[16];
                const int64_t* const dofs = ws.dofs.data() + j0;
                for (int64_t k = phi; k < ph_end; ++k) {
                    int64_t delta = 0;
                    for (int a = 0; a < rank; ++a) delta += (phases_[k].o0[a] - ph.o0[a]) * out_st_[a];
                    T* const dbase = dst + delta * cout_ + grp * nout_;
                    if (jn - j0 == mr) {
                        for (int64_t m = 0; m < mr; ++m) drows[m] = dbase + dofs[m];
                    } else {
                        for (int64_t m = 0; m < mr; ++m) drows[m] = m < jn - j0 ? dbase + dofs[m] : sink;
                    }
                    if (ns == 0) {  // no tap reaches the tile: its outputs are the bias alone
                        for (int64_t m = 0; m < jn - j0; ++m) std::copy(bias, bias + nout_, drows[m]);
                        continue;
                    }
                    const T* wbase = packed_.data() + wofs_[grp * nph + k];
                    for (int64_t ncb = 0; ncb < nncb; ++ncb)
                        seg_k_.fn_direct(ws.rowp.data() + tile * nt * mr, ws.segl.data(), wbase + ncb * nt * kin_ * nr,
                                         ws.segt.data() + tile * nt, static_cast<size_t>(ns), static_cast<size_t>(kin_),
                                         drows, static_cast<size_t>(ncb * nr), bias + ncb * nr, stream_);
                }
                continue;
            }
            for (int64_t k = phi; k < ph_end; ++k) {
                T* Ck = C + (k - phi) * mc_ * np_ + tile * mr * np_;
                if (ns == 0) {  // no tap reaches the tile: its outputs are the bias alone
                    std::fill(Ck, Ck + mr * np_, T(0));
                    continue;
                }
                const T* wbase = packed_.data() + wofs_[grp * nph + k];
                for (int64_t ncb = 0; ncb < nncb; ++ncb)
                    seg_k_.fn_ind(ws.rowp.data() + tile * nt * mr, ws.segl.data(), wbase + ncb * nt * kin_ * nr,
                                  ws.segt.data() + tile * nt, static_cast<size_t>(ns), static_cast<size_t>(kin_),
                                  Ck + ncb * nr, static_cast<size_t>(np_), false);
            }
        }
    } else if (seg_ && !cfl_) {
        // Channels-first, tile by tile: every tap of the tile is one segment of one kernel call per (phase,
        // NR block), so the accumulators stay in registers over K = taps x channels. A tap's tile is read in
        // place when its MR positions are consecutive sources of one image, else packed into one of `slots`
        // panels (when they run out, the segments so far are summed into C and the next call adds to it).
        const int64_t slots = std::max<int64_t>(1, (mc_ * kc_) / (mr * kin_));
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            const int64_t j0 = tile * mr;
            int64_t ns = 0, used = 0;
            bool started = false;
            auto emit = [&] {
                if (ns == 0) return;
                for (int64_t k = phi; k < ph_end; ++k) {
                    const T* wbase = packed_.data() + wofs_[grp * nph + k];
                    T* Ck = C + (k - phi) * mc_ * np_ + tile * mr * np_;
                    for (int64_t ncb = 0; ncb < nncb; ++ncb)
                        seg_k_.fn(ws.segp.data(), ws.segl.data(), wbase + ncb * nt * kin_ * nr, ws.sego.data(),
                                  static_cast<size_t>(ns), static_cast<size_t>(kin_), Ck + ncb * nr,
                                  static_cast<size_t>(np_), started);
                }
                started = true;
                ns = used = 0;
            };
            for (int64_t t = 0; t < nt; ++t) {
                const int64_t* off = ws.off.data() + t * mc_;
                // In place when the MR sources are consecutive in one image.
                bool direct = j0 + mr <= n && off[j0] >= 0;
                for (int64_t m = 1; m < mr && direct; ++m)
                    direct = ws.mbi[j0 + m] == ws.mbi[j0] && off[j0 + m] == off[j0] + m;
                bool any = direct;
                for (int64_t j = j0; j < std::min(n, j0 + mr) && !any; ++j) any = off[j] >= 0;
                if (!any) continue;  // the tap misses every position of the tile
                ws.sego[ns] = static_cast<size_t>(t * kin_ * nr);
                if (direct) {
                    ws.segp[ns] = at(j0, off[j0], 0);
                    ws.segl[ns++] = static_cast<size_t>(insz_);
                    continue;
                }
                T* At = ws.a.data() + used++ * mr * kin_;
                ws.segp[ns] = At;
                ws.segl[ns++] = static_cast<size_t>(mr);
                pack_cf(At, j0, n, off, 0, kin_);
                if (used == slots) emit();
            }
            emit();
            if (!started)  // no tap reaches the tile: its outputs are the bias alone
                for (int64_t k = phi; k < ph_end; ++k) {
                    T* Ck = C + (k - phi) * mc_ * np_ + tile * mr * np_;
                    std::fill(Ck, Ck + mr * np_, T(0));
                }
        }
    }
    if (cfl_) {
        // Per K chunk: the block's images channels-last (S[image][position][channel]), then per tap, tile and
        // NR block one kernel call reading the tile's rows there (rows outside the source read zeros).
        const int64_t nchunk = (kin_ + kc_ - 1) / kc_;
        int64_t im0 = ws.mbi[0], im1 = ws.mbi[0];
        for (int64_t j = 1; j < n; ++j) im0 = std::min(im0, ws.mbi[j]), im1 = std::max(im1, ws.mbi[j]);
        // (only the source positions [lo, hi] that the block's taps read)
        int64_t lo = insz_, hi = -1;
        for (int64_t t = 0; t < nt; ++t)
            for (int64_t j = 0; j < n && ws.active[t]; ++j)
                if (ws.off[t * mc_ + j] >= 0) lo = std::min(lo, ws.off[t * mc_ + j]), hi = std::max(hi, ws.off[t * mc_ + j]);
        T* const S = ws.s.data();
        const T** const rows = ws.rowp.data();
        const size_t zero = 0;
        for (int64_t ch = 0; ch < nchunk; ++ch) {
            const int64_t c0 = ch * kc_, kcn = std::min(kc_, kin_ - c0);
            for (int64_t im = im0; im <= im1 && lo <= hi; ++im)
                gemm_.transpose(sbase + im * img + c0 * insz_ + lo, static_cast<size_t>(insz_), static_cast<size_t>(kcn),
                                static_cast<size_t>(hi - lo + 1), S + im * sistr_ + lo * sld_, static_cast<size_t>(sld_));
            if (seg_) {
                // Tile by tile, every tap one segment of one kernel call per (phase, NR block), the K chunks
                // summed in C (the rows and segments built once, for the first chunk).
                if (ch == 0) {
                    for (int64_t t = 0; t < nt; ++t) {
                        const int64_t* off = ws.off.data() + t * mc_;
                        for (int64_t j = 0; j < n; ++j)
                            ws.soff[t * mc_ + j] = off[j] >= 0 ? ws.mbi[j] * sistr_ + off[j] * sld_ : -1;
                    }
                    rows_last(S, ws.soff.data(), n, nt, ws);
                    std::fill(ws.segl.begin(), ws.segl.end(), size_t(0));
                }
                for (int64_t k = phi; k < ph_end; ++k) {
                    T* const Ck = C + (k - phi) * mc_ * np_;
                    const T* const wbase = packed_.data() + wofs_[grp * nph + k] + c0 * nr;
                    for (int64_t tile = 0; tile < ntiles && ch == 0; ++tile)
                        if (ws.tsegs[tile] == 0)  // no tap reaches the tile: its outputs are the bias alone
                            std::fill(Ck + tile * mr * np_, Ck + (tile + 1) * mr * np_, T(0));
                    for (int64_t ncb = 0; ncb < nncb; ++ncb)
                        for (int64_t tile = 0; tile < ntiles; ++tile) {
                            const int64_t ns = ws.tsegs[tile];
                            if (ns == 0) continue;
                            seg_k_.fn_ind(ws.rowp.data() + tile * nt * mr, ws.segl.data(), wbase + ncb * nt * kin_ * nr,
                                          ws.segt.data() + tile * nt, static_cast<size_t>(ns), static_cast<size_t>(kcn),
                                          Ck + tile * mr * np_ + ncb * nr, static_cast<size_t>(np_), ch > 0);
                        }
                }
                continue;
            }
            for (int64_t t = 0; t < nt; ++t) {
                if (!ws.active[t]) continue;
                const int64_t* off = ws.off.data() + t * mc_;
                for (int64_t tile = 0; tile < ntiles; ++tile) {
                    const int64_t j0 = tile * mr;
                    bool any = false;
                    for (int64_t m = 0; m < mr; ++m) {
                        const int64_t j = j0 + m;
                        const bool in = j < n && off[j] >= 0;
                        rows[tile * mr + m] = in ? S + ws.mbi[j] * sistr_ + off[j] * sld_ : zeros_.data();
                        any = any || in;
                    }
                    ws.aptr[tile] = any ? S : nullptr;
                }
                for (int64_t k = phi; k < ph_end; ++k) {
                    const T* wbase = packed_.data() + wofs_[grp * nph + k];
                    T* Ck = C + (k - phi) * mc_ * np_;
                    for (int64_t ncb = 0; ncb < nncb; ++ncb) {
                        const T* B = wbase + ((ncb * nt + t) * kin_ + c0) * nr;
                        for (int64_t tile = 0; tile < ntiles; ++tile)
                            if (ws.aptr[tile])
                                seg_k_.fn_ind(rows + tile * mr, &zero, B, &zero, 1, static_cast<size_t>(kcn),
                                              Ck + tile * mr * np_ + ncb * nr, static_cast<size_t>(np_), true);
                    }
                }
            }
        }
    }
    for (int64_t t = 0; t < nt && !fused_ && !seg_ && !cfl_; ++t) {
        if (!ws.active[t]) continue;
        const int64_t* off = ws.off.data() + t * mc_;
        for (int64_t c0 = 0; c0 < kin_; c0 += kc_) {
            const int64_t kcn = std::min(kc_, kin_ - c0);
            // A per tile: read in place when its MR positions are evenly spaced sources of one image
            // (channels-first: consecutive; channels-last: one source step apart), else packed with zeros
            // for positions outside the source: channels-first as [c][MR] (A(c, m) at c*lda + m),
            // channels-last as [MR][c] (A(c, m) at m*lda + c).
            T* A = ws.a.data();
            for (int64_t tile = 0; tile < ntiles; ++tile) {
                const int64_t j0 = tile * mr;
                bool direct = j0 + mr <= n && off[j0] >= 0;
                for (int64_t m = 1; m < mr && direct; ++m)
                    direct = ws.mbi[j0 + m] == ws.mbi[j0] && off[j0 + m] == off[j0] + m * dstep;
                bool any = direct;
                for (int64_t j = j0; j < std::min(n, j0 + mr) && !any; ++j) any = off[j] >= 0;
                if (!any) {  // the tap misses every position of the tile: nothing to add
                    ws.aptr[tile] = nullptr;
                    continue;
                }
                if (direct) {
                    ws.aptr[tile] = at(j0, off[j0], c0);
                    ws.alda[tile] = slast_ ? dstep * cin_ : insz_;
                    continue;
                }
                T* At = A + tile * kcn * mr;
                ws.aptr[tile] = At;
                ws.alda[tile] = slast_ ? kcn : mr;
                if (!slast_) {
                    pack_cf(At, j0, n, off, c0, kcn);
                    continue;
                }
                for (int64_t m = 0; m < mr; ++m) {
                    const int64_t j = j0 + m;
                    if (j < n && off[j] >= 0) std::copy(at(j, off[j], c0), at(j, off[j], c0) + kcn, At + m * kcn);
                    else std::fill(At + m * kcn, At + (m + 1) * kcn, T(0));
                }
            }
            for (int64_t k = phi; k < ph_end; ++k) {
                const T* wbase = packed_.data() + wofs_[grp * nph + k];
                T* Ck = C + (k - phi) * mc_ * np_;
                for (int64_t ncb = 0; ncb < nncb; ++ncb) {
                    const T* B = wbase + ((ncb * nt + t) * kin_ + c0) * nr;
                    for (int64_t tile = 0; tile < ntiles; ++tile) {
                        if (!ws.aptr[tile]) continue;
                        T* Ct = Ck + tile * mr * np_ + ncb * nr;
                        if (!narrow_) {
                            fn(ws.aptr[tile], static_cast<size_t>(ws.alda[tile]), B, static_cast<size_t>(kcn), Ct,
                               static_cast<size_t>(np_));
                        } else if (slast_) {  // (A by rows: the tile's row pointers)
                            const T* rows[16];
                            for (int64_t m = 0; m < mr; ++m) rows[m] = ws.aptr[tile] + m * ws.alda[tile];
                            const size_t zero = 0;
                            seg_k_.fn_ind(rows, &zero, B, &zero, 1, static_cast<size_t>(kcn), Ct, static_cast<size_t>(np_), true);
                        } else {
                            const size_t lda = static_cast<size_t>(ws.alda[tile]), zero = 0;
                            seg_k_.fn(&ws.aptr[tile], &lda, B, &zero, 1, static_cast<size_t>(kcn), Ct,
                                      static_cast<size_t>(np_), true);
                        }
                    }
                }
            }
        }
    }
    // Bias, epilogue, and the store into dst: (mb, c, o...) strided by channel, or (mb, o..., c) whole rows.
    // A merged phase's outputs sit at a fixed offset from phase phi's.
    const T* bias = bias_.data() + grp * nout_;
    for (int64_t k = phi; k < ph_end && !direct; ++k) {
        int64_t delta = 0;
        for (int a = 0; a < rank; ++a) delta += (phases_[k].o0[a] - ph.o0[a]) * out_st_[a];
        const T* Ck = C + (k - phi) * mc_ * np_;
        if (last_) {
            T** const rows = ws.dptr.data();
            for (int64_t j = 0; j < n; ++j) rows[j] = dst + (ws.mbi[j] * outsz_ + ws.oofs[j] + delta) * cout_ + grp * nout_;
            if (epi_.kind == Epilogue::Kind::none) {
                gemm_.bias_store(Ck, static_cast<size_t>(np_), bias, static_cast<size_t>(nout_), rows,
                                 static_cast<size_t>(n), stream_);
            } else {
                for (int64_t j = 0; j < n; ++j)
                    for (int64_t oc = 0; oc < nout_; ++oc) rows[j][oc] = activate(epi_, Ck[j * np_ + oc] + bias[oc]);
            }
            continue;
        }
        // Channel by channel: each pass writes along one destination plane (few pages, whole lines over passes).
        // Images inner: the positions are taken image by image (else each store would go to another image).
        T* dbase = dst + grp * nout_ * outsz_ + delta;
        const int64_t dimg = cout_ * outsz_;
        // (ord: the positions in store order; dabs: their destination offsets from dbase + oc * outsz_)
        int64_t* const ord = ws.alda.data();
        int64_t* const dabs = ws.dofs.data();
        for (int64_t j = 0; j < n; ++j) ord[j] = j;
        if (mb_inner_)
            std::sort(ord, ord + n, [&](int64_t a, int64_t b) { return ws.mbi[a] != ws.mbi[b] ? ws.mbi[a] < ws.mbi[b] : a < b; });
        for (int64_t i = 0; i < n; ++i) dabs[i] = ws.mbi[ord[i]] * dimg + ws.oofs[ord[i]];
        // Sixteen channels at a time, C's columns are first transposed into rows (C's rows lie np apart: read a
        // column at a time, dcgan_g1's 512 channels put every value of a column in the same two L1 sets).
        const int64_t ldt = detail::round_up(n, int64_t(16));
        T* const tt = ws.tt.data();
        for (int64_t oc0 = 0; oc0 < nout_; oc0 += 16) {
            const int64_t nc = std::min<int64_t>(16, nout_ - oc0);
            gemm_.transpose(Ck + oc0, static_cast<size_t>(np_), static_cast<size_t>(n), static_cast<size_t>(nc), tt,
                            static_cast<size_t>(ldt));
            for (int64_t c = 0; c < nc; ++c) {
                T* const d = dbase + (oc0 + c) * outsz_;
                const T b = bias[oc0 + c];
                const T* const t = tt + c * ldt;
                if (epi_.kind == Epilogue::Kind::none)
                    for (int64_t i = 0; i < n; ++i) d[dabs[i]] = t[ord[i]] + b;
                else
                    for (int64_t i = 0; i < n; ++i) d[dabs[i]] = activate(epi_, t[ord[i]] + b);
            }
        }
    }
    }
}

template class PhasePlan<float>;
template class PhasePlan<double>;

namespace {

// The gradients go through GEMM tiles of (positions or input channels) x channels: with a handful of channels
// per group the tiles are mostly padding and the per-position bookkeeping dominates (col2im is faster).
constexpr int64_t kMinGradChannels = 32;

std::string supports(const Problem& p, Direction dir) {
    // (Plain concatenation: "auto" asks on every call, and an ostringstream would cost more than a tiny layer.)
    const int64_t icg = p.ic / p.g, ocg = p.oc / p.g;
    if (dir != Direction::forward && icg * ocg < kMinGradChannels)
        return "gradients need channel groups with (ic/g) x (oc/g) >= " + std::to_string(kMinGradChannels) + " (here " +
               std::to_string(icg) + " x " + std::to_string(ocg) + ")";
    if (dir == Direction::backward_data && icg < 4)  // the GEMM's N: a tile of NR columns would be mostly padding
        return "the data gradient needs ic/g >= 4 (here " + std::to_string(icg) + ")";
    return {};
}

// The one-call paths pack the weights on every call, into a buffer kept per thread (no page faults).
template <class T>
detail::HugeVector<T>& storage() {
    thread_local detail::HugeVector<T> s;
    return s;
}

// Channels-last forward with kernel == stride along the last axis (no dilation or padding at its start there,
// the output s times the input, groups 1): output s*i + c of that axis receives kernel index c from input i
// alone, and the s outputs of an input position are consecutive rows of oc channels. So the layer is the one with
// kernel and stride 1 along that axis and s*oc output channels (channel c*oc + j: the weights [..., c] of
// channel j, the bias of j), computed on the same tensors: half the phases in 2-D, a quarter in 3-D, each with
// s times the columns. (unet3d_up's 32 channels become 64, one panel of the wide kernel, 6 rows x 4 vectors,
// instead of 12 x 2 vectors: in-process, alternating, 1.02-1.08x; unet_up4 and unet_up2 level.)
template <class T>
struct FoldLast {
    Problem p;
    const T* wei;
    const T* bia;
    std::vector<T> w, b;
    FoldLast(const Problem& q, const T* wei0, const T* bia0, Layout layout) : p(q), wei(wei0), bia(bia0) {
        const int r = q.rank() - 1;
        const int64_t s = q.s[static_cast<size_t>(r)];
        if (layout != Layout::channels_last || q.kind != Kind::transposed || q.g != 1 || s < 2 || q.k[r] != s ||
            q.d[r] != 1 || q.pb[r] != 0 || q.o()[r] != s * q.i[r])
            return;
        p.k[r] = 1, p.s[r] = 1, p.pe[r] = 0, p.op[r] = 0, p.oc = s * q.oc;
        const int64_t kp = detail::prod(q.k) / s, oc = q.oc;
        w.resize(static_cast<size_t>(q.wei_elems()));
        for (int64_t c0 = 0; c0 < q.ic; ++c0)
            for (int64_t j = 0; j < oc; ++j)
                for (int64_t e = 0; e < kp; ++e)
                    for (int64_t c = 0; c < s; ++c)
                        w[static_cast<size_t>((c0 * s * oc + c * oc + j) * kp + e)] =
                            wei0[((c0 * oc + j) * kp + e) * s + c];
        wei = w.data();
        if (bia0) {
            b.resize(static_cast<size_t>(s * oc));
            for (int64_t c = 0; c < s; ++c) std::copy(bia0, bia0 + oc, b.begin() + c * oc);
            bia = b.data();
        }
    }
};

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const CallContext& ctx = call_context();
    const FoldLast<T> f(p, wei, bia, ctx.layout);
    PhasePlan<T> plan(f.p, f.wei, f.bia, ctx.epilogue ? *ctx.epilogue : Epilogue{}, ctx.simd, ctx.layout,
                      std::move(storage<T>()));
    plan.run(src, dst);
    storage<T>() = plan.release();
}

template <class T>
std::unique_ptr<Prepared<T>> prepare(const Problem& p, const T* wei, const T* bia, const Epilogue& epi,
                                     const std::string& simd, Layout layout) {
    const FoldLast<T> f(p, wei, bia, layout);
    return prepare_plan<T, PhasePlan<T>>(f.p, f.wei, f.bia, epi, simd, layout);
}

template <class T>
void backward_data(const Problem& p, const T* diff_dst, const T* wei, T* diff_src) {
    const CallContext& ctx = call_context();
    PhasePlan<T> plan(p, wei, nullptr, Epilogue{}, ctx.simd, ctx.layout, std::move(storage<T>()), PhaseRole::backward_data);
    plan.run(diff_dst, diff_src);
    storage<T>() = plan.release();
}

template <class T>
void backward_weights(const Problem& p, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia) {
    const CallContext& ctx = call_context();
    phase_backward_weights(p, src, diff_dst, diff_wei, diff_bia, ctx.simd, ctx.layout);
}

}  // namespace

Algorithm phase() {
    Algorithm a;
    a.name = "phase";
    a.summary = "sub-pixel phases: one dense stride-1 GEMM per output phase (data gradient: one strided GEMM, "
                "weight gradient: one GEMM over positions), SIMD micro-kernels, threads";
    a.supports = supports;
    a.fused_epilogue = true;
    a.simd = true;
    a.channels_last = true;
    a.f32 = {forward<float>, backward_data<float>, backward_weights<float>};
    a.f64 = {forward<double>, backward_data<double>, backward_weights<double>};
    a.f32.prepare = prepare<float>;
    a.f64.prepare = prepare<double>;
    return a;
}

}  // namespace tconv::algo
