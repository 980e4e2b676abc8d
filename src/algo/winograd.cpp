// winograd: the sub-pixel phases (phase.cpp) computed with Winograd's minimal filtering. Along each axis a phase
// (with dilation: a class of outputs reading every g-th source value) is a dense correlation of the source with
// its 1, 2 or 3 taps; a tile of m outputs reads alpha = m + r - 1 source values, and F(m, r) computes it with
// alpha products instead of m * r: y = A^T [(G h) . (B^T x)]. In 2-D the tile is alpha_h x alpha_w transformed
// values per channel, and the products over the channels are alpha_h * alpha_w independent GEMMs:
// M_xi[tile][oc] = sum_ic V_xi[tile][ic] U_xi[ic][oc], with U = G h G^T packed once per plan. In 2-D, F(2,3)
// takes 16 products for 4 outputs of 9 taps and F(3,2) 16 for 9 outputs of 4 taps (2.25x fewer
// multiplications), F(2,2) 9 for 4 of 4 (1.78x); in 1-D, F(6,2) 7 for 6 outputs of 2 taps (1.71x, F(3,2) 1.5x:
// see wide_last). Tasks (row residue, image, tile rows, a stretch of positions
// along the last axis) own their outputs: results do not depend on the thread count. See docs/algorithms.md.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include <hwy/cache_control.h>

#include "../kernels/gemm.hpp"
#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"
#include "wino_tables.hpp"
#include "tconv/error.hpp"

namespace tconv::algo {

namespace {

using wino::kAlpha;
using wino::kG;
using wino::kM;
using wino::kR;

// Below these the transforms cost more than the products they save.
constexpr int64_t kMinChannels = 32;
// The gain `auto` asks for: channels-last (and channels-first in 1-D, whose staging transposes each source value
// once) 1.3x; channels-first in 2-D 1.65x (each source row is staged again for every row residue and tile row
// that reads it, and the staged outputs are transposed into the destination); rank 3 1.5x (each depth tap
// transforms its source slice again). Measured in one process per layer (winograd against phase): channels-
// first hifigan_up1 (1.33x) 1.19x faster, hifigan_up3 (1.5x) 1.17x, hifi_k15 (1.07x) 0.89x; in 2-D style_up
// and style_odd (1.61x) 1.06x and 0.96x, dcgan_g3 (1.72x) 1.46x, g3_odd_k5 (1.81x) 1.39x.
constexpr double kMinGainLast = 1.3, kMinGainFirst2d = 1.65, kMinGain3d = 1.5;
// Groups: the transforms' share grows as the channels per group shrink (each transformed input value feeds oc/g
// products, each output transform sums ic/g). Fitted to in-process measurements (winograd against phase, 1
// thread, 16 x 16 inputs): with h the harmonic mean of ic/g and oc/g and `gain` as prefers counts it (the GEMM
// rows computed in vain included), winograd takes about (a + b/h) / gain of phase's time, [layout][a, b]
// (channels-last, channels-first). k4 s2 p1 (F(2,2), gain 1.72) with groups of 128 -> 128 channels ran 1.41x
// faster (1.36x channels-first), 128 -> 64 1.33x (1.28x), 64 -> 64 1.26x (1.20x), 32 -> 32 1.03x (0.96x), 32 ->
// 16 0.85x; k3 s1 p1 (F(2,3), gain 2.0, channels-first 2.18) with 64 -> 32 1.36-1.44x (1.38x). "auto" takes it
// for groups where the estimate is at least 1.15x (and the gain is what the layout asks).
constexpr double kGroupCost[2][2] = {{1.06, 21}, {1.09, 22.5}};
constexpr double kMinGroupSpeedup = 1.15;
constexpr double kMaxPackedBytes = 16.0 * 1024 * 1024;
constexpr double kMaxPackedBytesWide = 32.0 * 1024 * 1024;  // with F(6,2) (as phase packs dcgan_g1's 32 MiB)
constexpr int64_t kSplitBytes = 1024 * 1024;
constexpr double kChunkBytesFirst = 4.0 * 1024 * 1024;

// One residue of the stride along one axis: outputs o0 + s*q (q < Q); tap t reads source q + u + t through kernel
// index kk[t] (at most 3 taps; none: the outputs are the bias).
struct Res {
    int64_t o0 = 0, Q = 0, u = 0;
    std::vector<int64_t> kk;
    int kind = 0;
    int64_t tiles() const { return kk.empty() ? 0 : (Q + kM[kind] - 1) / kM[kind]; }
};

// The view of a problem of rank 1 to 3: axis 0 rows (extent 1 for rank 1), axis 1 the last axis, axis 2 the
// depth (extent 1 below rank 3; the tiles are 2-D, a depth tap is a segment of the GEMM: see task()).
// A residue class of the outputs along an axis takes every S-th output (S = s*g) and reads every g-th source
// value (g = d / gcd(s, d): with dilation, a phase's taps read sources g apart; dense within the class).
struct View2 {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], g[3], S[3];
};

View2 view2(const Problem& p) {
    const Dims o = p.o();
    View2 v{};
    const int rank = p.rank();
    for (int a = 0; a < 3; ++a) {
        const int pa = a == 2 ? (rank == 3 ? 0 : -1) : a + rank - 2;
        v.in[a] = pa < 0 ? 1 : p.i[pa];
        v.out[a] = pa < 0 ? 1 : o[pa];
        v.k[a] = pa < 0 ? 1 : p.k[pa];
        v.s[a] = pa < 0 ? 1 : p.s[pa];
        v.d[a] = pa < 0 ? 1 : p.d[pa];
        v.pb[a] = pa < 0 ? 0 : p.pb[pa];
        v.g[a] = v.d[a] / std::gcd(v.s[a], v.d[a]);
        v.S[a] = v.s[a] * v.g[a];
    }
    return v;
}

// The residue classes of axis a: outputs o0 + S*q; tap t reads source g*(q + t) + u. An empty list when one
// has more than 3 taps. (Along the depth only the taps count, not the kind.)
std::vector<Res> residues(const View2& v, int a, bool wide = false) {
    const int64_t in = v.in[a], out = v.out[a], k = v.k[a], s = v.s[a], d = v.d[a], pb = v.pb[a], g = v.g[a], S = v.S[a];
    std::vector<Res> r;
    for (int64_t res = 0; res < S; ++res) {
        Res x;
        x.o0 = ((res - pb) % S + S) % S;
        x.Q = x.o0 < out ? (out - x.o0 + S - 1) / S : 0;
        std::vector<std::pair<int64_t, int64_t>> taps;  // (base, kernel index)
        for (int64_t kk = 0; kk < k; ++kk) {
            const int64_t f = x.o0 + pb - kk * d;
            if (((f % s) + s) % s != 0) continue;
            const int64_t base = f / s;  // exact; output o0 + S*q reads source base + g*q
            if (base < in && base + g * (x.Q - 1) >= 0) taps.emplace_back(base, kk);
        }
        if (taps.size() > 3) return {};
        std::sort(taps.begin(), taps.end());
        if (!taps.empty()) {
            x.u = taps.front().first;
            for (const auto& t : taps) x.kk.push_back(t.second);  // bases u, u + g, u + 2g, ...
        }
        const int64_t nt = static_cast<int64_t>(x.kk.size());
        if (nt <= 1) {
            x.kind = 0;
        } else if (nt == 3) {
            x.kind = 3;
        } else {  // F(2,2), F(3,2) or F(6,2): whichever transforms fewer values (ties: the smaller tile)
            const int64_t c22 = (x.Q + 1) / 2 * 3, c32 = (x.Q + 2) / 3 * 4, c62 = (x.Q + 5) / 6 * 7;
            x.kind = c32 < c22 ? 2 : 1;
            if (wide && c62 < std::min(c22, c32)) x.kind = 4;
        }
        r.push_back(std::move(x));
    }
    return r;
}

// The packed transformed weights: per depth tap and phase alpha_h * alpha_w matrices of ic x oc.
double packed_bytes_of(const std::vector<Res>& rh, const std::vector<Res>& rw, const std::vector<Res>& rd, int64_t ic,
                       int64_t oc) {
    double xis = 0;
    for (const Res& h : rh)
        for (const Res& w : rw)
            if (!h.kk.empty() && !w.kk.empty() && h.Q > 0 && w.Q > 0) xis += kAlpha[h.kind] * kAlpha[w.kind];
    int64_t dtaps = 0;
    for (const Res& r : rd)
        if (r.Q > 0) dtaps += static_cast<int64_t>(r.kk.size());
    return xis * static_cast<double>(dtaps) * static_cast<double>(ic) * static_cast<double>(oc) * sizeof(float);
}

// F(6,2) along the last axis (1-D layers, or kernels one row high: the other axes have one tap per phase, so a
// tile is 1 x 7 values): 7 products for 12 where F(3,2) takes 8 (12.5% fewer), at the price of 7/4 the
// transformed weights, up to kMaxPackedBytesWide, and of rounding (its G holds fractions such as 1/18: results
// are no longer exact on small integers; on random data the error is 3.5-6x the direct sum's, see
// tests/python). (Measured in-process against F(3,2), 1 thread: hifigan_up3 1.08x channels-last and 1.10x
// channels-first, hifigan_up1 (28 MiB) 1.075x, hifi_k15 (24.5 MiB) 1.08x and 1.07x.)
bool wide_last(const View2& v, int64_t ic, int64_t oc) {
    const auto rh = residues(v, 0), rd = residues(v, 2);
    for (const auto* rs : {&rh, &rd})
        for (const Res& r : *rs)
            if (r.Q > 0 && r.kk.size() > 1) return false;
    return packed_bytes_of(rh, residues(v, 1, true), rd, ic, oc) <= kMaxPackedBytesWide;
}

// The GEMM's panels: two vectors wide (kernel segment 0), or one (segment 2) where groups' output channels
// pad less in it (eight groups of 16 channels: 16 columns each instead of 32 on AVX-512).
template <class T>
int seg_of(const kernels::Gemm<T>& k, int64_t g, int64_t ocg) {
    if (g == 1 || !k.seg[2].fn_rows) return 0;
    const auto pad = [&](int s) { return detail::round_up(ocg, static_cast<int64_t>(k.seg[s].nr)); };
    return pad(2) < pad(0) ? 2 : 0;
}

std::string supports(const Problem& p, Direction) {
    // (Plain concatenation: "auto" asks on every call.)
    using std::to_string;
    const int rank = p.rank();
    if (rank > 3) return "ranks 1 to 3 only (here " + to_string(rank) + ")";
    const View2 v = view2(p);
    if (residues(v, 0).empty() || residues(v, 1).empty() || residues(v, 2).empty())
        return "a phase has more than 3 taps along an axis";
    return {};
}

// The GEMM rows computed for n tiles: whole calls of MR rows, the last of 3, 6 or 9 where the kernel set has
// that shape (parts), else of MR.
int64_t gemm_rows(int64_t n, int64_t mr, bool parts) {
    const int64_t r = n % mr, rr = detail::round_up(r, int64_t(3));
    return n - r + (r == 0 ? 0 : parts && rr < mr ? rr : mr);
}

// Channels-first tasks compute every column residue of their row residue (the staged output rows are whole), so
// each would read all of that row residue's transformed weights (`bytes`, the most of any row residue): beyond 4
// MiB they take a chunk of the output channels each (whole panels of nr), so that a chunk's weights are read from
// L3 by the tasks that follow. The chunks' count; the panels of each are ceil(nnb / count). (hifigan_up1's 16 MiB
// in every task: 0.81-0.99x the best peer in tconv_peers, where other contenders run in between; in four chunks
// 1.12-1.15x.)
int64_t first_chunks(double bytes, int64_t nnb) {
    return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(bytes / kChunkBytesFirst)), 1, nnb);
}

