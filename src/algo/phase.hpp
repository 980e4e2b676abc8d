// The phase (sub-pixel) decomposition, prepared once: per group and output phase the taps that reach it,
// the weights packed into GEMM panels for the chosen SIMD target. The same engine computes the data
// gradient (a strided convolution: one phase whose taps read the source with step s), and the weight
// gradient has its own GEMM over positions (phase_wei.cpp). See docs/algorithms.md for the index math.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../kernels/gemm.hpp"
#include "tconv/ops.hpp"
#include "tconv/problem.hpp"
#include "../util.hpp"

namespace tconv::algo {

// One output phase: the outputs o = o0 + q*ostep (per axis, q in [0, Q)) and the taps that reach them. Tap
// t reads source position q*istep + base[t] (per axis) through kernel offset koff[t].
struct Phase {
    Dims o0, Q;
    int64_t positions = 0;             // prod(Q)
    std::vector<Dims> base;            // per tap, per axis
    std::vector<int64_t> koff;         // per tap: flat kernel offset
    // Per tap: the flat source offset of q = 0 (may lie outside), and per axis the q range [qlo, qhi) whose
    // source lies inside (flattened [tap][axis]).
    std::vector<int64_t> toff, qlo, qhi;
};

// Per axis and residue r of the stride: the first output, the count, and the taps (kernel index, source base:
// output o0 + s*q reads source q + base).
struct AxisPhase {
    int64_t o0 = 0, Q = 0;
    std::vector<std::pair<int64_t, int64_t>> taps;
};

// What the engine computes: the forward pass (source src, destination dst, one phase per residue of the
// stride) or the data gradient (source diff_dst, destination diff_src, one phase, no bias or epilogue).
enum class PhaseRole { forward, backward_data };

template <class T>
class PhasePlan {
public:
    // `storage` is reused for the packed weights when its capacity suffices (the one-call path keeps one).
    PhasePlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
              Layout layout, detail::HugeVector<T> storage = {}, PhaseRole role = PhaseRole::forward);
    // Reentrant: every thread uses its own scratch.
    void run(const T* src, T* dst) const;
    detail::HugeVector<T> release() { return std::move(packed_); }
    size_t packed_bytes() const { return packed_.size() * sizeof(T); }
    size_t workspace_bytes() const;  // scratch per thread
    const std::string& target() const { return target_; }

private:
    struct Scratch;
    void block(const T* src, T* dst, int64_t grp, int64_t ph, int64_t p0, int64_t cb0, Scratch& ws) const;
    void block_cols(const T* src, T* dst, int64_t grp, int64_t task, int64_t p0, int64_t cb0, Scratch& ws) const;
    void block_ilv_last(const T* src, T* dst, int64_t task, int64_t p0, Scratch& ws) const;
    void rows_last(const T* src, const int64_t* offs, int64_t n, int64_t nt, Scratch& ws) const;
    // The pair path (channels-first, kernel == stride on every axis, 2 along the last; see init_pair).
    void init_pair(const Problem& p, const T* wei, const T* bia, detail::HugeVector<T> storage);
    void block_pair(const T* src, T* dst, int64_t grp, int64_t c0, Scratch& ws) const;
    template <class F>
    void pack_pairs(const Problem& p, const T* wei, detail::HugeVector<T> storage, const std::vector<int64_t>& ke,
                    const std::vector<int64_t>& ko, F dof);
    // The tap pairs (channels-first, stride 2 along the last axis whose two phases have as many taps each).
    bool init_tpair(const Problem& p, const std::vector<std::vector<AxisPhase>>& axes, const T* wei, const T* bia,
                    detail::HugeVector<T>& storage);
    void block_tpair(const T* src, T* dst, int64_t grp, int64_t c0, int64_t c1, Scratch& ws) const;
    // Decodes the positions [p0, p0 + n) of a phase into ws (images, destination offsets, source offsets per
    // tap, runs along the last axis) at decode slot `slot` (offsets of slot * MC positions); returns the number
    // of runs. elems: each source offset is instead the channels-last element offset of the position's first
    // source channel, (image * positions + offset) * channels (-1 outside).
    int64_t decode(const Phase& ph, int64_t p0, int64_t n, Scratch& ws, int64_t slot = 0, bool elems = false) const;
    size_t cslots() const {  // C blocks per task
        return merged_ ? phases_.size() : (ilv_ ? groups_.empty() ? 1 : groups_[0].size() : 1);
    }
    // Elements of one phase's C block: MC x np, or transposed (a task's panels of np) x (MC + a tile's width).
    size_t csize() const {
        return static_cast<size_t>(cols_ ? ccb_ * nr_ * (mc_ + static_cast<int64_t>(gemm_.cols.width)) : mc_ * np_);
    }

