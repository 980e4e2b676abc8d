// tconv: the transposed convolution, exactly as PyTorch and ONNX define it. One include for everything.
#pragma once

#include "tconv/algorithm.hpp"
#include "tconv/checkerboard.hpp"
#include "tconv/explain.hpp"
#include "tconv/error.hpp"
#include "tconv/matrix.hpp"
#include "tconv/nn.hpp"
#include "tconv/npy.hpp"
#include "tconv/onnx.hpp"
#include "tconv/ops.hpp"
#include "tconv/plan.hpp"
#include "tconv/problem.hpp"
#include "tconv/tensor.hpp"
#include "tconv/translate.hpp"
#include "tconv/upsample.hpp"
