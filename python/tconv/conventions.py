"""Each framework's transposed convolution, computed by tconv from that framework's own definition.

These functions take arrays in the framework's data and weight layouts and attributes with its names, and
follow the definition the framework itself uses, written here independently of tconv.translate:

- tensorflow: the input gradient of tf.nn.conv*d applied to an input of `output_shape` (TF's definition),
  with TF's SAME/VALID/explicit padding of that convolution;
- keras: Keras's deconv_output_length, then the TensorFlow op;
- jax: lax.conv_transpose = a stride-1 convolution over the stride-dilated input padded by
  lax's _conv_transpose_padding (negative padding crops), kernel flipped and swapped with transpose_kernel;
- mxnet, onednn, xnnpack: the full scatter result, then the framework's output window (rows past the full
  result are zeros, then the bias);
- pytorch and onnx: tconv.conv_transpose and tconv.onnx.conv_transpose.

They exist to prove translations (tests/python/test_translate.py) and to run a layer written for another
framework on numpy arrays.
"""
import numpy as np

from . import conv, conv_backward, conv_transpose
from . import onnx as _onnx

__all__ = ["pytorch", "onnx", "tensorflow", "keras", "jax", "mxnet", "onednn", "xnnpack", "run"]


def _list(v, rank, name):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return [int(v)] * rank
    v = [int(x) for x in v]
    if len(v) == 1:
        return v * rank
    if len(v) != rank:
        raise ValueError(f"{name}={v} needs {rank} values")
    return v


def _to_first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def _to_last(x):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


def _add_bias(y, b):
    if b is None:
        return y
    return y + np.asarray(b).reshape((1, -1) + (1,) * (y.ndim - 2))


def _window(full, begins, sizes):
    """out[..., j] = full[..., begin + j] where that lies inside full, else 0 (channels-first)."""
    rank = len(begins)
    out = np.zeros(full.shape[:2] + tuple(sizes), dtype=full.dtype)
    src, dst = [slice(None)] * 2, [slice(None)] * 2
    for a in range(rank):
        n = full.shape[2 + a]
        lo, hi = max(begins[a], 0), min(begins[a] + sizes[a], n)
        if hi <= lo:
            return out
        src.append(slice(lo, hi))
        dst.append(slice(lo - begins[a], hi - begins[a]))
    out[tuple(dst)] = full[tuple(src)]
    return out


def _full(x, w, stride, dilation, groups):
    """The uncropped scatter result (N, C_out, s*(i-1) + d*(k-1) + 1 ...) for canonical x and w."""
    return conv_transpose(x, w, None, stride=stride, padding=0, output_padding=0, groups=groups, dilation=dilation)


def pytorch(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, output_size=None):
    return conv_transpose(x, w, b, stride, padding, output_padding, groups, dilation, output_size=output_size)


def onnx(x, w, b=None, **attrs):
    return _onnx.conv_transpose(x, w, b, **attrs)


def _tf_data_first(data_format, rank):
    if data_format is None:
        return False
    if data_format.startswith("NC"):
        return True
    if data_format.startswith("N") and data_format.endswith("C"):
        return False
    raise ValueError(f"data_format={data_format!r}")


