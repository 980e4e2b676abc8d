"""Translate a transposed-convolution layer between PyTorch, TensorFlow, Keras, ONNX, JAX, MXNet, oneDNN and
XNNPACK conventions: attributes, output shape, data layout and weights.

    t = tconv.translate.translate("tensorflow", {"strides": 2, "padding": "SAME", "output_shape": [8, 8]},
                                  input_shape=(1, 4, 4, 3), weight_shape=(3, 3, 5, 3), to="pytorch")
    t.attrs        # {'stride': [2, 2], 'padding': [0, 0], ...}
    t.exact        # False: PyTorch cannot put TF's odd pixel at the end; t.notes says why
    w_pt = t.convert_weights(w_tf)
    y = t.finish(torch_layer_output)   # the recipe: crop (or zero-extend), add the bias if it was held back

The rules live in the C++ core (tconv::translate); attribute names are each framework's own
(see README, "Translating layers between frameworks").
"""
import numbers

import numpy as np

from . import _tconv

__all__ = ["frameworks", "translate", "problem", "weight_layout", "Translation"]


def frameworks():
    """The framework names translate() understands."""
    return list(_tconv.frameworks())


def _value(v, key):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral):
        return [int(v)]
    if v is None:
        return []
    flat = []
    try:
        for x in v:
            if isinstance(x, numbers.Integral) and not isinstance(x, bool):
                flat.append(int(x))
            else:  # (begin, end) pairs, flattened in order
                flat.extend(int(y) for y in x)
    except TypeError:
        raise ValueError(f"attribute {key}={v!r} must be an int, a list of ints, a string or a bool") from None
    return flat


def _attrs(attrs):
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise ValueError(f"attrs must be a dict of attribute name to value, got {type(attrs).__name__}")
    return {str(k): _value(v, k) for k, v in attrs.items() if v is not None}


def _shape(s, name):
    try:
        return [int(x) for x in s]
    except TypeError:
        raise ValueError(f"{name}={s!r} must be a sequence of ints") from None


def problem(framework, attrs, input_shape, weight_shape, bias=False):
    """The canonical tconv problem (PyTorch semantics) of a layer written in `framework`'s convention."""
    return _tconv.layer_problem(framework, _attrs(attrs), _shape(input_shape, "input_shape"),
                                _shape(weight_shape, "weight_shape"), bool(bias))


def weight_layout(framework, attrs, input_shape, weight_shape, bias=False):
    """{'axes': [...], 'flipped': bool, 'text': str, 'channels_last': bool} of a layer."""
    return dict(_tconv.layer_layout(framework, _attrs(attrs), _shape(input_shape, "input_shape"),
                                    _shape(weight_shape, "weight_shape"), bool(bias)))


class Translation:
    """The layer in the target convention, with the recipe when it is not exact.

    Fields: framework, attrs, input_shape, weight_shape, bias, output_shape (what the target layer gives),
    final_shape (after the recipe), channels_last, weight_layout, exact, representable, crop_begin, crop_end,
    bias_after, notes, code, source (the source layer's framework, layout and groups).
    """

    def __init__(self, d, source_layout, source_channels_last, groups):
        self.__dict__.update(d)
        self.source_layout = source_layout
        self.source_channels_last = source_channels_last
        self.groups = groups

    def __repr__(self):
        state = "exact" if self.exact else ("recipe" if self.representable else "not representable")
        return f"Translation({self.framework}, {state}, attrs={self.attrs})"

    def convert_weights(self, w):
        """The weight array rearranged from the source layout to the target's (a new array)."""
        w = np.ascontiguousarray(w)
        if w.dtype not in (np.float32, np.float64):
            raise ValueError(f"weight has dtype {w.dtype}: use float32 or float64")
        src, dst = self.source_layout, self.weight_layout
        return _tconv.convert_weights(w, src["axes"], src["flipped"], dst["axes"], dst["flipped"], self.groups)

    def convert_input(self, x):
        """The input moved from the source data layout to the target's."""
        return _move_channels(np.asarray(x), self.source_channels_last, self.channels_last)

    def convert_output(self, y):
        """A result in the target data layout moved back to the source's."""
        return _move_channels(np.asarray(y), self.channels_last, self.source_channels_last)

    def finish(self, y, bias=None):
        """Apply the recipe to the target layer's output y: crop (or zero-extend) each spatial axis, then add
        the bias when bias_after. Exact translations return y unchanged."""
        if not self.representable:
            raise ValueError("the target cannot compute this layer: " + "; ".join(self.notes))
        y = np.asarray(y)
        rank = len(self.crop_begin)
        first = 1 if self.channels_last else 2
        index = [slice(None)] * y.ndim
        pads = [(0, 0)] * y.ndim
        for a in range(rank):
            b, e = self.crop_begin[a], self.crop_end[a]
            n = y.shape[first + a]
            index[first + a] = slice(max(b, 0), n - max(e, 0))
            pads[first + a] = (max(-b, 0), max(-e, 0))
        y = np.pad(y[tuple(index)], pads)
        if self.bias_after:
            if bias is None:
                raise ValueError("this recipe adds the bias after cropping: pass bias=")
            shape = [1] * y.ndim
            shape[-1 if self.channels_last else 1] = -1
            y = y + np.asarray(bias).reshape(shape)
        return y


def _move_channels(x, from_last, to_last):
    if from_last == to_last:
        return x
    return np.ascontiguousarray(np.moveaxis(x, -1, 1) if from_last else np.moveaxis(x, 1, -1))


def translate(framework, attrs, input_shape, weight_shape, to, *, bias=False, **options):
    """Translate a layer from `framework` to `to`.

    attrs: the layer's attributes with the source framework's names (ints broadcast to every axis;
    (begin, end) pairs accepted for explicit paddings). input_shape and weight_shape are in the source's
    data and weight layouts. options: channels_last=bool (tensorflow, keras targets),
    transpose_kernel=bool (jax target).
    """
    a = _attrs(attrs)
    x, w = _shape(input_shape, "input_shape"), _shape(weight_shape, "weight_shape")
    src = weight_layout(framework, a, x, w, bias)
    p = _tconv.layer_problem(framework, a, x, w, bool(bias))
    d = _tconv.translate(framework, a, x, w, bool(bias), to, _attrs(options))
    return Translation(d, {"axes": src["axes"], "flipped": src["flipped"]}, src["channels_last"], p.g)
