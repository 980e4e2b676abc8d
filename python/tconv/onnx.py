"""ONNX ConvTranspose (opset 11 and later) with the operator's exact attribute names, defaults and rules."""
import numpy as np

from . import _array, _tconv


def conv_transpose(X, W, B=None, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None,
                   output_padding=None, output_shape=None, pads=None, strides=None, algorithm="auto"):
    X, W = _array(X, "X"), _array(W, "W")
    B = None if B is None else _array(B, "B")
    lst = lambda v: [] if v is None else [int(x) for x in v]
    p = _tconv.onnx_problem(list(X.shape), list(W.shape), B is not None, str(auto_pad), lst(dilations), int(group),
                            lst(kernel_shape), lst(output_padding), lst(output_shape), lst(pads), lst(strides))
    return _tconv.forward(p, X, W, B, algorithm)