// How a plan cuts the work: tasks of nthr tile rows x qchunk positions along the last axis, scratch for xt
// transformed tiles (the most over the phases of xi times its tiles rounded up to MR); fill = real tiles / tiles
// computed (the GEMM's MR rows).
struct Chunks {
    int64_t nthr = 1, qchunk = 1, xt = 0;  // xt: the most xi x GEMM rows (tiles rounded up to MR) of a phase
    int64_t sin = 0, sout = 0;  // channels-first staging (elements): source rows x columns x icp (per depth tap), output rows
    double fill = 1;
};

// The largest tasks whose scratch per thread (transformed values V of each of up to nd depth taps and products M
// of one phase's tiles, plus the channels-first staging of source and output rows) stays within max(448 KiB, 12%
// of the output): halving the tile rows first, then the stretch along the last axis (a multiple of 6: whole tiles
// of every kind).
Chunks plan_chunks(const View2& v, const std::vector<Res>& rh, const std::vector<Res>& rw, int64_t mb, int64_t ic,
                   int64_t oc, int64_t tsz, bool cf, int64_t nr, int64_t mr, bool parts, int64_t nd, int64_t cw) {
    // (cw: the columns of a task's products and staged rows, np or a chunk of the output channels)
    const int64_t icp = detail::round_up(ic, 16), np = detail::round_up(oc, nr);
    int64_t xmax = 1, amax = 1, mmin = 3, qmax = 0, umin = v.in[1], umax = 0, hmax = 1, thn = 1;
    for (const Res& x : rw) {
        qmax = std::max(qmax, x.Q);
        if (x.kk.empty() || x.Q == 0) continue;
        amax = std::max<int64_t>(amax, kAlpha[x.kind]);
        mmin = std::min<int64_t>(mmin, kM[x.kind]);
        umin = std::min(umin, x.u), umax = std::max(umax, x.u);
        for (const Res& h : rh)
            if (!h.kk.empty() && h.Q > 0) xmax = std::max<int64_t>(xmax, kAlpha[h.kind] * kAlpha[x.kind]);
    }
    for (const Res& h : rh) hmax = std::max<int64_t>(hmax, kM[h.kind]), thn = std::max(thn, (h.Q + kM[h.kind] - 1) / kM[h.kind]);
    const double out_bytes = static_cast<double>(mb * oc * v.out[0] * v.out[1] * v.out[2] * tsz);
    const double budget = std::max(448.0 * 1024, 0.12 * out_bytes);
    auto ntw = [&](const Res& x, int64_t qc) { return std::min(x.tiles(), (qc + kM[x.kind] - 1) / kM[x.kind]); };
    auto measure = [&](int64_t nthr, int64_t qc) {
        // (per phase: V and M hold xi blocks of its tiles rounded up to MR, each a line longer)
        int64_t xt = 1;
        for (const Res& h : rh)
            for (const Res& x : rw)
                if (!h.kk.empty() && h.Q > 0 && !x.kk.empty() && x.Q > 0)
                    xt = std::max<int64_t>(xt,
                                           kAlpha[h.kind] * kAlpha[x.kind] * detail::round_up(nthr * ntw(x, qc), mr));
        int64_t bytes = (xt * (icp * nd + cw) + xmax * (16 * nd + 16) + np) * tsz, sin = 0, sout = 0;
        if (cf) {
            // (a task's source rows and columns: g apart within a tile, the span between staged whole)
            int64_t rows_in = 1;
            for (const Res& h : rh) rows_in = std::max<int64_t>(rows_in, v.g[0] * ((nthr - 1) * kM[h.kind] + kAlpha[h.kind] - 1) + 1);
            const int64_t cols_in = std::min(v.in[1], v.g[1] * (qc + amax) + std::max<int64_t>(umax - umin, 0) + 3);
            const int64_t ow = std::min(v.out[1], v.S[1] * qc);
            sin = rows_in * cols_in * icp;
            sout = nthr * hmax * ow * cw;
            bytes += (sin * nd + sout + cw * 16) * tsz;
        }
        return std::array<int64_t, 4>{xt, bytes, sin, sout};
    };
    Chunks c;
    c.nthr = thn;
    c.qchunk = std::max<int64_t>(qmax, 1);
    for (;;) {
        const auto [xt, bytes, sin, sout] = measure(c.nthr, c.qchunk);
        c.xt = xt, c.sin = sin, c.sout = sout;
        if (static_cast<double>(bytes) <= budget) break;
        if (c.nthr > 1) {
            c.nthr = (c.nthr + 1) / 2;
        } else if (c.qchunk > 6) {  // one stretch more, all of about one length (a multiple of 6)
            const int64_t nq = (qmax + c.qchunk - 1) / c.qchunk + 1;
            c.qchunk = std::max<int64_t>(6, std::min(detail::round_up((qmax + nq - 1) / nq, 6), (c.qchunk - 1) / 6 * 6));
        } else {
            break;
        }
    }
    // The share of real tiles among those the GEMM computes (per task and phase: rounded up to MR).
    auto fill = [&](int64_t nthr, int64_t qc) {
        double real = 0, done = 0;
        for (const Res& h : rh) {
            if (h.kk.empty() || h.Q == 0) continue;
            const int64_t rows = (h.Q + kM[h.kind] - 1) / kM[h.kind];
            for (const Res& x : rw) {
                if (x.kk.empty() || x.Q == 0) continue;
                real += static_cast<double>(rows * x.tiles());
                for (int64_t t0 = 0; t0 < rows; t0 += nthr)
                    for (int64_t q0 = 0; q0 < x.Q; q0 += qc) {
                        const int64_t m = kM[x.kind], q1 = std::min(x.Q, q0 + qc);
                        done += static_cast<double>(gemm_rows(std::min(rows - t0, nthr) * ((q1 + m - 1) / m - q0 / m), mr, parts));
                    }
            }
        }
        return done > 0 ? real / done : 1;
    };
    c.fill = fill(c.nthr, c.qchunk);
    // A shorter stretch (down to half, a multiple of 6: within the budget) where it computes fewer rows in vain
    // (channels-first hifigan_up1: 48 positions, 16 tiles of F(3,2) in 18 GEMM rows, 122 GFLOP/s; 36, 12 tiles
    // in 12 rows, 134; in-process).
    const int64_t q_budget = c.qchunk;
    if (q_budget > 6 && q_budget < qmax)
        for (int64_t qc = q_budget / 6 * 6; qc >= std::max<int64_t>(6, q_budget / 2); qc -= 6) {
            const double f = fill(c.nthr, qc);
            if (f > c.fill + 0.02) {
                const auto [xt, bytes, sin, sout] = measure(c.nthr, qc);
                c.qchunk = qc, c.fill = f, c.xt = xt, c.sin = sin, c.sout = sout;
            }
        }
    return c;
}

