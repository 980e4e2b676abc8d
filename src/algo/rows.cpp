// rows: the small-channel path (one to four output channels per group: depthwise layers, RGB output layers).
// The GEMM of the phase engine puts output channels in the vector lanes, which such a layer cannot fill.
// Here the lanes run along the last axis instead. One output row (fixed image, group and outer coordinates
// y) is split by the last axis' residue rx into s_x phase rows; phase row rx holds the outputs
// x = o0(rx) + q*s_x, and
//     out[oc][y][o0 + q*s] = bias[oc] + sum over c, outer taps t (those whose residue matches y), last-axis
//                            taps tx of phase rx:   w[c][oc][kt, kx] * in[c][iy(t)][q + bx(tx)]
// with iy(t) = qy + by(t) per outer axis (the phase decomposition of the outer axes, done per row). Each term
// is one weight times a stretch of one input row starting at q + bx: a vector FMA with no inserted zero.
// The input rows a row needs are copied, segment by segment, into a zero-bordered buffer so every load is a
// whole vector; missing rows (outside the input) point at zeros. The phase rows are then interleaved into
// the output row (one interleaving store for s = 2) with the bias and the epilogue.
#include <algorithm>
#include <cstring>

#include <hwy/cache_control.h>

#include "../kernels/gemm.hpp"
#include "../kernels/rows.hpp"
#include "../parallel/parallel.hpp"
#include "../util.hpp"
#include "algo.hpp"
#include "tconv/error.hpp"

namespace tconv::algo {

namespace {

constexpr int64_t kMaxOcg = 4;
constexpr int64_t kBufferBytes = 256 * 1024;  // the per-thread row buffer aims at this size

struct AxisTaps {
    int64_t o0 = 0, Q = 0;
    std::vector<int64_t> k, base;  // taps of this residue: kernel index, input base (input = q + base)
};

// Per residue r of axis a: the outputs o0 + q*s and the taps that reach them (see docs/algorithms.md).
std::vector<AxisTaps> axis_taps(const Problem& p, int a) {
    const Dims o = p.o();
    const int64_t s = p.s[a];
    std::vector<AxisTaps> r(static_cast<size_t>(s));
    for (int64_t res = 0; res < s; ++res) {
        AxisTaps& t = r[res];
        t.o0 = ((res - p.pb[a]) % s + s) % s;
        t.Q = t.o0 < o[a] ? (o[a] - t.o0 + s - 1) / s : 0;
        for (int64_t kk = 0; kk < p.k[a]; ++kk) {
            if ((kk * p.d[a]) % s != res) continue;
            const int64_t base = (t.o0 + p.pb[a] - kk * p.d[a]) / s;
            if (base < p.i[a] && base + t.Q - 1 >= 0) t.k.push_back(kk), t.base.push_back(base);
        }
    }
    return r;
}

template <class T>
class RowsPlan {
public:
    RowsPlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
             Layout layout = Layout::channels_first);
    void run(const T* src, T* dst) const;
    size_t packed_bytes() const { return (w_.size() + bias_.size()) * sizeof(T); }
    size_t workspace_bytes() const {  // the row buffer (plane or rows) and the phase rows
        if (mode_ == Mode::dw_last || mode_ == Mode::dot_last)  // the tap lists of one phase row (and a row buffer)
            return static_cast<size_t>(max_nto_ * p_.k.back()) * (2 * sizeof(T*) + 3 * sizeof(int64_t)) +
                   (stream_ ? static_cast<size_t>(ow_ * p_.oc) * sizeof(T) : 0);
        if (mode_ == Mode::dot_first)  // the channels-last band of input rows, a run's output rows, the tap lists
            return static_cast<size_t>(max_band_ * iw_ * pitch_last_ + yrun_ * ow_ * p_.oc) * sizeof(T) +
                   static_cast<size_t>(max_nto_ * p_.k.back()) * (2 * sizeof(T*) + 3 * sizeof(int64_t));
        if (mode_ == Mode::copy)  // channels-first copies of the input and the output, per call
            return first_workspace() + static_cast<size_t>(detail::prod(p_.src_shape()) + detail::prod(p_.dst_shape())) * sizeof(T);
        return first_workspace();
    }
    size_t first_workspace() const {
        const int64_t rows = plane_ ? icg_ * (nin_ + 1) : icg_ * max_nto_ + 1;
        return static_cast<size_t>(rows * pitch_ + sx_ * ocg_ * (qseg_ + 2 * static_cast<int64_t>(k_.lanes))) * sizeof(T) +
               static_cast<size_t>(3 * icg_ * max_nto_ * p_.k.back()) * sizeof(T*);
    }
    const std::string& target() const { return target_; }

private:
    struct Scratch {
        std::vector<T> buf, tmp;
        std::vector<const T*> rows, terms, terms2;
        const T* plane = nullptr;
    };
    void run_first(const T* src, T* dst) const;
    void run_last(const T* src, T* dst) const;
    void copy_row(const T* s, int64_t seg, T* b) const;
    T* buffer(Scratch& ws, int64_t nrows) const;
    void fill_plane(const T* src, int64_t n, int64_t grp, int64_t seg, Scratch& ws) const;
    void fill_rows(const T* src, int64_t n, int64_t grp, int64_t seg, int64_t y, Scratch& ws) const;
    // Output row y, or the run of rows y, y + 2, ... (nrep of them: trun_).
    void row(T* dst, int64_t n, int64_t grp, int64_t seg, int64_t y, Scratch& ws, int64_t nrep = 1) const;

