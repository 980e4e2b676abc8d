// ONNX ConvTranspose (opset 11 and later) attributes turned into a tconv problem, with the operator's
// exact rules: auto_pad, output_shape, asymmetric pads, and the traps of ../shared/SEMANTICS.md.
#pragma once

#include <string>

#include "tconv/problem.hpp"

namespace tconv::onnx {

struct Attributes {
    std::string auto_pad = "NOTSET";  // NOTSET, SAME_UPPER, SAME_LOWER, VALID
    Dims dilations;                   // default: 1 per axis
    int64_t group = 1;
    Dims kernel_shape;                // default: from W
    Dims output_padding;              // default: 0 per axis
    Dims output_shape;                // spatial sizes only; when given, pads are ignored
    Dims pads;                        // [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; default 0
    Dims strides;                     // default: 1 per axis
};

// X: (N, C, spatial...), W: (C, M/group, k...). Output channels M = W[1] * group.
Problem problem(const Dims& x_shape, const Dims& w_shape, bool has_bias, const Attributes& attrs);

}  // namespace tconv::onnx
