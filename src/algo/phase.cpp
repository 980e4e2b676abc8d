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

#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"

namespace tconv::algo {

namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

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

}  // namespace

// Per-thread scratch of one run: A panels, the C block, and the decoded positions.
template <class T>
struct PhasePlan<T>::Scratch {
    std::vector<T> a, c;
    std::vector<int64_t> off, mbi, oofs, alda;
    std::vector<const T*> aptr;
    std::vector<char> active;
};

template <class T>
PhasePlan<T>::PhasePlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
                        Layout layout, std::vector<T> storage)
    : p_(p), epi_(epi), last_(layout == Layout::channels_last) {
    const auto& ks = kernels::kernel_set(target);
    target_ = ks.target;
    if constexpr (sizeof(T) == 4) gemm_ = ks.f32; else gemm_ = ks.f64;
    const int rank = p.rank();
    const Dims o = p.o();
    icg_ = p.ic / p.g;
    ocg_ = p.oc / p.g;
    ocp_ = round_up(ocg_, static_cast<int64_t>(gemm_.nr));
    isz_ = detail::prod(p.i);
    osz_ = detail::prod(o);
    ksz_ = detail::prod(p.k);
    i_st_ = detail::row_major_strides(p.i);
    o_st_ = detail::row_major_strides(o);
    const Dims k_st = detail::row_major_strides(p.k);
    const int64_t mr = static_cast<int64_t>(gemm_.mr);
    mb_inner_ = p.mb >= mr && detail::prod(p.i) < 4 * mr;
    mc_ = mr * 8;
    kc_ = 256;

    // Per axis and residue r: the first output, the count, and the taps (kernel index, input base).
    struct AxisPhase {
        int64_t o0, Q;
        std::vector<std::pair<int64_t, int64_t>> taps;
    };
    std::vector<std::vector<AxisPhase>> axes(rank);
    for (int a = 0; a < rank; ++a) {
        const int64_t s = p.s[a];
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
    // Phases: the product of the per-axis residues; taps: the product of the per-axis tap lists.
    detail::for_each_index(p.s, [&](const int64_t* r) {
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
            ph.base.push_back(std::move(base));
            ph.koff.push_back(koff);
        });
        phases_.push_back(std::move(ph));
    });

    // Phases that read the same inputs (the same counts and tap bases, e.g. kernel == stride without
    // padding: one tap each, at the same place) are computed together: one A panel serves all of them.
    merged_ = phases_.size() > 1;
    for (const Phase& ph : phases_) merged_ = merged_ && ph.Q == phases_[0].Q && ph.base == phases_[0].base;

    // Weights: wei[(grp*icg + c)*ocg + oc][k] -> packed[grp][phase][ocb][tap][c][NR], zero past ocg.
    const int64_t nr = static_cast<int64_t>(gemm_.nr), nocb = ocp_ / nr;
    int64_t total = 0;
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (const Phase& ph : phases_) {
            wofs_.push_back(total);
            total += nocb * static_cast<int64_t>(ph.koff.size()) * icg_ * nr;
        }
    packed_ = std::move(storage);
    packed_.resize(static_cast<size_t>(total));  // every element is written below
    // Every kernel element belongs to at most one (phase, tap): map it once. Then, per input channel and
    // block of NR output channels, read that block of weights (NR rows of k values, contiguous) and write,
    // per kernel element, its NR values as one contiguous run (zeros past ocg).
    std::vector<int64_t> kdst(static_cast<size_t>(ksz_), -1), kstep(static_cast<size_t>(ksz_), 0);
    for (size_t phi = 0; phi < phases_.size(); ++phi) {
        const int64_t nt = static_cast<int64_t>(phases_[phi].koff.size());
        for (int64_t t = 0; t < nt; ++t) {
            kdst[phases_[phi].koff[t]] = wofs_[phi] + t * icg_ * nr;
            kstep[phases_[phi].koff[t]] = nt * icg_ * nr;  // one block of NR output channels further
        }
    }
    const int64_t gstride = phases_.empty() ? 0 : total / p.g;
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (int64_t c = 0; c < icg_; ++c)
            for (int64_t ocb = 0; ocb < nocb; ++ocb) {
                const int64_t n_here = std::min(nr, ocg_ - ocb * nr);
                const T* src = wei + ((grp * icg_ + c) * ocg_ + ocb * nr) * ksz_;
                T* base = packed_.data() + grp * gstride + c * nr;
                for (int64_t k = 0; k < ksz_; ++k) {
                    if (kdst[k] < 0) continue;
                    T* d = base + kdst[k] + ocb * kstep[k];
                    for (int64_t n = 0; n < n_here; ++n) d[n] = src[n * ksz_ + k];
                    for (int64_t n = n_here; n < nr; ++n) d[n] = T(0);
                }
            }
    bias_.assign(static_cast<size_t>(p.oc), T(0));
    if (bia) std::copy(bia, bia + p.oc, bias_.begin());
}