// "auto" takes it where it computes clearly fewer products than the direct phases: 1.3x to 1.65x by layout and
// rank (kMinGainLast above; the GEMM rows computed past the tiles counted), channels enough that the transforms
// cost little (32 in and out), and at most 16 MiB of transformed weights (32 with F(6,2); for the one-call
// function: fewer, see below).
std::string prefers(const Problem& p, Direction) {
    using std::to_string;
    if (p.ic / p.g < kMinChannels || p.oc / p.g < kMinChannels)
        return "needs ic/g and oc/g >= " + to_string(kMinChannels) + " (here " + to_string(p.ic / p.g) + " and " +
               to_string(p.oc / p.g) + ")";
    const View2 v = view2(p);
    const auto rh = residues(v, 0);
    const int64_t ocg = p.oc / p.g;
    const bool wide = wide_last(v, p.ic, ocg);
    const auto rw = residues(v, 1, wide);
    double direct = 0, wino = 0, xis = 0;
    for (const Res& h : rh)
        for (const Res& w : rw) {
            direct += static_cast<double>(h.Q * w.Q) * static_cast<double>(h.kk.size() * w.kk.size());
            wino += static_cast<double>(h.tiles() * w.tiles()) * kAlpha[h.kind] * kAlpha[w.kind];
            if (!h.kk.empty() && !w.kk.empty() && h.Q > 0 && w.Q > 0) xis += kAlpha[h.kind] * kAlpha[w.kind];
        }
    // (Along the depth a tap is a segment of the same GEMM: the gain is the 2-D one, each tap has its weights.)
    int64_t dtaps = 0, nd = 1;
    for (const Res& r : residues(v, 2))
        if (r.Q > 0) dtaps += static_cast<int64_t>(r.kk.size()), nd = std::max<int64_t>(nd, static_cast<int64_t>(r.kk.size()));
    const double packed =
        xis * static_cast<double>(dtaps) * static_cast<double>(p.ic) * static_cast<double>(ocg) * sizeof(float);
    if (packed > (wide ? kMaxPackedBytesWide : kMaxPackedBytes))
        return detail::cat("transformed weights of ", packed / 1048576, " MiB > ", wide ? 32 : 16, " MiB");
    const auto& k = kernels::kernel_set().f32;
    const bool cf = call_context().data != Layout::channels_last;
    // Channels-first: chunks of the output channels where a row residue's transformed weights are large (groups:
    // a group per chunk, its source channels alone).
    const int sk = seg_of(k, p.g, ocg);
    const int64_t nr = static_cast<int64_t>(k.seg[sk].nr), nnbg = detail::round_up(ocg, nr) / nr, nnb = p.g * nnbg;
    int64_t cw = nnb * nr;
    if (cf) {
        double most = 0;
        for (const Res& h : rh) {
            double row = 0;
            for (const Res& w : rw)
                if (!h.kk.empty() && !w.kk.empty() && h.Q > 0 && w.Q > 0) row += kAlpha[h.kind] * kAlpha[w.kind];
            most = std::max(most, row);
        }
        if (p.g == 1) {
            const int64_t ncc = first_chunks(most * static_cast<double>(nd) * static_cast<double>(p.ic) *
                                                 static_cast<double>(cw) * sizeof(float), nnb);
            cw = (nnb + ncc - 1) / ncc * nr;
        } else {
            cw = nnbg * nr;
        }
    }
    const Chunks c = plan_chunks(v, rh, rw, p.mb, cf ? p.ic / p.g : p.ic, p.oc, 4, cf, nr, static_cast<int64_t>(k.mr),
                                 sk == 0 && k.seg[0].fn_rows_part[0] != nullptr, nd, cw);
    const double gain = wino > 0 ? direct * c.fill / wino : 0;
    const double need = p.rank() == 3 ? kMinGain3d : cf && p.rank() == 2 ? kMinGainFirst2d : kMinGainLast;
    if (gain < need)
        return detail::cat("saves too few multiplications (", gain, "x < ", need, "x, ", p.rank(), "-D ",
                           cf ? "channels-first" : "channels-last", ")");
    if (p.g > 1) {  // (see kGroupCost)
        const double icg = static_cast<double>(p.ic / p.g), h = 2 / (1 / icg + 1 / static_cast<double>(ocg));
        const double* const ab = kGroupCost[cf ? 1 : 0];
        const double est = gain / (ab[0] + ab[1] / h);
        if (est < kMinGroupSpeedup)
            return detail::cat("groups of ", p.ic / p.g, " -> ", ocg, " channels: the transforms cost about what the ",
                               "products save (about ", est, "x, < ", kMinGroupSpeedup, "x)");
    }
    // The one-call function without Options::reuse_weights packs the transformed weights on every call (with
    // their transforms, about 6 GB/s of
    // them, taken for every kind: 1-D F(6,2) measured 10-12 GB/s since the rows are combined in registers, 2-D
    // with up to 9 terms a row about 4, the plan's set-up included): where that costs more than the time the
    // products saved take (at about 50 GMAC/s; channels-first in 2-D and 3-D, whose staging costs about a fifth
    // more, 1.2x the products counted), it is left to phase.
    // (Measured, one-call against one-call in one process, F(6,2), at ab30aa9: hifigan_up1's 28 MiB, 16.3 ms with
    // phase against 14.7 with winograd channels-last, 16.7 and 14.5 channels-first; hifi_k15's 24 MiB, 17.0 and
    // 14.3 channels-last, 17.0 and 15.3 channels-first.)
    if (call_context().one_call) {
        const double macs = static_cast<double>(p.mb) * static_cast<double>(p.ic) * static_cast<double>(p.oc) *
                            static_cast<double>(detail::prod(p.i)) * static_cast<double>(detail::prod(p.k));
        const double saved = macs / 50e9 * (1 - (cf && p.rank() > 1 ? 1.2 : 1.0) / gain), pack = packed / 6e9;
        if (saved < pack)
            return detail::cat("one call: packing ", packed / 1048576, " MiB of transformed weights costs about as much ",
                               "as the products it saves");
    }
    return {};
}