def tensorflow(x, w, b=None, *, output_shape, strides=1, padding="VALID", data_format=None, dilations=1):
    """tf.nn.conv{1,2,3}d_transpose; w: (k..., C_out, C_in); output_shape: spatial sizes (or the full shape)."""
    rank = w.ndim - 2
    first = _tf_data_first(data_format, rank)
    xc = x if first else _to_first(x)
    s, d = _list(strides, rank, "strides"), _list(dilations, rank, "dilations")
    out = [int(v) for v in output_shape]
    if len(out) == rank + 2:
        out = out[2:] if first else out[1:-1]
    k = w.shape[:rank]
    pads = []
    for a in range(rank):
        keff = d[a] * (k[a] - 1) + 1
        if isinstance(padding, str) and padding == "SAME":
            n_out = -(-out[a] // s[a])
            total = max((n_out - 1) * s[a] + keff - out[a], 0)
            pads.append((total // 2, total - total // 2))
        elif isinstance(padding, str) and padding == "VALID":
            pads.append((0, 0))
        elif isinstance(padding, str):
            raise ValueError(f"padding={padding!r}")
        else:
            flat = [int(v) for v in np.asarray(padding).reshape(-1)]
            pads.append((flat[2 * a], flat[2 * a + 1]))
    # The forward convolution's weight: (C_conv_out = our C_in, C_conv_in = our C_out, k...).
    wc = np.ascontiguousarray(np.transpose(w, (rank + 1, rank) + tuple(range(rank))))
    zeros = np.zeros((x.shape[0], w.shape[rank]) + tuple(out), dtype=x.dtype)
    # TF rejects an output_shape whose convolution does not give x's size; so does the check here.
    probe = conv(zeros, wc, None, stride=s, padding=pads, dilation=d)
    if probe.shape[2:] != xc.shape[2:]:
        raise ValueError(f"output_shape {out} is inconsistent with the input {xc.shape[2:]}")
    y = conv_backward(xc, zeros, wc, stride=s, padding=pads, dilation=d)[0]
    y = _add_bias(y, b)
    return y if first else _to_last(y)


def keras(x, w, b=None, *, strides=1, padding="valid", output_padding=None, data_format="channels_last",
          dilation_rate=1, filters=None, kernel_size=None, use_bias=None):
    """keras.layers.Conv{1,2,3}DTranspose with kernel (k..., filters, C_in)."""
    rank = w.ndim - 2
    first = data_format == "channels_first"
    s, d = _list(strides, rank, "strides"), _list(dilation_rate, rank, "dilation_rate")
    op = _list(output_padding, rank, "output_padding")
    sizes = x.shape[2:] if first else x.shape[1:-1]
    out = []
    for a in range(rank):  # keras.utils.conv_utils.deconv_output_length
        f = w.shape[a] + (w.shape[a] - 1) * (d[a] - 1)
        if op is None:
            n = sizes[a] * s[a] + max(f - s[a], 0) if padding == "valid" else sizes[a] * s[a]
        else:
            pad = f // 2 if padding == "same" else 0
            n = (sizes[a] - 1) * s[a] + f - 2 * pad + op[a]
        out.append(n)
    return tensorflow(x, w, b, output_shape=out, strides=s, padding=padding.upper(),
                      data_format=("NC" if first else "N") + "DHW"[3 - rank:] + ("" if first else "C"), dilations=d)


def jax(x, w, b=None, *, strides, padding, rhs_dilation=None, transpose_kernel=False):
    """jax.lax.conv_transpose with the default dimension numbers (NHWC, HWIO, NHWC)."""
    rank = w.ndim - 2
    s = _list(strides, rank, "strides")
    d = _list(rhs_dilation if rhs_dilation is not None else 1, rank, "rhs_dilation")
    if transpose_kernel:
        w = np.swapaxes(np.flip(w, axis=tuple(range(rank))), -1, -2)
    xc = _to_first(x)
    pairs = []
    for a in range(rank):
        k = d[a] * (w.shape[a] - 1) + 1
        if isinstance(padding, str):
            if padding == "SAME":
                pad_len = k + s[a] - 2
                lo = k - 1 if s[a] > k - 1 else -(-pad_len // 2)
            elif padding == "VALID":
                pad_len = k + s[a] - 2 + max(k - s[a], 0)
                lo = k - 1
            else:
                raise ValueError(f"padding={padding!r}")
            pairs.append((lo, pad_len - lo))
        else:
            flat = [int(v) for v in np.asarray(padding).reshape(-1)]
            pairs.append((flat[2 * a], flat[2 * a + 1]))
    # lhs dilation: s-1 zeros between input samples, then the (possibly negative) padding.
    n, c = xc.shape[:2]
    dil = np.zeros((n, c) + tuple((xc.shape[2 + a] - 1) * s[a] + 1 for a in range(rank)), dtype=xc.dtype)
    dil[(slice(None), slice(None)) + tuple(slice(None, None, s[a]) for a in range(rank))] = xc
    padded = np.pad(dil, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in pairs])
    crop = tuple(slice(max(-lo, 0), padded.shape[2 + a] - max(-hi, 0)) for a, (lo, hi) in enumerate(pairs))
    padded = np.ascontiguousarray(padded[(slice(None), slice(None)) + crop])
    wc = np.ascontiguousarray(np.transpose(w, (rank + 1, rank) + tuple(range(rank))))  # HWIO -> OIHW
    y = conv(padded, wc, None, stride=1, padding=0, dilation=d)
    return _to_last(_add_bias(y, b))


def mxnet(x, w, b=None, *, kernel=None, stride=1, dilate=1, pad=0, adj=0, target_shape=None, num_filter=None,
          num_group=1, no_bias=None):
    """mx.nd.Deconvolution, weight (C_in, C_out/num_group, k...)."""
    rank = w.ndim - 2
    s, d = _list(stride, rank, "stride"), _list(dilate, rank, "dilate")
    full = _full(x, w, s, d, num_group)
    F = full.shape[2:]
    if target_shape is not None and any(int(t) for t in _list(target_shape, rank, "target_shape")):
        t = _list(target_shape, rank, "target_shape")
        begins = [(F[a] - t[a] + 1) // 2 for a in range(rank)]
        sizes = t
    else:
        p, q = _list(pad, rank, "pad"), _list(adj, rank, "adj")
        begins = p
        sizes = [F[a] - 2 * p[a] + q[a] for a in range(rank)]
    return _add_bias(_window(full, begins, sizes), b)


def onednn(x, w, b=None, *, strides=1, dilates=0, padding_l=0, padding_r=0, groups=1):
    """dnnl::deconvolution_forward, plain layouts: weights (OC, IC, k...) or (G, OC/G, IC/G, k...)."""
    rank = x.ndim - 2
    g = int(groups)
    if g == 1:
        wc = np.swapaxes(w, 0, 1)
    else:
        wc = np.swapaxes(w, 1, 2).reshape((w.shape[0] * w.shape[2], w.shape[1]) + w.shape[3:])
    s = _list(strides, rank, "strides")
    d = [v + 1 for v in _list(dilates, rank, "dilates")]
    full = _full(x, np.ascontiguousarray(wc), s, d, g)
    pl, pr = _list(padding_l, rank, "padding_l"), _list(padding_r, rank, "padding_r")
    sizes = [full.shape[2 + a] - pl[a] - pr[a] for a in range(rank)]
    return _add_bias(_window(full, pl, sizes), b)


def xnnpack(x, w, b=None, *, padding_top=0, padding_right=0, padding_bottom=0, padding_left=0, stride_height=1,
            stride_width=1, dilation_height=1, dilation_width=1, groups=1, adjustment_height=0, adjustment_width=0):
    """xnn_create/reshape/setup_deconvolution2d_nhwc_f32: x NHWC, w (G*OC_g, kh, kw, IC_g)."""
    g = int(groups)
    ocg, kh, kw, icg = w.shape[0] // g, w.shape[1], w.shape[2], w.shape[3]
    wc = w.reshape(g, ocg, kh, kw, icg).transpose(0, 4, 1, 2, 3).reshape(g * icg, ocg, kh, kw)
    full = _full(_to_first(x), np.ascontiguousarray(wc), [stride_height, stride_width],
                 [dilation_height, dilation_width], g)
    F = full.shape[2:]
    sizes = [F[0] - padding_top - padding_bottom + adjustment_height,
             F[1] - padding_left - padding_right + adjustment_width]
    return _to_last(_add_bias(_window(full, [padding_top, padding_left], sizes), b))


def run(framework, x, w, b, attrs):
    """Run `framework`'s layer with `attrs` (names as in tconv.translate) on arrays in its layouts."""
    fn = {"pytorch": pytorch, "onnx": onnx, "tensorflow": tensorflow, "keras": keras, "jax": jax, "mxnet": mxnet,
          "onednn": onednn, "xnnpack": xnnpack}[framework]
    attrs = dict(attrs)
    if framework == "onnx" and "group" in attrs:
        attrs["group"] = int(np.ravel(attrs["group"])[0])
    for key in ("groups", "num_group") + tuple(k for k in attrs if framework == "xnnpack"):
        if key in attrs and not isinstance(attrs[key], (str, bool)):
            v = np.ravel(attrs[key])
            if len(v) == 1:
                attrs[key] = int(v[0])
    if framework == "tensorflow" and not isinstance(attrs.get("padding", "VALID"), str):
        attrs["padding"] = list(attrs["padding"])
    return fn(x, w, b, **attrs)
