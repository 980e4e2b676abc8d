"""tconv: the transposed convolution, exactly as PyTorch and ONNX define it.

The functions follow torch.nn.functional's names and argument order, on numpy arrays (float32 or float64,
any strides); each returns a new array. Invalid input raises ValueError with the library's message.
"""
import numbers

import numpy as np

from . import _tconv
from ._tconv import Problem

__all__ = ["conv_transpose", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "conv1d", "conv2d",
           "conv3d", "Plan", "conv_transpose_backward", "conv_backward", "algorithms", "explain_choice", "Problem", "onnx", "translate", "conventions"]


_DTYPES = (np.float32, np.float64)


def _array(x, name):
    if type(x) is np.ndarray and x.flags.c_contiguous and x.dtype in _DTYPES:
        return x  # the common case, checked cheaply: a small layer's computation takes microseconds
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name} has dtype {x.dtype}: tconv computes in float32 or float64 "
                         f"(convert with .astype(numpy.float32))")
    return np.ascontiguousarray(x)


def _problem(input_shape, weight, bias, stride, padding, output_padding, groups, dilation, transposed,
             output_size=None, channels_last=False):
    """The validated Problem of a layer call. input_shape as the caller's array has it ((N, spatial..., C) when
    channels_last); padding: an int, one int per axis, or one (begin, end) pair per axis. The checks run in C++
    (python/args_ext.cpp): in Python they cost more than a small layer's computation."""
    return _tconv.problem_from_args(input_shape, weight, bias, stride, padding, output_padding, groups, dilation,
                                    transposed, output_size, channels_last)


def _check_options(threads, channels_last=False):
    if threads is not None and ((type(threads) is not int and not isinstance(threads, numbers.Integral)) or threads <= 0):
        raise ValueError(f"threads={threads!r} must be a positive int or None")
    if not isinstance(channels_last, bool):
        raise ValueError(f"channels_last={channels_last!r} must be True or False")


def conv_transpose(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                   output_size=None, algorithm="auto", threads=None, channels_last=False):
    """Transposed convolution of any spatial rank (torch.nn.functional.conv_transpose{1,2,3}d semantics).

    weight: (C_in, C_out/groups, k...). padding: int, per-axis ints, or per-axis (begin, end) pairs.
    output_size: spatial sizes (or the full shape) as in PyTorch's ConvTranspose forward(output_size=...).
    threads: how many threads the engine uses (None: every core); the result does not depend on it.
    channels_last: input (N, spatial..., C_in) and result (N, spatial..., C_out), as PyTorch's channels_last
    memory format and TensorFlow's NHWC; the numbers are the same.
    """
    _check_options(threads, channels_last)
    input, weight = _array(input, "input"), _array(weight, "weight")
    bias = None if bias is None else _array(bias, "bias")
    p = _problem(input.shape, weight, bias, stride, padding, output_padding, groups, dilation, True, output_size,
                 channels_last)
    return _tconv.forward(p, input, weight, bias, algorithm, threads or 0, channels_last)


class Plan:
    """A transposed convolution prepared once for an input shape (weights packed, kernels chosen), then run
    many times: ``Plan(x.shape, weight, bias, stride=2, padding=1)(x)`` equals ``conv_transpose(x, weight,
    bias, stride=2, padding=1)``. Arguments as conv_transpose; the plan keeps its own copy of the weights.
    Calls may come from several Python threads at once (the GIL is released while it runs)."""

    def __init__(self, input_shape, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                 *, output_size=None, algorithm="auto", threads=None, channels_last=False):
        _check_options(threads, channels_last)
        weight = _array(weight, "weight")
        bias = None if bias is None else _array(bias, "bias")
        shape = tuple(input_shape)
        if not all(isinstance(n, numbers.Integral) and n > 0 for n in shape):
            raise ValueError(f"input_shape={shape!r} must be positive ints "
                             f"{'(N, spatial..., C_in)' if channels_last else '(N, C_in, spatial...)'}")
        shape = tuple(int(n) for n in shape)
        self.problem = _problem(shape, weight, bias, stride, padding, output_padding, groups, dilation, True,
                                output_size, channels_last)
        self._plan = _tconv.Plan(self.problem, weight, bias, algorithm, threads or 0, channels_last)
        self.channels_last = channels_last
        self.input_shape = shape

    def __call__(self, input):
        input = _array(input, "input")
        if tuple(input.shape) != self.input_shape:
            raise ValueError(f"input has shape {tuple(input.shape)} but the plan was made for {self.input_shape}")
        return self._plan.run(input)

    @property
    def algorithm(self):
        return self._plan.algorithm

    @property
    def simd(self):
        return self._plan.simd


