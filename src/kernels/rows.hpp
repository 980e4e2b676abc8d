// Row kernels of the small-channel path, written once with Highway (src/kernels/rows.cpp), one set per SIMD
// target of kernel_targets(). Raw pointers only: no allocation, threads or logging.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "src/kernels/gemm.hpp"

namespace tconv::kernels {

// out[oc*ldo + q] = sum over j < nterms of w[j*ocg + oc] * rows[j][q], for oc < ocg (1..4) and
// q < nvec*lanes: every rows[j] must be readable that far.
template <class T>
using RowsFn = void (*)(const T* const* rows, const T* w, size_t nterms, size_t ocg, size_t nvec, T* out, size_t ldo);
// dst[s*q + r] = src[r][q] + bias for q < n and r < s, s = 1 or 2 (an interleaving store for s = 2).
template <class T>
using StoreRowFn = void (*)(const T* const* src, size_t s, size_t n, T bias, T* dst);

// Both phases of a stride-2 row, interleaved straight into the output rows with the bias:
// dst[oc*ldd + 2q + r] = bias[oc] + sum_j w_r[j*ocg + oc] * rows_r[j][q] for q < n; rows readable to q < n
// rounded up to whole vectors. stream: whole interleaved vectors at vector-aligned addresses are streamed (the
// caller calls hwy::FlushStream before another thread reads them). Repeated for nrep output rows: repetition
// i reads every term row at rows_r[j] + i*tstep and writes from dst + i*dstep (a run of output rows whose
// terms lie one buffer row further each time).
template <class T>
using Rows2Fn = void (*)(const T* const* ra, const T* wa, size_t na, const T* const* rb, const T* wb, size_t nb,
                         size_t ocg, size_t n, const T* bias, T* dst, size_t ldd, bool stream, size_t nrep,
                         size_t tstep, size_t dstep);

// Channels-last, one phase row of q < Q outputs, over taps t whose input position q + base[t] lies in the
// row, that is lo[t] <= q < hi[t]; in[t] points at the tap's input row (position 0, the group's first channel).
// Depthwise (lanes along the channels, c < C):
//     out[q*ostep + c] = bias[c] + sum_t w[t][c] * in[t][(q + base[t])*istep + c]
// stream: write with streaming stores where aligned (an output much larger than the caches).
template <class T>
using DwLastFn = void (*)(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi, const T* const* w,
                          size_t ntaps, size_t C, size_t istep, size_t Q, const T* bias, T* out, size_t ostep,
                          bool stream);
// Few output channels (o < ocg, 1..4; lanes along the K input channels, summed at the end):
//     out[q*ostep + o] = bias[o] + sum_t sum_{c<K} w[t][o*K + c] * in[t][(q + base[t])*istep + c]
template <class T>
using DotLastFn = void (*)(const T* const* in, const int64_t* base, const int64_t* lo, const int64_t* hi, const T* const* w,
                           size_t ntaps, size_t K, size_t ocg, size_t istep, size_t Q, const T* bias, T* out,
                           size_t ostep);

template <class T>
struct RowKernels {
    RowsFn<T> rows = nullptr;
    Rows2Fn<T> rows2 = nullptr;
    StoreRowFn<T> store = nullptr;
    DwLastFn<T> dw_last = nullptr;
    DotLastFn<T> dot_last = nullptr;
    size_t lanes = 0;
};

// The row kernels for `target` (empty: the best). Throws tconv::Error when unknown.
template <class T>
RowKernels<T> row_kernels(const std::string& target);


}  // namespace tconv::kernels
