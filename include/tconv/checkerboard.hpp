// Checkerboard analysis (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts"): how evenly
// a transposed convolution covers its output.
//   overlap     how many kernel taps reach each output position (ones in, ones kernel), on the real
//               output of a layer or a stack of layers
//   pattern     the same far from the borders, where it is periodic with period prod(strides) per axis:
//               one period of it. For a stack, layer n+1 reads layer n's pattern.
//   weights     with the actual kernel weights and a constant input of 1 in every input channel: the
//               per-phase sum of weights of each output channel, the stripes a flat image comes out with.
// unevenness = (max - min) / max(|max|, |min|) over the period: 0 for an even cover (kernel a multiple of
// the stride, dilation 1), 0.5 for kernel 3 stride 2 (taps 2,1,2,1...), 0 for an all-zero pattern.
#pragma once

#include <vector>

#include "tconv/problem.hpp"

namespace tconv::checkerboard {

struct Map {
    Dims shape;                  // the map's shape: (spatial...) for counts, (oc, period...) for weights
    std::vector<double> values;  // row-major
    double min = 0, max = 0, mean = 0;
    double unevenness = 0;
};

// Tap counts on the output of one layer (one channel: ones input of size p.i, ones kernel).
Map overlap(const Problem& p);
// Tap counts on the output of a stack of layers: layer 0 reads a ones input of its size i; every later
// layer reads the previous output, so its `i` is replaced by the previous layer's output size. Channels,
// groups and batch of the problems are ignored; spatial ranks must agree.
Map overlap(const std::vector<Problem>& stack);
// The periodic interior of the same (ones kernels): shape = prod of strides per axis.
Map pattern(const std::vector<Problem>& stack);
// The per-phase weight sums of one layer with its weights (ic, oc/g, k...): shape (oc, s...).
// The unevenness is the largest of the output channels'.
Map weight_pattern(const Problem& p, const std::vector<double>& wei);

// The figure for a list of values.
double unevenness(const std::vector<double>& values);

}  // namespace tconv::checkerboard