    Problem p_;
    Epilogue epi_;
    kernels::RowKernels<T> k_;
    int rank_;
    int64_t icg_, ocg_, isz_, osz_, iw_, ow_, sx_, nout_;  // nout_: outer output rows per image and group
    Dims oo_;                                            // outer output extents
    std::vector<std::vector<AxisTaps>> outer_;           // per outer axis, per residue
    std::vector<AxisTaps> xph_;                          // last axis, per residue
    int64_t bmin_ = 0, bmax_ = 0, qseg_ = 0, nseg_ = 0, pitch_ = 0, qmax_ = 0;
    // Weights per (group, outer residue combination, x residue): [c][outer tap][x tap][oc].
    std::vector<int64_t> combo_ntap_;                    // outer tap tuples per combination
    std::vector<std::vector<int64_t>> wofs_;             // [grp * ncombo + combo][rx]
    std::vector<T> w_, bias_;
    int64_t ncombo_ = 1;
    // Per outer output row y: its residue combination, and from rowin_[yofs_[y]] on, per outer tap tuple,
    // the input row it reads (flat over the outer input axes; -1: outside the input).
    std::vector<int64_t> ycombo_, yofs_, rowin_;
    int64_t nin_ = 1;    // input rows per channel
    int64_t max_nto_ = 1;
    std::string target_;
    bool plane_ = false;  // every input row of a group fits the buffer
    bool stream_ = false;  // outputs far larger than the caches: streamed where whole and aligned
    // Plane mode, stride 2 along rows: per outer output row y, from toff_[tofs_[y]] on, the offsets in the
    // plane buffer of the terms of its two phases (first the phase of the even outputs), computed once.
    std::vector<int64_t> toff_, tofs_;
    // With toff_: per outer output row y, the rows y, y + 2, ... (count trun_[y]; 0: y is in an earlier run) whose
    // terms lie one buffer row further each time, computed by one kernel call.
    std::vector<int64_t> trun_;
    // How channels-last data is computed: lanes along the channels (dw_last: depthwise; dot_last: few output
    // channels, lanes along the input channels), or copied channels-first around the row path (copy).
    // dot_first: channels-first data with many input channels per group, computed as dot_last from the band
    // of input rows a run of output rows reads, moved channels-last once per run.
    enum class Mode { first, copy, dw_last, dot_last, dot_first } mode_ = Mode::first;
    int64_t pitch_last_ = 0, yrun_ = 1, max_band_ = 0;
    std::vector<int64_t> band_;  // per run of output rows: the first and one past the last input row read
    kernels::TransposeFn<T> transpose_ = nullptr;
    kernels::CopyFn<T> copy_ = nullptr;  // streams the rows of a large channels-last output (run_last)
    void run_dot_first(const T* src, T* dst) const;
    // The terms of a channels-last phase row: per outer tap tuple whose input row exists (row_of(its flat
    // input row): position 0, the group's first channel) and tap along x that reaches the row, the input row,
    // its weights (wbase + term * wstride), base and the outputs [lo, hi) it reaches.
    template <class RowOf>
    void terms_last(const AxisTaps& ph, int64_t nto, const int64_t* rin, RowOf row_of, const T* wbase, int64_t wstride,
                    std::vector<const T*>& in, std::vector<const T*>& w, std::vector<int64_t>& base,
                    std::vector<int64_t>& lo, std::vector<int64_t>& hi) const {
        const int64_t ntx = static_cast<int64_t>(ph.k.size());
        in.clear(), w.clear(), base.clear(), lo.clear(), hi.clear();
        for (int64_t tt = 0; tt < nto; ++tt) {
            if (rin[tt] < 0) continue;  // the input row is outside the input: no term
            const T* row = row_of(rin[tt]);
            for (int64_t tx = 0; tx < ntx; ++tx) {
                const int64_t bx = ph.base[tx];
                const int64_t l = std::max<int64_t>(0, -bx), h = std::min(ph.Q, iw_ - bx);
                if (l >= h) continue;
                in.push_back(row), w.push_back(wbase + (tt * ntx + tx) * wstride);
                base.push_back(bx), lo.push_back(l), hi.push_back(h);
            }
        }
    }
    std::vector<T> wl_;                          // channels-last weights, per tap: dw [g], dot [ocg][icg]
    std::vector<std::vector<int64_t>> wlofs_;    // [grp * ncombo + combo][rx] (dw_last: grp 0 only)
};

template <class T>
RowsPlan<T>::RowsPlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
                      Layout layout)
    : p_(p), epi_(epi), k_(kernels::row_kernels<T>(target)), rank_(p.rank()), target_(kernels::kernel_set(target).target) {
    if constexpr (sizeof(T) == 4) copy_ = kernels::kernel_set(target).f32.copy;
    else copy_ = kernels::kernel_set(target).f64.copy;
    const Dims o = p.o();
    const int L = rank_ - 1;
    icg_ = p.ic / p.g;
    ocg_ = p.oc / p.g;
    isz_ = detail::prod(p.i);
    osz_ = detail::prod(o);
    iw_ = p.i[L];
    ow_ = o[L];
    sx_ = p.s[L];
    oo_.assign(o.begin(), o.end() - 1);
    nout_ = detail::prod(oo_);
    for (int a = 0; a < L; ++a) outer_.push_back(axis_taps(p, a));
    xph_ = axis_taps(p, L);
    bool any = false;
    for (const auto& ph : xph_) {
        qmax_ = std::max(qmax_, ph.Q);
        for (int64_t b : ph.base) {
            bmin_ = any ? std::min(bmin_, b) : b;
            bmax_ = any ? std::max(bmax_, b) : b;
            any = true;
        }
    }
    // Segments of the phase rows: as long as the buffer of icg x (outer taps) rows allows.
    const int64_t lanes = static_cast<int64_t>(k_.lanes);
    int64_t nto = 1;
    for (const auto& ax : outer_) {
        size_t m = 0;
        for (const auto& r : ax) m = std::max(m, r.k.size());
        nto *= static_cast<int64_t>(std::max<size_t>(m, 1));
    }
    const int64_t span = bmax_ - bmin_;
    // (Also the staged phase rows, sx x ocg of them, within the same size: a 1-D stride of 256 over 4096 inputs
    // would otherwise stage 4 MiB per thread.)
    const int64_t per_row = std::max<int64_t>(
        lanes, std::min(kBufferBytes / static_cast<int64_t>(sizeof(T)) / (icg_ * nto + 1) - span,
                        kBufferBytes / static_cast<int64_t>(sizeof(T)) / (p.s[L] * ocg_)));
    qseg_ = std::max<int64_t>(lanes, std::min(per_row, (qmax_ + lanes - 1) / lanes * lanes) / lanes * lanes);
    nseg_ = std::max<int64_t>(1, (qmax_ + qseg_ - 1) / qseg_);
    pitch_ = qseg_ + span;

    // Outer residue combinations, and per combination the outer tap tuples (kernel offset of each).
    const Dims k_st = detail::row_major_strides(p.k);
    Dims res_ext(static_cast<size_t>(L));
    for (int a = 0; a < L; ++a) res_ext[a] = p.s[a];
    ncombo_ = detail::prod(res_ext);
    std::vector<std::vector<int64_t>> combo_koff;
    detail::for_each_index(res_ext, [&](const int64_t* r) {
        std::vector<int64_t> koff = {0};
        for (int a = 0; a < L; ++a) {
            std::vector<int64_t> next;
            for (int64_t base : koff)
                for (int64_t kk : outer_[a][r[a]].k) next.push_back(base + kk * k_st[a]);
            koff = std::move(next);
        }
        combo_ntap_.push_back(static_cast<int64_t>(koff.size()));
        max_nto_ = std::max<int64_t>(max_nto_, static_cast<int64_t>(koff.size()));
        combo_koff.push_back(std::move(koff));
    });
    if (L == 0) {  // no outer axes: one combination with the empty tap tuple
        combo_ntap_ = {1};
        combo_koff = {{0}};
    }
    int64_t total = 0;
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (int64_t cb = 0; cb < ncombo_; ++cb) {
            std::vector<int64_t> ofs;
            for (const auto& ph : xph_) {
                ofs.push_back(total);
                total += icg_ * combo_ntap_[cb] * static_cast<int64_t>(ph.k.size()) * ocg_;
            }
            wofs_.push_back(std::move(ofs));
        }
    w_.resize(static_cast<size_t>(total));
    const int64_t ksz = detail::prod(p.k);
    for (int64_t grp = 0; grp < p.g; ++grp)
        for (int64_t cb = 0; cb < ncombo_; ++cb)
            for (size_t rx = 0; rx < xph_.size(); ++rx) {
                T* d = w_.data() + wofs_[grp * ncombo_ + cb][rx];
                for (int64_t c = 0; c < icg_; ++c)
                    for (int64_t ko : combo_koff[cb])
                        for (int64_t kx : xph_[rx].k)
                            for (int64_t oc = 0; oc < ocg_; ++oc)
                                *d++ = wei[((grp * icg_ + c) * ocg_ + oc) * ksz + ko + kx];
            }
    bias_.assign(static_cast<size_t>(p.oc), T(0));
    if (bia) std::copy(bia, bia + p.oc, bias_.begin());

    if (layout == Layout::channels_last) {
        if (icg_ == 1 && ocg_ == 1 && p.g >= lanes) mode_ = Mode::dw_last;
        else if (icg_ >= lanes) mode_ = Mode::dot_last;
        else if (p.ic > 1 || p.oc > 1) mode_ = Mode::copy;  // one channel: both layouts are the same bytes
    } else if (icg_ >= 2 * lanes && (ocg_ == 1 || (icg_ >= 4 * lanes && qmax_ <= 2 * lanes))) {
        // Channels-first with many input channels: the lanes along the channels beat the lanes along the rows
        // with one output channel per group (a term's input vector then feeds one FMA only), and with a few
        // when the phase rows are short (two vectors or less: a term is one weight times a short row) and the
        // input channels many. (Measured, AVX-512, k4 s2: one output channel 1.15-2.7x faster at 16-128
        // positions per phase row; two to four channels 1.1-2.3x at 64-128 input channels and rows of 16-32,
        // but 0.6-0.85x at 32 input channels or rows of 64 or more.) Kept below when a run's band of input
        // rows, moved channels-last, fits the buffer.
        mode_ = Mode::dot_first;
        pitch_last_ = detail::round_up(icg_, int64_t(16));
        if constexpr (sizeof(T) == 4) transpose_ = kernels::kernel_set(target).f32.transpose;
        else transpose_ = kernels::kernel_set(target).f64.transpose;
    }
    if (mode_ == Mode::dw_last || mode_ == Mode::dot_last || mode_ == Mode::dot_first) {
        const bool dw = mode_ == Mode::dw_last;
        for (int64_t grp = 0; grp < (dw ? 1 : p.g); ++grp)
            for (int64_t cb = 0; cb < ncombo_; ++cb) {
                std::vector<int64_t> ofs;
                for (size_t rx = 0; rx < xph_.size(); ++rx) {
                    ofs.push_back(static_cast<int64_t>(wl_.size()));
                    for (int64_t ko : combo_koff[cb])
                        for (int64_t kx : xph_[rx].k) {
                            if (dw) {
                                for (int64_t c = 0; c < p.g; ++c) wl_.push_back(wei[c * ksz + ko + kx]);
                            } else {
                                for (int64_t oc = 0; oc < ocg_; ++oc)
                                    for (int64_t c = 0; c < icg_; ++c)
                                        wl_.push_back(wei[((grp * icg_ + c) * ocg_ + oc) * ksz + ko + kx]);
                            }
                        }
                }
                wlofs_.push_back(std::move(ofs));
            }
        if (mode_ != Mode::dot_first) {  // (dot_first may fall back to the row path below)
            w_.clear();
            w_.shrink_to_fit();
        }
    }

    // The outer rows, decoded once.
    nin_ = isz_ / std::max<int64_t>(iw_, 1);
    Dims y(static_cast<size_t>(L)), qy(static_cast<size_t>(L)), res(static_cast<size_t>(L)), idx;
    for (int64_t yf = 0; yf < nout_; ++yf) {
        int64_t f = yf, combo = 0;
        for (int a = L - 1; a >= 0; --a) y[a] = f % oo_[a], f /= oo_[a];
        for (int a = 0; a < L; ++a) {
            res[a] = ((y[a] + p.pb[a]) % p.s[a] + p.s[a]) % p.s[a];
            qy[a] = (y[a] - outer_[a][res[a]].o0) / p.s[a];
            combo = combo * p.s[a] + res[a];
        }
        ycombo_.push_back(combo);
        yofs_.push_back(static_cast<int64_t>(rowin_.size()));
        idx.assign(static_cast<size_t>(L), 0);
        for (int64_t tt = 0; tt < combo_ntap_[combo]; ++tt) {  // tap tuples in packing order (axis 0 outermost)
            int64_t off = 0;
            bool ok = true;
            for (int a = 0; a < L; ++a) {
                const int64_t iy = qy[a] + outer_[a][res[a]].base[idx[a]];
                ok = ok && iy >= 0 && iy < p.i[a];
                off = off * p.i[a] + iy;
            }
            rowin_.push_back(ok ? off : -1);
            for (int a = L - 1; a >= 0; --a) {
                if (++idx[a] < static_cast<int64_t>(outer_[a][res[a]].k.size())) break;
                idx[a] = 0;
            }
        }
    }
    if (mode_ == Mode::dot_first) {
        // Runs of output rows: the longest (up to 16) whose bands of input rows each fit the buffer. A band is
        // every input row from the least to the greatest that the run's rows read.
        const int64_t rowbytes = iw_ * pitch_last_ * static_cast<int64_t>(sizeof(T));
        auto bands = [&](int64_t run_len) {
            std::vector<int64_t> bd;
            int64_t most = 0;
            for (int64_t y0 = 0; y0 < nout_; y0 += run_len) {
                int64_t r0 = nin_, r1 = 0;
                for (int64_t y = y0; y < std::min(nout_, y0 + run_len); ++y)
                    for (int64_t tt = 0; tt < combo_ntap_[ycombo_[y]]; ++tt) {
                        const int64_t r = rowin_[static_cast<size_t>(yofs_[y] + tt)];
                        if (r >= 0) r0 = std::min(r0, r), r1 = std::max(r1, r + 1);
                    }
                if (r1 <= r0) r0 = r1 = 0;
                bd.push_back(r0), bd.push_back(r1);
                most = std::max(most, r1 - r0);
            }
            return std::make_pair(bd, most);
        };
        for (yrun_ = std::min<int64_t>(nout_, 16); ; yrun_ /= 2) {
            auto [bd, most] = bands(yrun_);
            if (most * rowbytes <= kBufferBytes || yrun_ == 1) {
                band_ = std::move(bd);
                max_band_ = most;
                break;
            }
        }
        if (max_band_ * rowbytes > kBufferBytes) {  // rows too long: the lanes along the rows, in segments
            mode_ = Mode::first;
            band_.clear();
            wl_.clear();
            wlofs_.clear();
            max_band_ = 0;
            yrun_ = 1;
        } else {
            w_.clear();
            w_.shrink_to_fit();
        }
    }
    plane_ = icg_ * (nin_ + 1) * pitch_ * static_cast<int64_t>(sizeof(T)) <= kBufferBytes;
    stream_ = static_cast<double>(detail::prod(p.dst_shape())) * sizeof(T) >= detail::kStreamOutBytes;
    if (plane_ && mode_ == Mode::first && sx_ == 2 && ocg_ <= 2) {
        int64_t most = 0;
        for (const auto& ph : xph_) most = std::max<int64_t>(most, static_cast<int64_t>(ph.k.size()));
        if (nout_ * 2 * icg_ * max_nto_ * most <= 65536) {
            const int ra = xph_[0].o0 == 0 ? 0 : 1;
            for (int64_t y = 0; y < nout_; ++y) {
                tofs_.push_back(static_cast<int64_t>(toff_.size()));
                const int64_t nto = combo_ntap_[ycombo_[y]];
                const int64_t* rin = rowin_.data() + yofs_[y];
                for (int rx : {ra, 1 - ra})
                    for (int64_t c = 0; c < icg_; ++c)
                        for (int64_t tt = 0; tt < nto; ++tt)
                            for (int64_t bx : xph_[rx].base)
                                toff_.push_back((rin[tt] < 0 ? icg_ * nin_ : c * nin_ + rin[tt]) * pitch_ + bx - bmin_);
            }
            tofs_.push_back(static_cast<int64_t>(toff_.size()));  // (one past the last row's terms)
            trun_.assign(static_cast<size_t>(nout_), 1);
            for (int64_t y0 = 0; y0 < nout_; ++y0) {
                if (trun_[y0] == 0) continue;
                const int64_t nt = tofs_[y0 + 1] - tofs_[y0];
                int64_t cnt = 1;
                for (int64_t y = y0 + 2; y < nout_ && ycombo_[y] == ycombo_[y0] && tofs_[y + 1] - tofs_[y] == nt; y += 2) {
                    bool same = true;
                    for (int64_t j = 0; j < nt && same; ++j) same = toff_[tofs_[y] + j] == toff_[tofs_[y0] + j] + cnt * pitch_;
                    if (!same) break;
                    trun_[y] = 0;
                    ++cnt;
                }
                trun_[y0] = cnt;
            }
        }
    }
}

