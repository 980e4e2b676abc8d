// A prepared transposed convolution: the algorithm chosen, the weights packed and the workspace sized
// once, then run many times. As oneDNN's primitives: create once per layer, call per batch.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "tconv/ops.hpp"
#include "tconv/problem.hpp"
#include "tconv/tensor.hpp"

namespace tconv {

template <class T>
class Plan {
public:
    // Checks p (a transposed problem), wei (ic, oc/g, k...) and bia (oc, exactly when p.bias), chooses the
    // algorithm as Options::algorithm says, and packs the weights: wei and bia may be freed afterwards. The
    // epilogue, thread count and SIMD target of `opt` hold for every run. Throws tconv::Error.
    Plan(const Problem& p, View<const T> wei, View<const T> bia, const Options& opt = {});

    // dst (mb, oc, o...) = conv_transpose(src (mb, ic, i...)) with the plan's weights. Reentrant: one plan
    // may run on several threads at once (each uses its own scratch). Throws tconv::Error on a shape mismatch.
    void run(View<const T> src, View<T> dst) const;

    const Problem& problem() const;
    const std::string& algorithm() const;  // the algorithm that runs
    std::string simd() const;              // its SIMD target ("" for scalar algorithms)
    size_t packed_bytes() const;           // packed weights and bias, held by the plan
    size_t workspace_bytes() const;        // scratch per running thread

private:
    struct Impl;
    std::shared_ptr<const Impl> impl_;
};

extern template class Plan<float>;
extern template class Plan<double>;

}  // namespace tconv
