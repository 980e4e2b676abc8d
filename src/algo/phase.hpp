// The phase (sub-pixel) decomposition, prepared once: per group and output phase the taps that reach it,
// the weights packed into GEMM panels for the chosen SIMD target. See docs/algorithms.md for the index math.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../kernels/gemm.hpp"
#include "tconv/ops.hpp"
#include "tconv/problem.hpp"

namespace tconv::algo {

// One output phase: the outputs o = o0 + q*s (per axis, q in [0, Q)) and the taps that reach them. Tap t
// reads input q + base[t] (per axis) through kernel offset koff[t].
struct Phase {
    Dims o0, Q;
    int64_t positions = 0;             // prod(Q)
    std::vector<Dims> base;            // per tap, per axis
    std::vector<int64_t> koff;         // per tap: flat kernel offset
};

template <class T>
class PhasePlan {
public:
    // `storage` is reused for the packed weights when its capacity suffices (the one-call path keeps one).
    PhasePlan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& target,
              Layout layout, std::vector<T> storage = {});
    // Reentrant: every thread uses its own scratch.
    void run(const T* src, T* dst) const;
    std::vector<T> release() { return std::move(packed_); }
    size_t packed_bytes() const { return packed_.size() * sizeof(T); }
    size_t workspace_bytes() const;  // scratch per thread
    const std::string& target() const { return target_; }

private:
    struct Scratch;
    void block(const T* src, T* dst, int64_t grp, int64_t ph, int64_t p0, Scratch& ws) const;

    Problem p_;
    Epilogue epi_;
    std::string target_;
    kernels::Gemm<T> gemm_;
    int64_t icg_, ocg_, ocp_, isz_, osz_, ksz_;
    Dims i_st_, o_st_;
    bool last_;                        // channels_last data
    bool mb_inner_;                    // positions ordered (q..., mb) instead of (mb, q...)
    bool merged_;                      // every phase reads the same inputs: one task computes them all
    std::vector<Phase> phases_;
    std::vector<int64_t> wofs_;        // per (group, phase): offset of its panels in packed_
    std::vector<T> packed_;  // [grp][phase][ocb][tap][ic][NR]
    std::vector<T> bias_;
    int64_t mc_, kc_;
};

}  // namespace tconv::algo