template <class T>
void RowsPlan<T>::run(const T* src, T* dst) const {
    if (mode_ == Mode::first) return run_first(src, dst);
    if (mode_ == Mode::dot_first) return run_dot_first(src, dst);
    if (mode_ != Mode::copy) return run_last(src, dst);
    const Dims sshape = p_.src_shape(), dshape = p_.dst_shape();
    std::vector<T> s(static_cast<size_t>(detail::prod(sshape))), d(static_cast<size_t>(detail::prod(dshape)));
    convert_layout<T>({src, data_shape(sshape, Layout::channels_last)}, Layout::channels_last, {s.data(), sshape},
                      Layout::channels_first);
    run_first(s.data(), d.data());
    convert_layout<T>({d.data(), dshape}, Layout::channels_first, {dst, data_shape(dshape, Layout::channels_last)},
                      Layout::channels_last);
}

// Channels-last: a task is one output row (image, outer coordinates y); per group and x residue, one kernel
// call computes the phase row from the taps whose input rows exist, each reading its row in place.
template <class T>
void RowsPlan<T>::run_last(const T* src, T* dst) const {
    const bool dw = mode_ == Mode::dw_last;
    const int64_t wstride = dw ? p_.g : ocg_ * icg_;  // packed weights per tap
    // An output far larger than the caches is streamed. The depthwise kernel streams its own stores where
    // each is a whole aligned vector (channels a multiple of the lanes, no epilogue); otherwise the row is
    // computed in a buffer (with its epilogue) and streamed from there, so no output line is read first.
    const bool big = static_cast<double>(detail::prod(p_.dst_shape())) * sizeof(T) >= detail::kStreamOutBytes;
    const bool direct = dw && p_.oc % static_cast<int64_t>(k_.lanes) == 0 && epi_.kind == Epilogue::Kind::none;
    const bool stream = big && direct, staged = big && !direct;
    const int64_t rowlen = ow_ * p_.oc;
    parallel::parallel_for(p_.mb * nout_, [&](int64_t b, int64_t e, int) {
        thread_local std::vector<const T*> in, w;
        thread_local std::vector<int64_t> base, lo, hi;
        thread_local std::vector<T> orow;
        if (staged) orow.resize(static_cast<size_t>(rowlen));
        for (int64_t t = b; t < e; ++t) {
            const int64_t y = t % nout_, n = t / nout_;
            const int64_t combo = ycombo_[y], nto = combo_ntap_[combo];
            const int64_t* rin = rowin_.data() + yofs_[y];
            T* const dfinal = dst + (n * nout_ + y) * rowlen;
            T* drow = staged ? orow.data() : dfinal;
            for (int64_t grp = 0; grp < (dw ? 1 : p_.g); ++grp)
                for (size_t rx = 0; rx < xph_.size(); ++rx) {
                    const AxisTaps& ph = xph_[rx];
                    if (ph.Q == 0) continue;
                    const T* wbase = wl_.data() + wlofs_[grp * ncombo_ + combo][rx];
                    terms_last(ph, nto, rin, [&](int64_t r) { return src + (n * nin_ + r) * iw_ * p_.ic + grp * icg_; },
                               wbase, wstride, in, w, base, lo, hi);
                    T* out = drow + ph.o0 * p_.oc + grp * ocg_;
                    const size_t ostep = static_cast<size_t>(sx_ * p_.oc);
                    if (dw)
                        k_.dw_last(in.data(), base.data(), lo.data(), hi.data(), w.data(), in.size(),
                                   static_cast<size_t>(p_.g), static_cast<size_t>(p_.ic), static_cast<size_t>(ph.Q),
                                   bias_.data(), out, ostep, stream);
                    else
                        k_.dot_last(in.data(), base.data(), lo.data(), hi.data(), w.data(), in.size(),
                                    static_cast<size_t>(icg_), static_cast<size_t>(ocg_), static_cast<size_t>(p_.ic),
                                    static_cast<size_t>(ph.Q), bias_.data() + grp * ocg_, out, ostep);
                }
            if (epi_.kind != Epilogue::Kind::none) apply_epilogue(epi_, drow, rowlen);
            if (staged) copy_(drow, static_cast<size_t>(rowlen), dfinal, true);
        }
        if (staged) hwy::FlushStream();  // the streamed rows are visible before the task range ends
    });
}