template <class T>
class WinoPlan {
public:
    // `storage` is reused for the packed weights when large enough (the one-call path keeps one per thread).
    WinoPlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target, Layout layout,
             detail::HugeVector<T> storage = {});
    detail::HugeVector<T> release() { return std::move(u_); }
    void run(const T* src, T* dst) const;
    size_t packed_bytes() const { return static_cast<size_t>(utotal_) * sizeof(T); }
    size_t workspace_bytes() const;
    const std::string& target() const { return target_; }

private:
    struct Phase {
        int rd, rh, rw;    // residue indices (depth, rows, last axis)
        int kh, kw;        // kinds
        int64_t xi = 0;    // alpha_h * alpha_w
        int64_t uofs = 0;  // its packed weights in u_: [depth tap][xi][nb][ic][NR]
        int64_t usz = 0;   // the weights of one depth tap
        bool empty = true;
    };
    struct Task {
        int rd, rh;
        int64_t n, qd, th0, th1, q0, q1;  // qd: the output slice qd of depth residue rd
        size_t b0, b1;                    // the column residues it computes
        int64_t cc = 0;                   // its chunk of the output channels (channels-first; else 0, all)
    };
    const Phase& phase(const Task& t, size_t b) const {
        return ph_[(static_cast<size_t>(t.rd) * rh_.size() + static_cast<size_t>(t.rh)) * rw_.size() + b];
    }
    // The depth taps of task t whose source slice exists: tap index and slice, at most 3.
    int depth_taps(const Task& t, int64_t (&tap)[3], int64_t (&slice)[3]) const;
    struct Scratch {
        std::vector<T> v, m, sin, sout, tmp;
        std::vector<const T*> px;
        std::vector<T*> out, outg;
    };
    // The source a task reads: rows [ih0, ih1) (not clamped: tiles at the border read zeros) and columns
    // [iw0, iw1) (clamped).
    struct Box {
        int64_t ih0, ih1, iw0, iw1;
    };
    Box box(const Task& t) const;
    void task(const T* src, T* dst, const Task& t, const Task* next, Scratch& ws) const;

    std::string target_;
    kernels::Gemm<T> gemm_;
    Epilogue epi_;
    bool last_ = false, stream_ = false;
    View2 v_{};
    int64_t mb_ = 0, ic_ = 0, oc_ = 0, icp_ = 0, np_ = 0, nr_ = 0, mr_ = 0, xmax_ = 0, utotal_ = 0;
    // Groups: grp_ of icg_ -> ocg_ channels, each its own nnbg_ panels of nr_ columns (npg_ = nnbg_ * nr_; np_ =
    // grp_ * npg_); sk_: the kernel segment (seg_of).
    int64_t grp_ = 1, icg_ = 0, ocg_ = 0, npg_ = 0, nnbg_ = 0, cig_ = 0;
    int sk_ = 0;
    std::vector<Res> rh_, rw_, rd_;
    std::vector<Phase> ph_;  // [rd][rh][rw]
    int64_t nd_ = 1;         // the most depth taps of a residue
    std::vector<Task> tasks_;
    std::vector<double> tcost_;
    // Channels-first with chunks of the output channels: the chunks' first tasks and each chunk's cost prefix
    // (run() splits one chunk at a time over the threads, so they read the same weights from L3).
    std::vector<size_t> cbeg_;
    std::vector<std::vector<double>> ccost_;
    detail::HugeVector<T> u_;
    std::vector<T> bias_, zeros_;
    int64_t xt_ = 0, sin_ = 0, sout_ = 0, tmp_ = 0;  // scratch sizes (xt_: Chunks::xt)
    int64_t cw_ = 0, nbc_ = 0;  // columns of a task's products and staged rows; NR panels per channel chunk
};

