// Translation of a transposed-convolution layer between the conventions of PyTorch, TensorFlow, Keras,
// ONNX, JAX, MXNet, oneDNN and XNNPACK: attributes, output shape, data layout and the weight array
// (permuted, regrouped and flipped as needed). Where the target cannot express a layer exactly, the
// translation says so and gives the closest exact recipe: run the target layer, then crop (or zero-extend)
// the output, and add the bias last when the recipe extends the output. See ../docs/translate.md.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "tconv/problem.hpp"
#include "tconv/tensor.hpp"

namespace tconv::translate {

enum class Framework { pytorch, tensorflow, keras, onnx, jax, mxnet, onednn, xnnpack };

// "pytorch", "tensorflow", "keras", "onnx", "jax", "mxnet", "onednn", "xnnpack".
const std::vector<std::string>& framework_names();
std::string name(Framework f);
Framework framework(const std::string& name);  // throws tconv::Error listing the names

// An attribute value: a bool (JAX transpose_kernel, Keras use_bias), a list of ints (one value means every
// axis where the framework allows that), or a string (padding modes, data formats).
using Value = std::variant<bool, Dims, std::string>;
using Attrs = std::map<std::string, Value>;

// One layer as a framework writes it. Attribute names are the framework's own (docs/translate.md lists them):
//   pytorch    stride padding output_padding groups dilation [output_size]
//   tensorflow strides padding("SAME"|"VALID"|[b0,e0,b1,e1..] rank 2 only) output_shape(spatial) dilations data_format
//   keras      filters kernel_size strides padding("valid"|"same") [output_padding] data_format dilation_rate use_bias
//   onnx       auto_pad dilations group kernel_shape output_padding output_shape pads strides
//   jax        strides padding("SAME"|"VALID"|[lo0,hi0,..]) rhs_dilation transpose_kernel   (lax.conv_transpose)
//   mxnet      kernel stride dilate pad adj target_shape num_filter num_group no_bias
//   onednn     strides dilates(0 = dense) padding_l padding_r groups
//   xnnpack    padding_top padding_right padding_bottom padding_left stride_height stride_width
//              dilation_height dilation_width groups adjustment_height adjustment_width
// input_shape is in the framework's data layout, weight_shape in its weight layout (both with all axes).
struct Layer {
    Framework framework = Framework::pytorch;
    Attrs attrs;
    Dims input_shape;
    Dims weight_shape;
    bool bias = false;
};

// How a framework stores the weight array, as a list of axes over the canonical (g, i, o, k...) view:
// "gi" = groups and input channels merged (g major), "go" likewise, "k" = all spatial axes in order.
// flipped: the spatial axes are stored reversed relative to the scatter kernel (the collect view's kernel).
struct WeightLayout {
    std::vector<std::string> axes;
    bool flipped = false;
    std::string str() const;  // e.g. "(g i) o k0 k1" or "k0 k1 i o, flipped"
};

struct Translation {
    Layer layer;              // the layer in the target convention (input and weight shapes in its layouts)
    Dims output_shape;        // what the target layer itself produces, in its data layout
    bool channels_last = false;  // the target's data layout: (N, spatial..., C) instead of (N, C, spatial...)
    WeightLayout weights;     // the target's weight layout
    bool exact = true;        // false: the target layer differs; apply the recipe below
    bool representable = true;  // false: no layer of the target computes this (e.g. groups); see notes
    Dims crop_begin, crop_end;  // recipe, per spatial axis: drop this many outputs (negative: add zeros)
    bool bias_after = false;  // recipe: the target layer runs without bias; add it after cropping
    Dims final_shape;         // the shape after the recipe, in the target's data layout
    std::vector<std::string> notes;  // why a recipe is needed, alignment warnings, limits of the target
    std::string code;         // the target layer written in the target's API (Python, or C for oneDNN/XNNPACK)
};

// The canonical problem of a layer: tconv/PyTorch semantics, (N, C, spatial...) data, (C_in, C_out/g, k...)
// weights. Throws tconv::Error naming the attribute and the rule when the layer is invalid in its framework.
Problem to_problem(const Layer& layer);

// The weight layout a layer uses (depends on the framework, groups and JAX's transpose_kernel).
WeightLayout weight_layout(const Layer& layer);
bool channels_last(const Layer& layer);

// The same layer in another framework. `options` may choose among equivalent target forms:
// "data_format" (tensorflow, keras: "NHWC"/"NCHW"-style or "channels_last"/"channels_first"),
// "transpose_kernel" (jax, default false).
Translation translate(const Layer& from, Framework to, const Attrs& options = {});

// Rearranges a weight array from one layout to another (g = groups, rank = spatial axes).
template <class T>
Tensor<T> convert_weights(View<const T> w, const WeightLayout& from, const WeightLayout& to, int64_t groups);

}  // namespace tconv::translate
