// The four mental models of the seeds, each computed on its own, on a person's own small numbers:
//   distribute  each input value times the kernel, added at its strided place into the full (uncropped)
//               output; then the padding carved off and the output padding added (seed 000, seed 003 #1)
//   collect     a stride-1 convolution of the zero-inserted, padded input with the flipped kernel (seed 003 #2)
//   matrix      C, the matrix of the matching strided convolution, transposed, times the flattened input
//               (seed 002, seed 001)
//   gradient    the input gradient of that convolution, read off its definition: each large-side position
//               j receives <g, conv(e_j)> (seed 001's <u, K v> = <K^T u, v>)
// explain() runs all four and keeps their intermediate values for printing and pictures; the four results
// must agree exactly on integer data. Only one image (mb = 1) and small sizes (see Limits).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tconv/matrix.hpp"
#include "tconv/problem.hpp"

namespace tconv::explain {

// A worked example of the seeds: the problem, its data, and where it comes from.
struct Example {
    std::string name;         // e.g. "seed000-2d"
    std::string source;       // which seed and which passage
    std::string description;  // one line
    Problem problem;
    std::vector<double> src, wei, bia;
    std::vector<double> expected;  // the output the seed prints (empty when it prints none)
};
const std::vector<Example>& examples();
const Example& example(const std::string& name);  // throws tconv::Error listing the names

// Size limits of explain(): beyond them the step-by-step values stop being readable and the literal
// algorithms (the gradient view is quadratic) get slow.
struct Limits {
    int64_t max_elems = 4096;   // of the full output, the padded input and the output (each)
    int64_t max_steps = 256;    // distribute steps: input values (ic x positions)
};

struct Explanation {
    Problem p;
    std::vector<double> src, wei, bia;  // src (ic, i...), wei (ic, oc/g, k...), bia (oc) or empty

    // distribute
    Dims full;                       // per axis F = s*(i-1) + d*(k-1) + 1
    struct Step {
        int64_t ic;
        Dims pos;                    // input position
        double value;
        Dims at;                     // where the kernel's first tap lands in the full output: pos*s
        std::vector<double> running; // the full output (oc, F...) after this step
    };
    std::vector<Step> steps;
    std::vector<double> full_out;    // (oc, F...), no bias
    std::vector<double> distribute;  // (oc, o...): full_out[pb + j] (zero where that leaves [0, F)) + bias

    // collect
    Dims inserted;                   // per axis (i-1)*s + 1: the zero-inserted input
    Dims lead, trail;                // padding added before/after it: d*(k-1) - pb and d*(k-1) - pe + op
                                     // (negative: that many inserted-input cells are cut off instead)
    Dims padded_size;                // per axis inserted + lead + trail
    std::vector<double> padded;      // (ic, padded_size...)
    std::vector<char> padded_value;  // same shape: 1 where an input value sits, 0 on inserted/padding zeros
    Dims k_eff;                      // per axis d*(k-1) + 1
    std::vector<double> flipped;     // (oc, ic/g, k_eff...): the dilated kernel turned 180 degrees
    std::vector<char> flipped_tap;   // same shape: 1 on a kernel weight, 0 on a dilation hole
    std::vector<double> collect;     // (oc, o...)

    // matrix
    SparseMatrix<double> C;          // rows: the small side (ic x i...), columns: the large side (oc x o...)
    std::vector<double> matrix;      // C^T src + bias, (oc, o...)

    // gradient: the convolution y[ic, i] = sum over oc of its group and t of w[ic, oc, t] z[oc, s*i - pb + d*t]
    // (zero outside z), z of shape (oc, o...), y of shape (ic, i...). Its input gradient for dL/dy = src.
    std::vector<double> gradient;    // (oc, o...) + bias

    Dims dst_shape() const;          // (oc, o...)
    // The largest |difference| between the four results.
    double disagreement() const;
};

Explanation explain(const Problem& p, const std::vector<double>& src, const std::vector<double>& wei,
                    const std::vector<double>& bia = {}, const Limits& limits = {});

// One product that meets at an output cell: input value (ic, pos) times kernel weight (ic, oc, k).
struct Term {
    int64_t ic;
    Dims pos;        // input position
    double value;
    Dims k;          // kernel index (distribute view)
    Dims flipped;    // the same weight's index in the flipped, dilated kernel (collect view)
    Dims padded;     // where the input value sits in the padded, zero-inserted input (collect view)
    double weight;
};
// The terms of dst[oc, cell]: every (input value, weight) pair whose product lands there. Throws
// tconv::Error naming the cell and the output shape when it is out of range.
std::vector<Term> cell_terms(const Explanation& e, int64_t oc, const Dims& cell);
// How many taps of the flipped, dilated kernel multiply a zero for that cell in the collect view (an
// inserted zero, the padding, or a dilation hole): the work the zero-inserting formulation wastes.
int64_t cell_zero_taps(const Explanation& e, int64_t oc, const Dims& cell);

}  // namespace tconv::explain