template <class T>
WinoPlan<T>::WinoPlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
                      Layout layout, detail::HugeVector<T> storage)
    : epi_(epi), last_(layout == Layout::channels_last), v_(view2(p)), mb_(p.mb), ic_(p.ic), oc_(p.oc) {
    if (const std::string why = supports(p, Direction::forward); !why.empty())
        throw Error(detail::cat("algorithm 'winograd' refuses ", p.str(), ": ", why));
    const auto& ks = kernels::kernel_set(target);
    target_ = ks.target;
    if constexpr (sizeof(T) == 4) gemm_ = ks.f32; else gemm_ = ks.f64;
    grp_ = p.g, icg_ = ic_ / grp_, ocg_ = oc_ / grp_;
    sk_ = seg_of(gemm_, grp_, ocg_);
    nr_ = static_cast<int64_t>(gemm_.seg[sk_].nr);
    mr_ = static_cast<int64_t>(gemm_.mr);
    // Channels-first with groups: a chunk of the output channels per group, whose tasks transform and stage only
    // its group's source channels (cig_ of them; else all). Its tasks' scratch holds one group's columns: more
    // tiles per task.
    cig_ = grp_ > 1 && !last_ ? icg_ : ic_;
    icp_ = detail::round_up(cig_, 16);
    npg_ = detail::round_up(ocg_, nr_);
    nnbg_ = npg_ / nr_;
    np_ = grp_ * npg_;
    rh_ = residues(v_, 0);
    rw_ = residues(v_, 1, wide_last(v_, ic_, ocg_));
    rd_ = residues(v_, 2);
    for (const Res& r : rd_) nd_ = std::max<int64_t>(nd_, static_cast<int64_t>(r.kk.size()));
    bias_.assign(static_cast<size_t>(np_ + 16), T(0));
    if (bia) std::copy(bia, bia + oc_, bias_.begin());
    zeros_.assign(static_cast<size_t>(icp_), T(0));

    // Phases and their packed weights U_xi[ic][oc] = (G_h h G_w^T)[xi] per depth tap, [td][xi][nb][icg][NR], zeros
    // past oc (groups: panel nb of group nb / nnbg_, its own icg_ channels; zeros past each group's ocg_).
    const int64_t nnb = np_ / nr_, ksz = v_.k[0] * v_.k[1] * v_.k[2];
    int64_t total = 0;
    for (size_t e = 0; e < rd_.size(); ++e)
        for (size_t a = 0; a < rh_.size(); ++a)
            for (size_t b = 0; b < rw_.size(); ++b) {
                Phase f;
                f.rd = static_cast<int>(e);
                f.rh = static_cast<int>(a);
                f.rw = static_cast<int>(b);
                f.kh = rh_[a].kind;
                f.kw = rw_[b].kind;
                f.empty = rd_[e].kk.empty() || rh_[a].kk.empty() || rw_[b].kk.empty() || rd_[e].Q == 0 || rh_[a].Q == 0 ||
                          rw_[b].Q == 0;
                f.xi = kAlpha[f.kh] * kAlpha[f.kw];
                f.uofs = total;
                f.usz = f.xi * nnb * icg_ * nr_;
                if (!f.empty) total += f.usz * static_cast<int64_t>(rd_[e].kk.size()), xmax_ = std::max(xmax_, f.xi);
                ph_.push_back(f);
            }
    // (Every element is written below: the one-call path reuses its buffer, so nothing is zeroed or faulted in.)
    utotal_ = total;
    u_ = std::move(storage);
    if (u_.size() < static_cast<size_t>(total)) u_.resize(static_cast<size_t>(total));
    // Per source channel c: its weights transposed, wt[k][n] (zeros past oc), then every transformed row
    // (phase, depth tap, xi) of U[c] = G_h h G_w^T as one combination of wt's rows (coefficient G_h[i][l] *
    // G_w[j][m] for kernel element (l, m)), computed a vector of output channels at a time in registers and
    // stored straight to its panels: U_xi[c][nb*NR ...] at uofs + td*usz + ((xi*nnb + nb)*icg + c)*NR (groups: c
    // the channel within its group, nb from the group's first panel).
    // (Before: the rows of G_h h, then staged blocks copied to the panels, all through L2: hifigan_up1's plan took 9.0
    // ms to create, now 6.0; its one-call 4.3 ms more than the plan's run, now 3.0: the streamed 28 MiB bound it.)
    std::vector<int64_t> widx, dofs;
    std::vector<T> coef;
    std::vector<uint32_t> start;
    const int64_t ldw = std::max(npg_, detail::round_up(ocg_, 16));  // (the transpose writes zeros to a multiple of 16)
    for (const Phase& f : ph_) {
        if (f.empty) continue;
        const Res& dr = rd_[static_cast<size_t>(f.rd)];
        const Res& h = rh_[static_cast<size_t>(f.rh)];
        const Res& x = rw_[static_cast<size_t>(f.rw)];
        const int ah = kAlpha[f.kh], aw = kAlpha[f.kw], th = kR[f.kh], tw = kR[f.kw];
        for (size_t td = 0; td < dr.kk.size(); ++td)  // (depth tap td: kernel slice kk[td])
            for (int i = 0; i < ah; ++i)
                for (int j = 0; j < aw; ++j) {
                    start.push_back(static_cast<uint32_t>(coef.size()));
                    dofs.push_back(f.uofs + static_cast<int64_t>(td) * f.usz + (i * aw + j) * nnb * icg_ * nr_);
                    for (int l = 0; l < th; ++l)
                        for (int m = 0; m < tw; ++m) {
                            const double g = kG[f.kh][i][l] * kG[f.kw][j][m];
                            if (g == 0) continue;
                            const int64_t kk = (dr.kk[td] * v_.k[0] + h.kk[static_cast<size_t>(l)]) * v_.k[1] +
                                               x.kk[static_cast<size_t>(m)];
                            widx.push_back(kk * ldw);
                            coef.push_back(static_cast<T>(g));
                        }
                }
    }
    start.push_back(static_cast<uint32_t>(coef.size()));
    // (Transformed weights far larger than the caches are streamed: the one-call path packs them on every call.)
    const bool stream = static_cast<double>(total) * sizeof(T) >= detail::kStreamBytes;
    parallel::parallel_for(ic_, [&](int64_t c0, int64_t c1, int) {
        std::vector<T> wt(static_cast<size_t>(ksz * ldw), T(0));
        for (int64_t c = c0; c < c1; ++c) {
            gemm_.transpose(wei + c * ocg_ * ksz, static_cast<size_t>(ksz), static_cast<size_t>(ocg_),
                            static_cast<size_t>(ksz), wt.data(), static_cast<size_t>(ldw));
            gemm_.combine(wt.data(), widx.data(), coef.data(), start.data(), dofs.size(), static_cast<size_t>(npg_),
                          u_.data() + ((c / icg_) * nnbg_ * icg_ + c % icg_) * nr_, dofs.data(),
                          static_cast<size_t>(nr_), static_cast<size_t>(icg_ * nr_), stream);
        }
        if (stream) hwy::FlushStream();
    });

    // A task: a residue of the rows, an image, an output slice along the depth, tile rows [th0, th1) and positions
    // [q0, q1) along the last axis (plan_chunks: the scratch of a task within the budget).
    // The most transformed weights of one row residue (every column residue and depth tap).
    int64_t most = 0;
    for (size_t e = 0; e < rd_.size(); ++e)
        for (size_t a = 0; a < rh_.size(); ++a) {
            int64_t bytes = 0;
            for (size_t b = 0; b < rw_.size(); ++b) {
                const Phase& f = ph_[(e * rh_.size() + a) * rw_.size() + b];
                if (!f.empty) bytes += f.usz * static_cast<int64_t>(rd_[e].kk.size() * sizeof(T));
            }
            most = std::max(most, bytes);
        }
    // Channels-first: the output channels in chunks of nbc_ panels where those weights are large (first_chunks;
    // groups: a group per chunk, above); channels-last: all of them.
    const int64_t ncc = last_ ? 1 : grp_ > 1 ? grp_ : first_chunks(static_cast<double>(most), nnb);
    nbc_ = (nnb + ncc - 1) / ncc;
    cw_ = nbc_ * nr_;
    const int64_t nchunks = (nnb + nbc_ - 1) / nbc_;
    const Chunks ch = plan_chunks(v_, rh_, rw_, mb_, cig_, oc_, sizeof(T), !last_, nr_, mr_,
                                  sk_ == 0 && gemm_.seg[0].fn_rows_part[0] != nullptr, nd_, cw_);
    const int64_t nthr = ch.nthr, qchunk = ch.qchunk;
    xt_ = ch.xt;
    int64_t qmax = 0;
    for (const Res& x : rw_) qmax = std::max(qmax, x.Q);
    // Channels-last, where a row residue's transformed weights are larger than a core's L2: a task per column
    // residue, the residues outermost, so that the next tasks reuse its weights from L3 (all of them in every
    // task, hifigan_up1's 16 MiB came from memory each time). Channels-first tasks share their staged rows.
    const size_t group = last_ && most > kSplitBytes ? 1 : rw_.size();
    // (Channel chunks outermost: the tasks that follow read the chunk's weights from L3.)
    for (int64_t cc = 0; cc < nchunks; ++cc)
        for (size_t e = 0; e < rd_.size(); ++e)
            for (size_t a = 0; a < rh_.size(); ++a) {
                const Res& h = rh_[a];
                if (h.Q == 0 || rd_[e].Q == 0) continue;
                const int64_t mh = kM[h.kind], thn = (h.Q + mh - 1) / mh;
                for (size_t b0 = 0; b0 < rw_.size(); b0 += group)
                    for (int64_t n = 0; n < mb_; ++n)
                        for (int64_t qd = 0; qd < rd_[e].Q; ++qd)
                            for (int64_t t0 = 0; t0 < thn; t0 += nthr)
                                for (int64_t q0 = 0; q0 < qmax; q0 += qchunk)
                                    tasks_.push_back({static_cast<int>(e), static_cast<int>(a), n, qd, t0, std::min(thn, t0 + nthr),
                                                      q0, std::min(qmax, q0 + qchunk), b0, std::min(rw_.size(), b0 + group), cc});
            }
    // A task's cost: its products, alpha_h * alpha_w per tile (of m_h tile rows x m_w positions) and depth tap.
    tcost_.assign(1, 0.0);
    for (const Task& t : tasks_) {
        double c = 0;
        int64_t tap[3], slice[3];
        const int nt = depth_taps(t, tap, slice);
        for (size_t b = t.b0; b < t.b1; ++b) {
            const Phase& f = phase(t, b);
            c += static_cast<double>((t.th1 - t.th0) * std::max<int64_t>(1, std::min(t.q1, rw_[b].Q) - t.q0)) *
                 (f.empty || nt == 0 ? 0.05 : static_cast<double>(f.xi * nt) / kM[f.kw]);
        }
        const int64_t nb0 = t.cc * nbc_, nb1 = std::min(nnb, nb0 + nbc_);  // (its share of the output channels)
        c *= static_cast<double>(nb1 - nb0) / static_cast<double>(nnb);
        tcost_.push_back(tcost_.back() + c);
    }
    // (hifigan_up1 at 2 threads 5-7% faster than with each thread on its own chunks, in-process; hifi_k15 level.)
    if (nchunks > 1) {
        for (size_t i = 0; i < tasks_.size(); ++i)
            if (i == 0 || tasks_[i].cc != tasks_[i - 1].cc) cbeg_.push_back(i);
        cbeg_.push_back(tasks_.size());
        for (size_t c = 0; c + 1 < cbeg_.size(); ++c) {
            std::vector<double> pc;
            for (size_t i = cbeg_[c]; i <= cbeg_[c + 1]; ++i) pc.push_back(tcost_[i] - tcost_[cbeg_[c]]);
            ccost_.push_back(std::move(pc));
        }
    }
    // Outputs far larger than the caches are streamed (no read of the destination lines): channels-last, the
    // whole aligned vectors of the tiles wholly inside; channels-first, the transposes of the staged rows.
    // (Measured: hifigan_up3's 3.2 MiB output channels-last, winograd 0.9x phase before, 1.15x after.)
    stream_ = static_cast<double>(mb_ * oc_ * v_.out[0] * v_.out[1] * v_.out[2]) * sizeof(T) >= detail::kStreamOutBytes;
    // Channels-first staging: the task's source rows and columns, and its output rows.
    if (!last_) {
        sin_ = ch.sin;
        sout_ = ch.sout;
        tmp_ = cw_ * 16;
    }
}