template <class T>
size_t PhasePlan<T>::workspace_bytes() const {
    size_t taps = 1;
    for (const Phase& ph : phases_) taps = std::max(taps, ph.koff.size());
    const size_t mc = static_cast<size_t>(mc_), nm = merged_ ? phases_.size() : 1;
    return sizeof(T) * mc * static_cast<size_t>(kc_ + ocp_ * nm) + mc * (taps + 4) * sizeof(int64_t) + mc * sizeof(T*) +
           taps;
}

template <class T>
void PhasePlan<T>::run(const T* src, T* dst) const {
    // Tasks: (group, phase, block of MC positions), in that order; merged phases count as one (the first).
    std::vector<int64_t> first;  // first task of each (group, phase)
    int64_t ntask = 0;
    for (int64_t grp = 0; grp < p_.g; ++grp)
        for (size_t phi = 0; phi < phases_.size(); ++phi) {
            first.push_back(ntask);
            if (!merged_ || phi == 0) ntask += (p_.mb * phases_[phi].positions + mc_ - 1) / mc_;
        }
    parallel::parallel_for(ntask, [&](int64_t b, int64_t e, int) {
        // Scratch lives per thread and only grows: no allocation (and no page faults) on repeated runs, and
        // the plan stays reentrant, as no two threads share it.
        thread_local Scratch ws;
        size_t taps = 0;
        for (const Phase& ph : phases_) taps = std::max(taps, ph.koff.size());
        ws.a.resize(static_cast<size_t>(mc_ * kc_));
        ws.c.resize(static_cast<size_t>(mc_ * ocp_) * (merged_ ? phases_.size() : 1));
        ws.off.resize(static_cast<size_t>(mc_) * std::max<size_t>(taps, 1));
        ws.mbi.resize(static_cast<size_t>(mc_));
        ws.oofs.resize(static_cast<size_t>(mc_));
        ws.active.resize(std::max<size_t>(taps, 1));
        ws.aptr.resize(static_cast<size_t>(mc_));
        ws.alda.resize(static_cast<size_t>(mc_));
        for (int64_t task = b; task < e; ++task) {
            int64_t gp = std::upper_bound(first.begin(), first.end(), task) - first.begin() - 1;
            if (merged_) gp -= gp % static_cast<int64_t>(phases_.size());  // the group's first phase
            const int64_t grp = gp / static_cast<int64_t>(phases_.size());
            const int64_t ph = gp % static_cast<int64_t>(phases_.size());
            block(src, dst, grp, ph, (task - first[gp]) * mc_, ws);
        }
    });
}