// Channels-first with many input channels: a task is (image, run of yrun_ output rows). Per group, the band
// of input rows the run reads (rows band_[run] .. band_[run + 1] - 1, flat over the outer axes) is moved
// channels-last in one transpose ([row][x][c], c padded to pitch_last_: each channel's rows are one
// contiguous stretch); then each phase row is computed as channels-last (dot_last) into the run's output rows
// [y][x][oc], which are moved back channels-first with the epilogue.
template <class T>
void RowsPlan<T>::run_dot_first(const T* src, T* dst) const {
    const int64_t nrun = (nout_ + yrun_ - 1) / yrun_;
    const int64_t wstride = ocg_ * icg_, rowsz = iw_ * pitch_last_;
    parallel::parallel_for(p_.mb * nrun, [&](int64_t b, int64_t e, int) {
        thread_local std::vector<T> band, orow;
        thread_local std::vector<const T*> in, w;
        thread_local std::vector<int64_t> base, lo, hi;
        band.resize(static_cast<size_t>(max_band_ * rowsz));
        orow.resize(static_cast<size_t>(yrun_ * ow_ * p_.oc));
        for (int64_t t = b; t < e; ++t) {
            const int64_t n = t / nrun, run = t % nrun, y0 = run * yrun_, y1 = std::min(nout_, y0 + yrun_);
            const int64_t r0 = band_[static_cast<size_t>(2 * run)], r1 = band_[static_cast<size_t>(2 * run + 1)];
            for (int64_t grp = 0; grp < p_.g; ++grp) {
                if (r1 > r0)
                    transpose_(src + (n * p_.ic + grp * icg_) * isz_ + r0 * iw_, static_cast<size_t>(isz_),
                               static_cast<size_t>(icg_), static_cast<size_t>((r1 - r0) * iw_), band.data(),
                               static_cast<size_t>(pitch_last_));
                for (int64_t y = y0; y < y1; ++y) {
                    const int64_t combo = ycombo_[y], nto = combo_ntap_[combo];
                    const int64_t* rin = rowin_.data() + yofs_[y];
                    for (size_t rx = 0; rx < xph_.size(); ++rx) {
                        const AxisTaps& ph = xph_[rx];
                        if (ph.Q == 0) continue;
                        const T* wbase = wl_.data() + wlofs_[grp * ncombo_ + combo][rx];
                        terms_last(ph, nto, rin, [&](int64_t r) { return band.data() + (r - r0) * rowsz; }, wbase, wstride,
                                   in, w, base, lo, hi);
                        k_.dot_last(in.data(), base.data(), lo.data(), hi.data(), w.data(), in.size(),
                                    static_cast<size_t>(icg_), static_cast<size_t>(ocg_), static_cast<size_t>(pitch_last_),
                                    static_cast<size_t>(ph.Q), bias_.data() + grp * ocg_,
                                    orow.data() + ((y - y0) * ow_ + ph.o0) * p_.oc + grp * ocg_,
                                    static_cast<size_t>(sx_ * p_.oc));
                    }
                }
            }
            for (int64_t y = y0; y < y1; ++y)
                for (int64_t oc = 0; oc < p_.oc; ++oc) {
                    T* d = dst + ((n * p_.oc + oc) * nout_ + y) * ow_;
                    const T* o = orow.data() + (y - y0) * ow_ * p_.oc + oc;
                    for (int64_t x = 0; x < ow_; ++x) d[x] = o[x * p_.oc];
                    if (epi_.kind != Epilogue::Kind::none) apply_epilogue(epi_, d, ow_);
                }
        }
    });
}

