"""channels_last=True: data in (N, spatial..., C) order, as PyTorch's channels_last memory format and
TensorFlow's NHWC. Results are PyTorch's results with the channel axis moved last."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tconv
from test_plan import torch_ref  # torch's conv_transpose in float64

LAYERS = [  # (channels-first input shape, weight shape, kwargs)
    ((2, 24, 7, 5), (24, 40, 3, 3), dict(stride=2, padding=1, output_padding=1)),  # phase reads NHWC itself
    ((2, 8, 9, 8), (8, 1, 4, 4), dict(stride=2, padding=1, groups=8)),           # depthwise (rows, converted)
    ((1, 6, 17), (6, 10, 16), dict(stride=8, padding=4)),                        # 1-D
    ((1, 4, 3, 4, 5), (4, 6, 2, 2, 2), dict(stride=2)),                          # 3-D
    ((2, 6, 5, 4), (6, 2, 3, 3), dict(stride=2, groups=3, dilation=2)),
]


def last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def first(a):
    return np.moveaxis(a, -1, 1)


@pytest.mark.parametrize("xs,ws,kw", LAYERS)
def test_forward_and_plan_match_torch(xs, ws, kw):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(np.float32)
    want = last(torch_ref(x, w, b, kw))
    got = tconv.conv_transpose(last(x), w, b, channels_last=True, **kw)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    plan = tconv.Plan(last(x).shape, w, b, channels_last=True, threads=2, **kw)
    assert np.array_equal(plan(last(x)), got)
    with pytest.raises(ValueError, match="but the plan was made for"):
        plan(x)


def test_torch_channels_last_memory_format():
    """A torch tensor in channels_last memory format, viewed as NHWC numpy, goes straight in."""
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((2, 16, 6, 7)).astype(np.float32))
    w = torch.from_numpy(rng.standard_normal((16, 8, 4, 4)).astype(np.float32))
    xl = x.contiguous(memory_format=torch.channels_last)
    nhwc = xl.permute(0, 2, 3, 1).numpy()  # no copy: the memory is already NHWC
    assert nhwc.flags["C_CONTIGUOUS"]
    got = tconv.conv_transpose2d(nhwc, w.numpy(), stride=2, padding=1, channels_last=True)
    with torch.no_grad():
        want = F.conv_transpose2d(xl, w, stride=2, padding=1).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("xs,ws,kw", LAYERS)
def test_gradients(xs, ws, kw):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = tconv.conv_transpose(x, w, **kw)
    dy = rng.standard_normal(y.shape)
    gx, gw, gb = tconv.conv_transpose_backward(dy, x, w, **kw)
    lx, lw, lb = tconv.conv_transpose_backward(last(dy), last(x), w, channels_last=True, **kw)
    np.testing.assert_allclose(first(lx), gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lw, gw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lb, gb, rtol=1e-12, atol=1e-12)


def test_regular_convolution():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 6, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    kw = dict(stride=2, padding=1, groups=2)
    y = tconv.conv2d(x, w, b, **kw)
    np.testing.assert_allclose(first(tconv.conv2d(last(x), w, b, channels_last=True, **kw)), y, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    ref = tconv.conv_backward(dy, x, w, **kw)
    got = tconv.conv_backward(last(dy), last(x), w, channels_last=True, **kw)
    np.testing.assert_allclose(first(got[0]), ref[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-12, atol=1e-12)


def test_errors():
    x, w = np.zeros((1, 5, 5, 3), np.float32), np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(ValueError, match="channels_last='yes' must be True or False"):
        tconv.conv_transpose(x, w, channels_last="yes")
    with pytest.raises(ValueError, match=r"weight has 3 input channels \(axis 0\) but input has C=5"):
        tconv.conv_transpose(x, w)  # an NHWC array read channels-first: C would be 5
    with pytest.raises(ValueError, match=r"\(N, spatial..., C\) with at least 1 spatial axis"):
        tconv.conv_transpose(np.zeros((1, 3), np.float32), w, channels_last=True)
    assert tconv.conv_transpose(x, w, channels_last=True).shape == (1, 7, 7, 2)