template <class T>
void PhasePlan<T>::block(const T* src, T* dst, int64_t grp, int64_t phi, int64_t p0, Scratch& ws) const {
    const Phase& ph = phases_[phi];
    const int rank = p_.rank();
    const int64_t mr = static_cast<int64_t>(gemm_.mr), nr = static_cast<int64_t>(gemm_.nr);
    const int64_t n = std::min(mc_, p_.mb * ph.positions - p0);
    const int64_t ntiles = (n + mr - 1) / mr;
    const int64_t nt = static_cast<int64_t>(ph.koff.size());

    // Decode the block's positions: image, output offset, and per tap the input offset (-1: outside).
    std::fill(ws.active.begin(), ws.active.end(), 0);
    Dims q(rank);
    for (int64_t j = 0; j < n; ++j) {
        const int64_t pidx = p0 + j;
        int64_t qf;
        if (mb_inner_) ws.mbi[j] = pidx % p_.mb, qf = pidx / p_.mb;
        else ws.mbi[j] = pidx / ph.positions, qf = pidx % ph.positions;
        for (int a = rank - 1; a >= 0; --a) q[a] = qf % ph.Q[a], qf /= ph.Q[a];
        int64_t oo = 0;
        for (int a = 0; a < rank; ++a) oo += (ph.o0[a] + q[a] * p_.s[a]) * o_st_[a];
        ws.oofs[j] = oo;
        for (int64_t t = 0; t < nt; ++t) {
            int64_t off = 0;
            for (int a = 0; a < rank && off >= 0; ++a) {
                const int64_t ii = q[a] + ph.base[t][a];
                off = (ii < 0 || ii >= p_.i[a]) ? -1 : off + ii * i_st_[a];
            }
            ws.off[t * mc_ + j] = off;
            ws.active[t] |= off >= 0;
        }
    }

    // The phases computed here: phi alone, or every phase when merged (C of phase phi + k at C + k*MC*ocp).
    const int64_t nph = static_cast<int64_t>(phases_.size()), ph_end = merged_ ? nph : phi + 1;
    T* C = ws.c.data();
    for (int64_t k = phi; k < ph_end; ++k)
        std::fill(C + (k - phi) * mc_ * ocp_, C + (k - phi) * mc_ * ocp_ + ntiles * mr * ocp_, T(0));
    const int64_t nocb = ocp_ / nr;
    const T* sbase = src + grp * icg_ * isz_;
    const int64_t img = p_.ic * isz_;
    const kernels::GemmFn<T> fn = last_ ? gemm_.fn_rows : gemm_.fn;
    for (int64_t t = 0; t < nt; ++t) {
        if (!ws.active[t]) continue;
        const int64_t* off = ws.off.data() + t * mc_;
        for (int64_t c0 = 0; c0 < icg_; c0 += kc_) {
            const int64_t kcn = std::min(kc_, icg_ - c0);
            // A per tile: read in place when its MR positions are consecutive inputs of one image (the
            // interior of a row), else packed with zeros for positions outside the input: channels-first
            // as [c][MR] (A(c, m) at c*lda + m), channels-last as [MR][c] (A(c, m) at m*lda + c).
            T* A = ws.a.data();
            for (int64_t tile = 0; tile < ntiles; ++tile) {
                const int64_t j0 = tile * mr;
                bool direct = j0 + mr <= n && off[j0] >= 0;
                for (int64_t m = 1; m < mr && direct; ++m)
                    direct = ws.mbi[j0 + m] == ws.mbi[j0] && off[j0 + m] == off[j0] + m;
                bool any = direct;
                for (int64_t j = j0; j < std::min(n, j0 + mr) && !any; ++j) any = off[j] >= 0;
                if (!any) {  // the tap misses every position of the tile: nothing to add
                    ws.aptr[tile] = nullptr;
                    continue;
                }
                if (last_) {
                    if (direct) {
                        ws.aptr[tile] = src + (ws.mbi[j0] * isz_ + off[j0]) * p_.ic + grp * icg_ + c0;
                        ws.alda[tile] = p_.ic;
                        continue;
                    }
                    T* At = A + tile * kcn * mr;
                    ws.aptr[tile] = At;
                    ws.alda[tile] = kcn;
                    for (int64_t m = 0; m < mr; ++m) {
                        const int64_t j = j0 + m;
                        if (j >= n || off[j] < 0) {
                            std::fill(At + m * kcn, At + (m + 1) * kcn, T(0));
                            continue;
                        }
                        const T* s = src + (ws.mbi[j] * isz_ + off[j]) * p_.ic + grp * icg_ + c0;
                        std::copy(s, s + kcn, At + m * kcn);
                    }
                    continue;
                }
                if (direct) {
                    ws.aptr[tile] = sbase + ws.mbi[j0] * img + c0 * isz_ + off[j0];
                    ws.alda[tile] = isz_;
                    continue;
                }
                T* At = A + tile * kcn * mr;
                ws.aptr[tile] = At;
                ws.alda[tile] = mr;
                for (int64_t m = 0; m < mr; ++m) {
                    const int64_t j = j0 + m;
                    if (j >= n || off[j] < 0) {
                        for (int64_t c = 0; c < kcn; ++c) At[c * mr + m] = T(0);
                        continue;
                    }
                    const T* s = sbase + ws.mbi[j] * img + c0 * isz_ + off[j];
                    for (int64_t c = 0; c < kcn; ++c) At[c * mr + m] = s[c * isz_];
                }
            }
            for (int64_t k = phi; k < ph_end; ++k) {
                const T* wbase = packed_.data() + wofs_[grp * nph + k];
                T* Ck = C + (k - phi) * mc_ * ocp_;
                for (int64_t ocb = 0; ocb < nocb; ++ocb) {
                    const T* B = wbase + ((ocb * nt + t) * icg_ + c0) * nr;
                    for (int64_t tile = 0; tile < ntiles; ++tile)
                        if (ws.aptr[tile])
                            fn(ws.aptr[tile], static_cast<size_t>(ws.alda[tile]), B, static_cast<size_t>(kcn),
                               Ck + tile * mr * ocp_ + ocb * nr, static_cast<size_t>(ocp_));
                }
            }
        }
    }
    // Bias, epilogue, and the store into dst: (mb, oc, o...) strided by channel, or (mb, o..., oc) whole rows.
    // A merged phase's outputs sit at a fixed offset from phase phi's.
    const T* bias = bias_.data() + grp * ocg_;
    for (int64_t k = phi; k < ph_end; ++k) {
        int64_t delta = 0;
        for (int a = 0; a < rank; ++a) delta += (phases_[k].o0[a] - ph.o0[a]) * o_st_[a];
        const T* Ck = C + (k - phi) * mc_ * ocp_;
        if (last_) {
            for (int64_t j = 0; j < n; ++j) {
                T* d = dst + (ws.mbi[j] * osz_ + ws.oofs[j] + delta) * p_.oc + grp * ocg_;
                const T* c = Ck + j * ocp_;
                if (epi_.kind == Epilogue::Kind::none)
                    for (int64_t oc = 0; oc < ocg_; ++oc) d[oc] = c[oc] + bias[oc];
                else
                    for (int64_t oc = 0; oc < ocg_; ++oc) d[oc] = activate(epi_, c[oc] + bias[oc]);
            }
            continue;
        }
        // Channel by channel: each pass writes along one output plane (few pages, whole lines over passes).
        T* dbase = dst + grp * ocg_ * osz_ + delta;
        const int64_t img = p_.oc * osz_;
        for (int64_t oc = 0; oc < ocg_; ++oc) {
            T* d = dbase + oc * osz_;
            const T b = bias[oc];
            if (epi_.kind == Epilogue::Kind::none)
                for (int64_t j = 0; j < n; ++j) d[ws.mbi[j] * img + ws.oofs[j]] = Ck[j * ocp_ + oc] + b;
            else
                for (int64_t j = 0; j < n; ++j) d[ws.mbi[j] * img + ws.oofs[j]] = activate(epi_, Ck[j * ocp_ + oc] + b);
        }
    }
}

template class PhasePlan<float>;
template class PhasePlan<double>;

namespace {

std::string supports(const Problem&, Direction dir) {
    if (dir != Direction::forward) return "implements the forward direction only";
    return {};
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const CallContext& ctx = call_context();
    // The one-call path packs the weights on every call, into a buffer kept per thread (no page faults).
    thread_local std::vector<T> storage;
    PhasePlan<T> plan(p, wei, bia, ctx.epilogue ? *ctx.epilogue : Epilogue{}, ctx.simd, ctx.layout, std::move(storage));
    plan.run(src, dst);
    storage = plan.release();
}

}  // namespace

Algorithm phase() {
    Algorithm a;
    a.name = "phase";
    a.summary = "sub-pixel phases: one dense stride-1 GEMM per output phase, SIMD micro-kernels, threads";
    a.supports = supports;
    a.fused_epilogue = true;
    a.simd = true;
    a.channels_last = true;
    a.f32.fwd = forward<float>;
    a.f64.fwd = forward<double>;
    a.f32.prepare = prepare_plan<float, PhasePlan<float>>;
    a.f64.prepare = prepare_plan<double, PhasePlan<double>>;
    return a;
}

}  // namespace tconv::algo