def _ranked(rank, fn):
    def wrapper(input, weight, *args, **kwargs):
        if isinstance(input, np.ndarray) and input.ndim != rank + 2:
            raise ValueError(f"{fn.__name__}{rank}d expects input of {rank + 2} dimensions (N, C, {rank} spatial), "
                             f"got shape {input.shape}")
        return fn(input, weight, *args, **kwargs)
    wrapper.__name__ = f"{fn.__name__}{rank}d"
    wrapper.__doc__ = fn.__doc__
    return wrapper


def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto", threads=None,
         channels_last=False):
    """Regular convolution (torch.nn.functional.conv{1,2,3}d semantics); weight (C_out, C_in/groups, k...)."""
    _check_options(threads, channels_last)
    input, weight = _array(input, "input"), _array(weight, "weight")
    bias = None if bias is None else _array(bias, "bias")
    p = _problem(input.shape, weight, bias, stride, padding, 0, groups, dilation, False, None, channels_last)
    return _tconv.forward(p, input, weight, bias, algorithm, threads or 0, channels_last)


conv_transpose1d, conv_transpose2d, conv_transpose3d = (_ranked(r, conv_transpose) for r in (1, 2, 3))
conv1d, conv2d, conv3d = (_ranked(r, conv) for r in (1, 2, 3))


def _mask(output_mask):
    """(want_input, want_weights, want_bias) from a PyTorch-style output_mask of three booleans."""
    if type(output_mask) is tuple and len(output_mask) == 3:
        a, b, c = output_mask
        if type(a) is bool and type(b) is bool and type(c) is bool:
            return output_mask
    try:
        m = tuple(output_mask)
    except TypeError:
        m = ()
    if len(m) != 3 or not all(type(v) is bool or isinstance(v, np.bool_) for v in m):
        raise ValueError(f"output_mask={output_mask!r} must be three booleans (grad_input, grad_weight, grad_bias)")
    return bool(m[0]), bool(m[1]), bool(m[2])


def _backward(grad_output, input, weight, stride, padding, output_padding, groups, dilation, transposed, output_size,
              algorithm, threads, channels_last, output_mask):
    _check_options(threads, channels_last)
    want_input, want_weight, want_bias = _mask(output_mask)
    grad_output, input, weight = (_array(a, n) for a, n in ((grad_output, "grad_output"), (input, "input"),
                                                              (weight, "weight")))
    p = _problem(input.shape, weight, None, stride, padding, output_padding, groups, dilation, transposed, output_size,
                 channels_last)
    p.bias = want_bias  # grad_bias: the sum of grad_output per channel
    gi, gw, gb = _tconv.backward(p, grad_output, input, weight, algorithm, threads or 0, channels_last, want_input,
                                 want_weight or want_bias)
    return gi, gw if want_weight else None, gb


def conv_transpose_backward(grad_output, input, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                            *, output_size=None, algorithm="auto", threads=None, channels_last=False,
                            output_mask=(True, True, True)):
    """Gradients of conv_transpose: (grad_input, grad_weight, grad_bias); an entry is None where output_mask
    (as in torch's convolution_backward) is False."""
    return _backward(grad_output, input, weight, stride, padding, output_padding, groups, dilation, True, output_size,
                     algorithm, threads, channels_last, output_mask)


def conv_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1, *, algorithm="auto",
                  threads=None, channels_last=False, output_mask=(True, True, True)):
    """Gradients of conv: (grad_input, grad_weight, grad_bias); None where output_mask is False."""
    return _backward(grad_output, input, weight, stride, padding, 0, groups, dilation, False, None, algorithm, threads,
                     channels_last, output_mask)


def weight_cache_stats():
    """What conv_transpose keeps on the calling thread: {plans, bytes, hits, misses, skipped}. It keeps the packed
    weights of the last layers it ran and reuses them while a digest of the weights given is unchanged (weights
    changed in place are packed again); see the README."""
    return _tconv.weight_cache_stats()


def clear_weight_cache():
    """Frees the packed weights that conv_transpose keeps on the calling thread and zeroes its counts."""
    _tconv.clear_weight_cache()


def algorithms():
    """[(name, summary)] of every registered algorithm, in the order `auto` tries them."""
    return _tconv.algorithms()


def explain_choice(problem, direction="forward"):
    """[(name, refusal)] for a Problem (or its canonical string); an empty refusal means supported."""
    if isinstance(problem, str):
        problem = Problem.parse(problem)
    return _tconv.explain_choice(problem, direction)


from . import onnx, translate, conventions  # noqa: E402