template <class T>
void RowsPlan<T>::run_first(const T* src, T* dst) const {
    // Plane mode: a task is (image, group, segment) and copies every input row of the group once; row
    // mode: a task is one output row (and segment) and copies only the rows its taps read.
    const int64_t ntask = p_.mb * p_.g * nseg_ * (plane_ ? 1 : nout_);
    parallel::parallel_for(ntask, [&](int64_t b, int64_t e, int) {
        thread_local Scratch ws;  // per thread, grown once: the plan stays reentrant
        for (int64_t t = b; t < e; ++t) {
            const int64_t seg = t % nseg_;
            const int64_t rest = t / nseg_;
            if (plane_) {
                const int64_t grp = rest % p_.g, n = rest / p_.g;
                fill_plane(src, n, grp, seg, ws);
                for (int64_t y = 0; y < nout_; ++y)
                    if (trun_.empty()) row(dst, n, grp, seg, y, ws);
                    else if (trun_[y] > 0) row(dst, n, grp, seg, y, ws, trun_[y]);
            } else {
                const int64_t y = rest % nout_, grp = rest / nout_ % p_.g, n = rest / nout_ / p_.g;
                fill_rows(src, n, grp, seg, y, ws);
                row(dst, n, grp, seg, y, ws);
            }
        }
        if (stream_) hwy::FlushStream();  // the streamed outputs are visible before the task range ends
    });
}