    int64_t mb_ = 0, g_ = 0;
    Epilogue epi_;
    std::string target_;
    kernels::Gemm<T> gemm_;
    typename kernels::Gemm<T>::Seg seg_k_;  // the segment kernel of the chosen panel width
    int64_t nr_ = 0;                   // panel width (columns of B and C)
    int64_t ccb_ = 0;                  // cols_: the panels of output channels one task computes (all: np_ / nr_)
    int64_t mr_ = 0;                   // tile rows (positions per kernel call)
    // GEMM per group: K = (tap, kin_ source channels), N = nout_ destination channels (padded to np_).
    int64_t kin_ = 0, nout_ = 0, np_ = 0, cin_ = 0, cout_ = 0, insz_ = 0, outsz_ = 0;
    Dims in_, in_st_, out_st_, istep_, ostep_;  // source extents and strides, destination strides, steps
    bool last_ = false;                // channels_last data
    bool slast_ = false;               // the source read as channels-last (also channels-first 1x1 sources)
    bool stream_ = false;              // output far larger than the caches (channels-last or cols_): streaming stores
    bool mb_inner_ = false;            // positions ordered (q..., mb) instead of (mb, q...)
    bool merged_ = false;              // every phase reads the same inputs: one task computes them all
    bool fused_ = false;               // few source channels: all taps in one A panel, one kernel call
    bool seg_ = false;                 // tile by tile, every tap summed in one kernel call (weights fit L2)
    bool narrow_ = false;              // per-tap order with seg_k_'s narrower panels (less padding)
    bool direct_ = false;              // seg_ channels-last: the kernel stores each tile plus the bias to dst
    bool direct_lines_ = false;        // direct_: every panel row of every position starts on a cache line
    bool cols_ = false;                // channels-first: positions as the vector columns, C transposed
    // Channels-first sources with images inner (few positions per image, e.g. dcgan_g1's 4x4): per K chunk,
    // the block's images are transposed channels-last into scratch (image stride sistr_, a position's row of
    // sld_ channels), and the tiles read their rows in place there through row pointers.
    bool cfl_ = false;
    int64_t sld_ = 0, sistr_ = 0;
    bool ilv_ = false;                 // phases stored interleaved along the last axis, by groups_ (cols_ or ilv_last_)
    bool ilv_last_ = false;            // channels-last tiles of a group of phases, staged and streamed rows
    bool ilv_short_ = false;           // cols_ groups: some phases have a position fewer along the last axis (equalized)
    int64_t olast_ = 1;                // the destination's extent along the last axis
    std::vector<std::vector<int64_t>> groups_;  // the phases of one group, by first output along the last axis
    int64_t asz_ = 0;                  // elements of the packed source panels per thread
    int64_t ntaps_ = 0;                // the most taps of any phase
    std::vector<Phase> phases_;
    struct Task {
        int64_t grp, phase, p0;  // group, phase (the first of merged ones), first position of the block
        int64_t cb0 = 0;         // cols_: the first panel of output channels (ccb_ panels); tap pairs: the chunks' end
    };
    std::vector<Task> tasks_;
    std::vector<double> tcost_;        // the tasks' summed costs: tcost_[i] of tasks [0, i)
    bool interleave_ = false;          // tasks ordered (group, block, phase) instead of (group, phase, block)
    bool gin_ = false;                 // groups inner: a task computes its block for every group
    std::vector<T> zeros_;             // seg_ channels-last: the row that tile rows outside the source read
    std::vector<int64_t> wofs_;        // per (group, phase): offset of its panels in packed_
    detail::HugeVector<T> packed_;     // [grp][phase][ncb][tap][kin][NR] (the pair path: see below)
    std::vector<T> bias_;
    int64_t mc_ = 0, kc_ = 0;
    // The pair path: the layer's rows cut into chunks of up to N/2 inputs (a row's first chunk shorter where
    // that puts the rest of its outputs on vector boundaries); a task's block of pblk_ chunks is packed with every
    // value twice and multiplied by the ntiles_ tiles of output channels of each row phase (the residues of the
    // other axes: destination offset pdoff_, kernel offset pkoff_). packed_: [grp][row phase][tile][kin][rows][2].
    bool pair_ = false;
    // per chunk: its first source element (group 0, channel 0), first output (row phase 0), and inputs
    std::vector<int64_t> psrc_, pdst_, pn_;
    std::vector<int64_t> pdoff_, pkoff_;
    int64_t pblk_ = 0, ntiles_ = 0;
    // The tap pairs: T_ pairs (even output's source base, odd output's) along the last axis; per row phase (the
    // residues of the other axes) its taps on those axes (tu_ of them, the first segment tsb_); per output row
    // of the layer (image, row phase, position) the source row of each of its taps (-1 outside) and its
    // signature (row phase, taps inside) in trow_/tsig_; per chunk of up to N/2 output pairs its row, first pair,
    // pairs and outputs (tcr_, tq0_, tlen_, tcnt_) and first output (pdst_). packed_: [grp][tile][segment][kin][rows][2].
    // The source rows are zipped once per task into cached rows (tslots_ of them, K x tlda_ each): one per
    // (row, class), a class being the pairs of one difference between the even and odd bases (tce_, tco_ its
    // first pair's); pair t reads its class's row tsh_[t] pairs further (tpad_: the row's pairs before q = 0).
    bool tpair_ = false;
    int64_t tT_ = 0, tumax_ = 0, tsegs_ = 0, tncls_ = 0, tpad_ = 0, tW_ = 0, tlda_ = 0, tslots_ = 0;
    std::vector<int64_t> tbe_, tbo_, tcls_, tsh_, tce_, tco_, tu_, tsb_, trow_, tsig_, tcr_, tq0_, tlen_, tcnt_;
};

// The weight gradient as one GEMM per group over every (image, input position):
// C[ic][(tap, oc)] = sum over positions of src[ic][pos] * diff_dst[oc][pos*s - pb + tap*d] (0 where cropped).
template <class T>
void phase_backward_weights(const Problem& p, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia,
                            const std::string& target, Layout layout);

}  // namespace tconv::algo
