// The contract between the registry and the algorithm drivers. A driver receives a validated
// Kind::transposed problem and dense tensors whose shapes were already checked; it overwrites its outputs.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tconv/algorithm.hpp"
#include "tconv/ops.hpp"
#include "tconv/problem.hpp"

namespace tconv::algo {

template <class T>
using FwdFn = void (*)(const Problem& p, const T* src, const T* wei, const T* bia, T* dst);
template <class T>
using BwdDataFn = void (*)(const Problem& p, const T* diff_dst, const T* wei, T* diff_src);
// diff_bia is null when the problem has no bias.
template <class T>
using BwdWeiFn = void (*)(const Problem& p, const T* src, const T* diff_dst, T* diff_wei, T* diff_bia);

// A forward pass prepared once (weights packed, kernels chosen), run many times; run is reentrant.
template <class T>
struct Prepared {
    virtual ~Prepared() = default;
    virtual void run(const T* src, T* dst) const = 0;
    virtual size_t packed_bytes() const = 0;
    virtual size_t workspace_bytes() const = 0;  // scratch per thread
    virtual std::string target() const = 0;      // SIMD target of its kernels
};
template <class T>
using PrepareFn = std::unique_ptr<Prepared<T>> (*)(const Problem& p, const T* wei, const T* bia, const Epilogue& epi,
                                                   const std::string& simd, Layout layout);

// The PrepareFn of a driver whose plan class P is built from (p, wei, bia, epi, simd), plus the data
// layout when the driver handles channels_last itself (Algorithm::channels_last), and offers run,
// packed_bytes, workspace_bytes and target.
template <class T, class P>
std::unique_ptr<Prepared<T>> prepare_plan(const Problem& p, const T* wei, const T* bia, const Epilogue& epi,
                                          const std::string& simd, Layout layout) {
    struct Held : Prepared<T> {
        P plan;
        Held(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& simd, Layout layout)
            : plan(make(p, wei, bia, epi, simd, layout)) {}
        static P make(const Problem& p, const T* wei, const T* bia, const Epilogue& epi, const std::string& simd,
                      Layout layout) {
            if constexpr (std::is_constructible_v<P, const Problem&, const T*, const T*, const Epilogue&,
                                                  const std::string&, Layout>)
                return P(p, wei, bia, epi, simd, layout);
            else
                return P(p, wei, bia, epi, simd);
        }
        void run(const T* src, T* dst) const override { plan.run(src, dst); }
        size_t packed_bytes() const override { return plan.packed_bytes(); }
        size_t workspace_bytes() const override { return plan.workspace_bytes(); }
        std::string target() const override { return plan.target(); }
    };
    return std::make_unique<Held>(p, wei, bia, epi, simd, layout);
}

template <class T>
struct Kernels {
    FwdFn<T> fwd = nullptr;
    BwdDataFn<T> bwd_data = nullptr;
    BwdWeiFn<T> bwd_wei = nullptr;
    PrepareFn<T> prepare = nullptr;  // forward only; set by the drivers that pack
};

struct Algorithm {
    std::string name;
    std::string summary;
    // Empty when supported; otherwise why not. Called only for directions the driver implements.
    std::string (*supports)(const Problem& p, Direction dir);
    Kernels<float> f32;
    Kernels<double> f64;
    bool fused_epilogue = false;  // applies Options::epilogue itself (forward)
    bool simd = false;            // runs the SIMD micro-kernels (Options::simd)
    // It reads and writes channels_last data itself in every direction it implements (and in its prepared
    // plan); for the others, the operation converts channels_last data to channels_first around the call.
    bool channels_last = false;
    // Optional: empty when "auto" should take it for a problem it supports; otherwise why not (speed, not
    // capability: requested by name, it still runs). It may read call_context().data (the caller's layout).
    std::string (*prefers)(const Problem& p, Direction dir) = nullptr;
    // Optional: true when the driver's one-call forward packs nothing up front for this layer (it reads the
    // weights in place, costing what its plan's run costs): the one-call function then keeps no plan of it
    // (Options::reuse_weights would only add a digest of the weights). elem: sizeof the data type.
    bool (*one_call_in_place)(const Problem& p, Layout layout, size_t elem) = nullptr;

    template <class T>
    const Kernels<T>& kernels() const {
        if constexpr (sizeof(T) == 4) return f32; else return f64;
    }
};

// One factory per driver file; the registry lists them in preference order.
Algorithm col2im();
Algorithm dense();
Algorithm phase();
Algorithm period();
Algorithm rows();
Algorithm conv_grad();
Algorithm gather();
Algorithm matrix();
Algorithm scatter();
Algorithm winograd();

const std::vector<Algorithm>& registry();

// Empty when period supports the problem and auto would take it over phase (rows defers to it: large strides).
std::string period_preferred(const Problem& p, Direction dir);
// Empty when winograd supports the problem and auto would take it (period defers to it on short runs).
std::string winograd_preferred(const Problem& p, Direction dir);

// What an operation passes to the driver it calls beyond the tensors (set by ops.cpp for the duration of
// the call, on the calling thread).
struct CallContext {
    std::string simd;
    const Epilogue* epilogue = nullptr;
    Layout layout = Layout::channels_first;  // channels_last only reaches drivers with Algorithm::channels_last
    Layout data = Layout::channels_first;    // the caller's layout (for Algorithm::prefers, which runs before)
    bool one_call = false;  // the one-call function without reuse_weights (prefers may count a plan's preparation)
};
CallContext& call_context();
const Algorithm& find(const Problem& p, Direction dir, std::string_view requested, std::ostream* log);

// Shared index helpers for the drivers. All tensors are dense row-major.
struct Geometry {
    explicit Geometry(const Problem& p);
    int rank;
    int64_t icg, ocg;           // channels per group
    Dims i, o, k;               // spatial extents
    int64_t isz, osz, ksz;      // their products
    Dims i_st, o_st, k_st;      // row-major strides of i, o, k
};

std::string always_supported(const Problem&, Direction);

// The flat offset of a multi-index under row-major strides.
inline int64_t flat(const int64_t* idx, const Dims& st) {
    int64_t r = 0;
    for (size_t a = 0; a < st.size(); ++a) r += idx[a] * st[a];
    return r;
}

// Where input position ii lands through kernel tap kk: o = ii*s - pb + kk*d on every axis. False when that
// falls outside the cropped output; otherwise `out` is its flat offset.
inline bool tap_target(const Problem& p, const Geometry& G, const int64_t* ii, const int64_t* kk, int64_t& out) {
    out = 0;
    for (int a = 0; a < G.rank; ++a) {
        const int64_t o = ii[a] * p.s[a] - p.pb[a] + kk[a] * p.d[a];
        if (o < 0 || o >= G.o[a]) return false;
        out += o * G.o_st[a];
    }
    return true;
}

// A conv problem used by the conv API maps onto the transposed problem of its adjoint, with the
// directions exchanged: conv forward is the transposed backward_data and vice versa.
inline Direction adjoint_direction(Direction dir) {
    if (dir == Direction::forward) return Direction::backward_data;
    if (dir == Direction::backward_data) return Direction::forward;
    return dir;
}

}  // namespace tconv::algo