// Copies input [x0, x0 + pitch) of one row into a buffer row, zeros outside the input.
template <class T>
void RowsPlan<T>::copy_row(const T* s, int64_t seg, T* b) const {
    const int64_t x0 = seg * qseg_ + bmin_;  // input index at buffer position 0
    const int64_t lo = std::clamp<int64_t>(-x0, 0, pitch_), hi = std::clamp<int64_t>(iw_ - x0, lo, pitch_);
    std::fill(b, b + lo, T(0));
    if (hi > lo) std::memcpy(b + lo, s + x0 + lo, static_cast<size_t>(hi - lo) * sizeof(T));
    std::fill(b + hi, b + pitch_, T(0));
}

template <class T>
T* RowsPlan<T>::buffer(Scratch& ws, int64_t nrows) const {
    const size_t need = static_cast<size_t>(nrows + 1) * static_cast<size_t>(pitch_);
    if (ws.buf.size() < need) ws.buf.resize(need);
    T* zero = ws.buf.data() + static_cast<size_t>(nrows) * static_cast<size_t>(pitch_);  // last row: zeros
    std::fill(zero, zero + pitch_, T(0));
    return ws.buf.data();
}

template <class T>
void RowsPlan<T>::fill_plane(const T* src, int64_t n, int64_t grp, int64_t seg, Scratch& ws) const {
    T* buf = buffer(ws, icg_ * nin_);
    const T* sbase = src + (n * p_.ic + grp * icg_) * isz_;
    for (int64_t r = 0; r < icg_ * nin_; ++r) copy_row(sbase + r * iw_, seg, buf + r * pitch_);
    ws.plane = buf;
}