template <class T>
size_t WinoPlan<T>::workspace_bytes() const {
    return static_cast<size_t>(xt_ * (icp_ * nd_ + cw_) + xmax_ * (16 * nd_ + 16) + sin_ * nd_ + sout_ + tmp_ + np_) *
           sizeof(T);
}

template <class T>
void WinoPlan<T>::run(const T* src, T* dst) const {
    auto body = [&](int64_t b, int64_t e) {
        thread_local Scratch ws;  // per thread, only grows: the plan stays reentrant
        ws.v.resize(static_cast<size_t>((xt_ * icp_ + xmax_ * 16) * nd_));
        ws.m.resize(static_cast<size_t>(xt_ * cw_ + xmax_ * 16 + np_));
        ws.sin.resize(static_cast<size_t>(sin_ * nd_));
        ws.sout.resize(static_cast<size_t>(sout_ + np_));
        ws.tmp.resize(static_cast<size_t>(tmp_));
        ws.px.resize(16);
        ws.out.resize(9);
        ws.outg.resize(9);
        for (int64_t t = b; t < e; ++t)
            task(src, dst, tasks_[static_cast<size_t>(t)], t + 1 < e ? &tasks_[static_cast<size_t>(t + 1)] : nullptr, ws);
        if (stream_) hwy::FlushStream();
    };
    if (ccost_.empty()) {
        parallel::parallel_for(tcost_, [&](int64_t b, int64_t e, int) { body(b, e); });
        return;
    }
    for (size_t c = 0; c < ccost_.size(); ++c) {
        const auto t0 = static_cast<int64_t>(cbeg_[c]);
        parallel::parallel_for(ccost_[c], [&](int64_t b, int64_t e, int) { body(t0 + b, t0 + e); });
    }
}

template <class T>
typename WinoPlan<T>::Box WinoPlan<T>::box(const Task& tk) const {
    // (Tile (th, tw) of a class reads rows gh*(th*mh + i) + u_h, columns gw*(tw*mw + j) + u_w.)
    const Res& h = rh_[static_cast<size_t>(tk.rh)];
    const int64_t mh = kM[h.kind], ah = kAlpha[h.kind], gh = v_.g[0], gw = v_.g[1];
    Box b{gh * tk.th0 * mh + h.u, gh * ((tk.th1 - 1) * mh + ah - 1) + h.u + 1, v_.in[1], 0};
    for (size_t c = tk.b0; c < tk.b1; ++c) {
        const Res& x = rw_[c];
        if (x.kk.empty() || tk.q0 >= x.Q) continue;
        const int64_t m = kM[x.kind], q1 = std::min(tk.q1, x.Q);
        b.iw0 = std::min(b.iw0, gw * tk.q0 + x.u);
        b.iw1 = std::max(b.iw1, gw * ((q1 + m - 1) / m * m - m + kAlpha[x.kind] - 1) + x.u + 1);
    }
    b.iw0 = std::max<int64_t>(b.iw0, 0);
    b.iw1 = std::min(b.iw1, v_.in[1]);
    return b;
}

// Software prefetch of the next task's source, a few lines after each of this task's GEMM calls: its input
// transforms then read the caches, not memory. Segments: no x ni runs of len bytes (so, si bytes apart).
// (Measured against none in one process: channels-last style_up, hifigan_up3, sr_dilated 5-6% faster, srgan 3%,
// dcgan_g3 2%; channels-first level.)
struct Ahead {
    const char* base = nullptr;
    int64_t no = 0, so = 0, ni = 0, si = 0, len = 0, per = 0;
    int64_t o = 0, i = 0, off = 0;
    void step() {
        for (int64_t l = 0; l < per && o < no; ++l) {
            __builtin_prefetch(base + o * so + i * si + std::min(off, len - 1), 0, 3);
            off += 64;
            if (off >= len + 63) {
                off = 0;
                if (++i == ni) i = 0, ++o;
            }
        }
    }
};

template <class T>
int WinoPlan<T>::depth_taps(const Task& t, int64_t (&tap)[3], int64_t (&slice)[3]) const {
    // (Tap td of a depth residue reads source slice g*(qd + td) + u.)
    const Res& dr = rd_[static_cast<size_t>(t.rd)];
    int n = 0;
    for (size_t td = 0; td < dr.kk.size(); ++td) {
        const int64_t id = v_.g[2] * (t.qd + static_cast<int64_t>(td)) + dr.u;
        if (id < 0 || id >= v_.in[2]) continue;
        tap[n] = static_cast<int64_t>(td), slice[n] = id, ++n;
    }
    return n;
}