template <class T>
void RowsPlan<T>::fill_rows(const T* src, int64_t n, int64_t grp, int64_t seg, int64_t y, Scratch& ws) const {
    const int64_t nto = combo_ntap_[ycombo_[y]];
    const int64_t* rin = rowin_.data() + yofs_[y];
    T* buf = buffer(ws, icg_ * nto);
    const T* sbase = src + (n * p_.ic + grp * icg_) * isz_;
    ws.rows.resize(static_cast<size_t>(icg_ * nto));
    for (int64_t c = 0; c < icg_; ++c)
        for (int64_t tt = 0; tt < nto; ++tt) {
            const int64_t j = c * nto + tt;
            if (rin[tt] < 0) {
                ws.rows[j] = buf + icg_ * nto * pitch_;
                continue;
            }
            copy_row(sbase + c * isz_ + rin[tt] * iw_, seg, buf + j * pitch_);
            ws.rows[j] = buf + j * pitch_;
        }
}

template <class T>
void RowsPlan<T>::row(T* dst, int64_t n, int64_t grp, int64_t seg, int64_t y, Scratch& ws, int64_t nrep) const {
    const int64_t lanes = static_cast<int64_t>(k_.lanes);
    const int64_t combo = ycombo_[y];
    const int64_t nto = combo_ntap_[combo];
    const int64_t q0 = seg * qseg_;
    const int64_t qn = std::min(qseg_, qmax_ - q0);  // positions of the longest phase in this segment
    const bool both = sx_ == 2 && ocg_ <= 2 && xph_[0].Q >= q0 + qn && xph_[1].Q >= q0 + qn;
    if (nrep > 1 && !(both && !tofs_.empty())) {  // a run, but not this segment: row by row
        for (int64_t i = 0; i < nrep; ++i) row(dst, n, grp, seg, y + 2 * i, ws);
        return;
    }
    if (both && !tofs_.empty()) {  // the terms from the offsets computed once
        const int ra = xph_[0].o0 == 0 ? 0 : 1, rb = 1 - ra;
        const size_t na = static_cast<size_t>(icg_ * nto) * xph_[ra].k.size(),
                     nb = static_cast<size_t>(icg_ * nto) * xph_[rb].k.size();
        if (ws.terms.size() < na + nb) ws.terms.resize(na + nb);
        const int64_t* to = toff_.data() + tofs_[y];
        const T** tm = ws.terms.data();
        for (size_t j = 0; j < na + nb; ++j) tm[j] = ws.plane + to[j];
        const auto& wo = wofs_[grp * ncombo_ + combo];
        T* drow = dst + (n * p_.oc + grp * ocg_) * osz_ + y * ow_;
        k_.rows2(tm, w_.data() + wo[ra], na, tm + na, w_.data() + wo[rb], nb, static_cast<size_t>(ocg_),
                 static_cast<size_t>(qn), bias_.data() + grp * ocg_, drow + 2 * q0, static_cast<size_t>(osz_),
                 stream_ && epi_.kind == Epilogue::Kind::none, static_cast<size_t>(nrep), static_cast<size_t>(pitch_),
                 static_cast<size_t>(2 * ow_));
        if (epi_.kind != Epilogue::Kind::none)
            for (int64_t i = 0; i < nrep; ++i)
                for (int64_t oc = 0; oc < ocg_; ++oc)
                    apply_epilogue(epi_, drow + 2 * i * ow_ + oc * osz_ + 2 * q0, std::min(ow_, 2 * (q0 + qn)) - 2 * q0);
        return;
    }
    if (plane_) {  // point at the plane's rows (or the zero row)
        const int64_t* rin = rowin_.data() + yofs_[y];
        ws.rows.resize(static_cast<size_t>(icg_ * nto));
        for (int64_t c = 0; c < icg_; ++c)
            for (int64_t tt = 0; tt < nto; ++tt)
                ws.rows[c * nto + tt] = ws.plane + (rin[tt] < 0 ? icg_ * nin_ : c * nin_ + rin[tt]) * pitch_;
    }
    const int64_t nvec = (qn + lanes - 1) / lanes;

    // Stride 2 with both phases full over this segment and one or two channels: one pass, interleaved
    // straight into the output (with more channels, the phase rows below measured faster).
    if (both) {
        const int ra = xph_[0].o0 == 0 ? 0 : 1, rb = 1 - ra;
        auto build = [&](int rx, std::vector<const T*>& terms) {
            const AxisTaps& ph = xph_[rx];
            const int64_t ntx = static_cast<int64_t>(ph.k.size());
            terms.resize(static_cast<size_t>(icg_ * nto * ntx));
            size_t j = 0;
            for (int64_t ct = 0; ct < icg_ * nto; ++ct)
                for (int64_t tx = 0; tx < ntx; ++tx) terms[j++] = ws.rows[ct] + (ph.base[tx] - bmin_);
        };
        build(ra, ws.terms);
        build(rb, ws.terms2);
        const auto& wo = wofs_[grp * ncombo_ + combo];
        T* drow = dst + (n * p_.oc + grp * ocg_) * osz_ + y * ow_;
        k_.rows2(ws.terms.data(), w_.data() + wo[ra], ws.terms.size(), ws.terms2.data(), w_.data() + wo[rb],
                 ws.terms2.size(), static_cast<size_t>(ocg_), static_cast<size_t>(qn), bias_.data() + grp * ocg_,
                 drow + 2 * q0, static_cast<size_t>(osz_), stream_ && epi_.kind == Epilogue::Kind::none, 1, 0, 0);
        if (epi_.kind != Epilogue::Kind::none)
            for (int64_t oc = 0; oc < ocg_; ++oc)
                apply_epilogue(epi_, drow + oc * osz_ + 2 * q0, std::min(ow_, 2 * (q0 + qn)) - 2 * q0);
        return;
    }

    // Phase rows: tmp[rx][oc][q], q < nvec * lanes.
    const int64_t ldo = nvec * lanes;
    const size_t ntmp = static_cast<size_t>(sx_ * ocg_ * ldo);
    if (ws.tmp.size() < ntmp) ws.tmp.resize(ntmp);
    std::vector<const T*>& terms = ws.terms;
    for (int64_t rx = 0; rx < sx_; ++rx) {
        const AxisTaps& ph = xph_[rx];
        T* out = ws.tmp.data() + rx * ocg_ * ldo;
        const int64_t ntx = static_cast<int64_t>(ph.k.size());
        if (ph.Q <= q0) continue;
        terms.resize(static_cast<size_t>(icg_ * nto * ntx));
        size_t j = 0;
        for (int64_t ct = 0; ct < icg_ * nto; ++ct)
            for (int64_t tx = 0; tx < ntx; ++tx) terms[j++] = ws.rows[ct] + (ph.base[tx] - bmin_);
        k_.rows(terms.data(), w_.data() + wofs_[grp * ncombo_ + combo][rx], terms.size(), static_cast<size_t>(ocg_),
                static_cast<size_t>(nvec), out, static_cast<size_t>(ldo));
    }

    // Interleave the phase rows into the output row, with bias and epilogue.
    for (int64_t oc = 0; oc < ocg_; ++oc) {
        const int64_t ocf = grp * ocg_ + oc;
        T* drow = dst + (n * p_.oc + ocf) * osz_ + y * ow_;
        const T bias = bias_[ocf];
        const T* phase_row[2] = {nullptr, nullptr};
        bool fast = sx_ <= 2;
        if (fast)
            for (int64_t rx = 0; rx < sx_; ++rx) {
                const AxisTaps& ph = xph_[rx];
                phase_row[ph.o0] = ws.tmp.data() + (rx * ocg_ + oc) * ldo;
                fast = fast && ph.Q >= q0 + qn;  // every phase full over this segment
            }
        if (fast) {
            k_.store(phase_row, static_cast<size_t>(sx_), static_cast<size_t>(qn), bias, drow + q0 * sx_);
        } else {
            for (int64_t rx = 0; rx < sx_; ++rx) {
                const AxisTaps& ph = xph_[rx];
                const T* tr = ws.tmp.data() + (rx * ocg_ + oc) * ldo;
                const int64_t qe = std::min(ph.Q, q0 + qn);
                for (int64_t q = q0; q < qe; ++q) drow[ph.o0 + q * sx_] = tr[q - q0] + bias;
            }
        }
        if (epi_.kind != Epilogue::Kind::none) {
            const int64_t xb = q0 * sx_, xe = std::min(ow_, (q0 + qn) * sx_);
            apply_epilogue(epi_, drow + xb, xe - xb);
        }
    }
}

int64_t outer_taps(const Problem& p) {
    int64_t nto = 1;
    for (int a = 0; a + 1 < p.rank(); ++a) nto *= (p.k[a] + p.s[a] - 1) / p.s[a] + 1;
    return nto;
}

std::string supports(const Problem& p, Direction dir) {
    if (dir != Direction::forward) return "implements the forward direction only";
    const int64_t ocg = p.oc / p.g;
    if (ocg > kMaxOcg) return detail::cat("made for 1 to ", kMaxOcg, " output channels per group; this layer has ", ocg);
    // The buffer holds icg x (outer taps) input rows of at least one vector each.
    const int64_t rows = (p.ic / p.g) * outer_taps(p);
    if (rows > kBufferBytes / 16) return detail::cat("needs ", rows, " buffered input rows per output row (over ", kBufferBytes / 16, ")");
    return {};
}

// Large strides whose kernels are a whole number of strides (period's GEMM over the stride periods has whole
// panels however few the channels; here each of the many phases is a short row of taps). Measured in-process,
// 1 thread, period / rows: 1-D k1024 s256 with 1 channel 8-10x, FCN's k64 s32 with 21 -> 3 channels 4x
// channels-last and 2.1x channels-first, k256 s64 8 -> 2 2.4x and 1.5x, k16 s8 64 -> 3 1.9x channels-last (0.81x
// channels-first, where period is not preferred: runs of 8 outputs).
std::string prefers(const Problem& p, Direction dir) {
    if (period_preferred(p, dir).empty()) return "period computes large strides with whole kernels periods faster";
    return {};
}

template <class T>
void forward(const Problem& p, const T* src, const T* wei, const T* bia, T* dst) {
    const CallContext& ctx = call_context();
    RowsPlan<T> plan(p, wei, bia, ctx.epilogue ? *ctx.epilogue : Epilogue{}, ctx.simd, ctx.layout);
    plan.run(src, dst);
}

}  // namespace

Algorithm rows() {
    Algorithm a;
    a.name = "rows";
    a.summary = "small-channel path (1-4 output channels per group, depthwise): vectors along the output rows of each phase";
    a.supports = supports;
    a.prefers = prefers;
    a.fused_epilogue = true;
    a.simd = true;
    a.channels_last = true;
    a.f32.fwd = forward<float>;
    a.f64.fwd = forward<double>;
    a.f32.prepare = prepare_plan<float, RowsPlan<float>>;
    a.f64.prepare = prepare_plan<double, RowsPlan<double>>;
    return a;
}

}  // namespace tconv::algo