template <class T>
void WinoPlan<T>::task(const T* src, T* dst, const Task& tk, const Task* next, Scratch& ws) const {
    const Res& h = rh_[static_cast<size_t>(tk.rh)];
    const int64_t Hin = v_.in[0], Win = v_.in[1], Hout = v_.out[0], Wout = v_.out[1], Din = v_.in[2], Dout = v_.out[2];
    const int64_t mh = kM[h.kind], ah = kAlpha[h.kind], sh = v_.S[0], sw = v_.S[1], gh = v_.g[0], gw = v_.g[1];
    const int64_t nrows = (tk.th1 - tk.th0) * mh;  // output rows of the residue (some past Q)
    const int64_t ow0 = sw * tk.q0, ow1 = std::min(Wout, sw * tk.q1), sow = ow1 - ow0;
    const int64_t od = rd_[static_cast<size_t>(tk.rd)].o0 + v_.S[2] * tk.qd;  // the output slice
    // The depth taps that read a source slice: segments of each GEMM call (none: the outputs are the bias).
    int64_t tap[3], slice[3];
    const int nseg = depth_taps(tk, tap, slice);
    // Channels-first: the task's source rows and columns of each tap's slice, channels-last in scratch.
    const Box bx = box(tk);
    const int64_t ih0 = bx.ih0, ih1 = bx.ih1, iw0 = bx.iw0;
    const int64_t swid = std::max<int64_t>(bx.iw1 - bx.iw0, 0);
    const int64_t plane = Hin * Win, volume = Din * plane;
    // The output channels computed: panels [nb0, nb1), channels [ch0, ch1) (all of them but channels-first chunks);
    // the products and staged rows hold cw_ columns per tile or position.
    const int64_t nnb = np_ / nr_, nb0 = tk.cc * nbc_, nb1 = std::min(nnb, nb0 + nbc_);
    const int64_t ch0 = grp_ > 1 ? nb0 / nnbg_ * ocg_ : nb0 * nr_;
    const int64_t ch1 = grp_ > 1 ? nb1 / nnbg_ * ocg_ : std::min(oc_, nb1 * nr_);
    const int64_t nch = ch1 - ch0;
    const T* const bias = bias_.data() + ch0;
    // The source channels transformed: [ci0, ci0 + cig_) (channels-first groups: the chunk's group; else all).
    const int64_t ci0 = cig_ < ic_ ? nb0 / nnbg_ * icg_ : 0;
    Ahead ahead;
    int64_t ntap[3], nslice[3];
    if (next && !rh_[static_cast<size_t>(next->rh)].kk.empty() && depth_taps(*next, ntap, nslice) > 0) {
        const Box nb = box(*next);
        const int64_t r0 = std::max<int64_t>(nb.ih0, 0), r1 = std::min(nb.ih1, Hin), w = nb.iw1 - nb.iw0;
        if (r1 > r0 && w > 0) {  // (the first tap's slice)
            const int64_t sz = static_cast<int64_t>(sizeof(T));
            if (last_) {
                ahead = {reinterpret_cast<const char*>(src + (((next->n * Din + nslice[0]) * Hin + r0) * Win + nb.iw0) * ic_), 1,
                         0, r1 - r0, Win * ic_ * sz, w * ic_ * sz};
            } else {
                const int64_t nci0 = cig_ < ic_ ? next->cc * nbc_ / nnbg_ * icg_ : 0;  // (its source channels)
                const T* const s0 = src + (next->n * ic_ + nci0) * volume + nslice[0] * plane + r0 * Win + nb.iw0;
                ahead = {reinterpret_cast<const char*>(s0), cig_, volume * sz, r1 - r0, Win * sz, w * sz};
            }
            int64_t calls = 0;
            for (size_t b = tk.b0; b < tk.b1; ++b) {
                const Phase& f = phase(tk, b);
                const Res& x = rw_[b];
                if (f.empty || tk.q0 >= x.Q) continue;
                const int64_t m = kM[x.kind], ntw = (std::min(tk.q1, x.Q) + m - 1) / m - tk.q0 / m;
                calls += f.xi * (nb1 - nb0) * ((tk.th1 - tk.th0) * ntw + mr_ - 1) / mr_;
            }
            const int64_t lines = ahead.no * ahead.ni * ((ahead.len + 63) / 64 + 1);
            ahead.per = calls > 0 ? (lines + calls - 1) / calls : 0;
        }
    }
    if (!last_ && !h.kk.empty() && swid > 0)
        for (int sg = 0; sg < nseg; ++sg)
            for (int64_t ih = std::max<int64_t>(ih0, 0); ih < std::min(ih1, Hin); ++ih)
                gemm_.transpose(src + (tk.n * ic_ + ci0) * volume + slice[sg] * plane + ih * Win + iw0,
                                static_cast<size_t>(volume), static_cast<size_t>(cig_), static_cast<size_t>(swid),
                                ws.sin.data() + sg * sin_ + (ih - ih0) * swid * icp_, static_cast<size_t>(icp_));
    auto source = [&](int sg, int64_t ih, int64_t iw) -> const T* {
        if (ih < 0 || ih >= Hin || iw < 0 || iw >= Win) return zeros_.data();
        if (last_) return src + (((tk.n * Din + slice[sg]) * Hin + ih) * Win + iw) * ic_;
        return ws.sin.data() + sg * sin_ + ((ih - ih0) * swid + (iw - iw0)) * icp_;
    };
    T* const sink = ws.m.data() + xt_ * cw_ + xmax_ * 16;  // (past every product: a row no output reads)
    auto dest = [&](int64_t row, int64_t q, const Res& x) -> T* {  // row: of the task's; q: of phase x
        if (tk.th0 * mh + row >= h.Q || q >= x.Q) return sink;
        const int64_t oh = h.o0 + sh * (tk.th0 * mh + row), ow = x.o0 + sw * q;
        if (last_) return dst + (((tk.n * Dout + od) * Hout + oh) * Wout + ow) * oc_;
        return ws.sout.data() + (row * sow + (ow - ow0)) * cw_;
    };
    const bool epi = epi_.kind != Epilogue::Kind::none;
    // Strides between a tile's values: source rows and columns, destination (or staged) rows and columns.
    const size_t irs = static_cast<size_t>(gh * (last_ ? Win * ic_ : swid * icp_)), ics = static_cast<size_t>(gw * (last_ ? ic_ : icp_));
    const size_t ors = static_cast<size_t>(last_ ? sh * Wout * oc_ : sow * cw_), ocs = static_cast<size_t>(last_ ? sw * oc_ : sw * cw_);
    for (size_t b = tk.b0; b < tk.b1; ++b) {
        const Res& x = rw_[b];
        if (tk.q0 >= x.Q) continue;
        const Phase& f = phase(tk, b);
        const int64_t q1 = std::min(tk.q1, x.Q);
        if (f.empty || nseg == 0) {  // no tap reaches these outputs: the bias
            for (int64_t row = 0; row < nrows; ++row)
                for (int64_t q = tk.q0; q < q1; ++q) {
                    T* d = dest(row, q, x);
                    if (d == sink) continue;
                    std::copy(bias, bias + nch, d);
                    if (epi && last_) apply_epilogue(epi_, d, oc_);
                }
            continue;
        }
        const int64_t mw = kM[x.kind], aw = kAlpha[x.kind];
        const int64_t tw0 = tk.q0 / mw, tw1 = (q1 + mw - 1) / mw, ntw = tw1 - tw0;
        const int64_t ntiles = (tk.th1 - tk.th0) * ntw, tbp = detail::round_up(ntiles, mr_);
        // (A line more per transformed position: the xi rows of a tile would lie a multiple of 4 KiB apart, in one
        // L1 set.)
        const size_t ldv = static_cast<size_t>(tbp * icp_ + 16), ldm = static_cast<size_t>(tbp * cw_ + 16);
        const int64_t vtap = xt_ * icp_ + xmax_ * 16;  // V of one depth tap
        // Input transforms: V[tap][xi][tile][icp].
        for (int sg = 0; sg < nseg; ++sg)
            for (int64_t th = tk.th0; th < tk.th1; ++th)
                for (int64_t tw = tw0; tw < tw1; ++tw) {
                    const int64_t tile = (th - tk.th0) * ntw + (tw - tw0);
                    const int64_t r0 = gh * th * mh + h.u, c0 = gw * tw * mw + x.u;
                    T* const vt = ws.v.data() + sg * vtap + tile * icp_;
                    if (r0 >= 0 && r0 + gh * (ah - 1) < Hin && c0 >= 0 && c0 + gw * (aw - 1) < Win) {  // wholly inside: strided
                        gemm_.wino_in_s(f.kh, f.kw, source(sg, r0, c0), irs, ics, static_cast<size_t>(cig_), vt, ldv);
                        continue;
                    }
                    for (int64_t i = 0; i < ah; ++i)
                        for (int64_t j = 0; j < aw; ++j)
                            ws.px[static_cast<size_t>(i * aw + j)] = source(sg, r0 + gh * i, c0 + gw * j);
                    gemm_.wino_in(f.kh, f.kw, ws.px.data(), static_cast<size_t>(cig_), vt, ldv);
                }
        // The products: per xi, M[xi][tile][cw] = sum over the depth taps of V[tap][xi] U[tap][xi] (the task's
        // panels), MR tiles x NR channels per call (a tap per segment).
        const T* A[3];
        size_t lda[3], boff[3];
        for (int sg = 0; sg < nseg; ++sg)
            lda[sg] = static_cast<size_t>(icp_), boff[sg] = static_cast<size_t>(tap[sg] * f.usz);
        for (int64_t xi = 0; xi < f.xi; ++xi)
            for (int64_t nb = nb0; nb < nb1; ++nb) {
                const T* B = u_.data() + f.uofs + (xi * nnb + nb) * icg_ * nr_;
                const int64_t a0 = nb / nnbg_ * icg_ - ci0;  // (its group's source channels in V)
                for (int64_t t0 = 0; t0 < tbp; t0 += mr_) {
                    for (int sg = 0; sg < nseg; ++sg)
                        A[sg] = ws.v.data() + sg * vtap + xi * static_cast<int64_t>(ldv) + t0 * icp_ + a0;
                    // (The last tiles: a call of 3, 6 or 9 rows where fewer than MR remain.)
                    const int64_t rr = detail::round_up(std::min(mr_, ntiles - t0), int64_t(3));
                    kernels::GemmSegFn<T> fn = gemm_.seg[sk_].fn_rows;
                    if (sk_ == 0 && rr < mr_ && gemm_.seg[0].fn_rows_part[rr / 3 - 1])
                        fn = gemm_.seg[0].fn_rows_part[rr / 3 - 1];
                    fn(A, lda, B, boff, static_cast<size_t>(nseg), static_cast<size_t>(icg_),
                       ws.m.data() + xi * static_cast<int64_t>(ldm) + t0 * cw_ + (nb - nb0) * nr_, static_cast<size_t>(cw_), false);
                    ahead.step();
                }
            }
        // Output transforms plus the bias, to the destination (channels-last) or the staged rows. Groups whose
        // panels are padded: a call per group (its products at g*npg_, its outputs at g*ocg_).
        const int64_t ncg = grp_ > 1 && npg_ != ocg_ ? (nb1 - nb0) / nnbg_ : 1, cn = ncg > 1 ? ocg_ : nch;
        for (int64_t th = tk.th0; th < tk.th1; ++th)
            for (int64_t tw = tw0; tw < tw1; ++tw) {
                const int64_t tile = (th - tk.th0) * ntw + (tw - tw0);
                if (th * mh + mh <= h.Q && tw * mw + mw <= x.Q && !(epi && last_)) {  // every output inside: strided
                    T* const d0 = dest((th - tk.th0) * mh, tw * mw, x);
                    for (int64_t g = 0; g < ncg; ++g)
                        gemm_.wino_out_s(f.kh, f.kw, ws.m.data() + tile * cw_ + g * npg_, ldm, static_cast<size_t>(cn),
                                         bias + g * ocg_, d0 + g * ocg_, ors, ocs, stream_ && last_);
                    continue;
                }
                for (int64_t i = 0; i < mh; ++i)
                    for (int64_t j = 0; j < mw; ++j)
                        ws.out[static_cast<size_t>(i * mw + j)] = dest((th - tk.th0) * mh + i, tw * mw + j, x);
                for (int64_t g = 0; g < ncg; ++g) {
                    for (int64_t i = 0; i < mh * mw; ++i)
                        ws.outg[static_cast<size_t>(i)] = ws.out[static_cast<size_t>(i)] + g * ocg_;
                    gemm_.wino_out(f.kh, f.kw, ws.m.data() + tile * cw_ + g * npg_, ldm, static_cast<size_t>(cn),
                                   bias + g * ocg_, ws.outg.data());
                }
                if (epi && last_)
                    for (int64_t i = 0; i < mh * mw; ++i)
                        if (ws.out[static_cast<size_t>(i)] != sink) apply_epilogue(epi_, ws.out[static_cast<size_t>(i)], oc_);
            }
    }
    if (last_) return;
    // Channels-first: each staged row [position][channel] transposed into the destination rows of the task's
    // channels, 16 positions at a time (a whole transposed block per channel); the last few through a buffer.
    const int64_t oplane = Hout * Wout, ovolume = Dout * oplane;
    for (int64_t row = 0; row < nrows && sow > 0; ++row) {
        if (tk.th0 * mh + row >= h.Q) break;
        const int64_t oh = h.o0 + sh * (tk.th0 * mh + row);
        T* const drow = dst + (tk.n * oc_ + ch0) * ovolume + od * oplane + oh * Wout + ow0;
        const T* const srow = ws.sout.data() + row * sow * cw_;
        for (int64_t i0 = 0; i0 < sow; i0 += 16) {
            const int64_t len = std::min<int64_t>(16, sow - i0);
            if (len == 16 && !epi) {
                (stream_ ? gemm_.transpose_stream : gemm_.transpose)(srow + i0 * cw_, static_cast<size_t>(cw_), 16,
                                                                     static_cast<size_t>(nch), drow + i0,
                                                                     static_cast<size_t>(ovolume));
                continue;
            }
            gemm_.transpose(srow + i0 * cw_, static_cast<size_t>(cw_), static_cast<size_t>(len), static_cast<size_t>(nch),
                            ws.tmp.data(), 16);
            if (epi)
                for (int64_t c = 0; c < nch; ++c) apply_epilogue(epi_, ws.tmp.data() + c * 16, len);
            gemm_.copy_block(ws.tmp.data(), 16, static_cast<size_t>(nch), static_cast<size_t>(len), drow + i0,
                             static_cast<size_t>(ovolume));
        }
    }
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const CallContext& ctx = call_context();
    thread_local detail::HugeVector<T> storage;  // the packed weights' buffer, kept between calls (no page faults)
    WinoPlan<T> plan(p, wei, bia, ctx.epilogue ? *ctx.epilogue : Epilogue{}, ctx.simd, ctx.layout, std::move(storage));
    plan.run(src, dst);
    storage = plan.release();
}

}  // namespace

std::string winograd_preferred(const Problem& p, Direction dir) {
    if (std::string why = supports(p, dir); !why.empty()) return why;
    return prefers(p, dir);
}

Algorithm winograd() {
    Algorithm a;
    a.name = "winograd";
    a.summary = "sub-pixel phases with Winograd's minimal filtering F(2,2), F(3,2), F(2,3) per axis (1-D: F(6,2)): "
                "up to 2.25x fewer multiplications (forward, ranks 1-3, any groups, 1-3 taps per phase and axis, any "
                "dilation)";
    a.supports = supports;
    a.prefers = prefers;
    a.fused_epilogue = true;
    a.simd = true;
    a.channels_last = true;
    a.f32.fwd = forward<float>;
    a.f64.fwd = forward<double>;
    a.f32.prepare = prepare_plan<float, WinoPlan<float>>;
    a.f64.prepare = prepare_plan<double, WinoPlan<double>>;
    return a;
}

}  // namespace tconv::algo
