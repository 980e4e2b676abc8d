"""`tconv upsample` against torch.nn.functional.interpolate / pixel_shuffle, and `tconv render`'s SVG
parsed as XML. The command line is build/bin/tconv (TCONV_CLI overrides)."""
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("TCONV_CLI", os.path.join(ROOT, "build", "bin", "tconv"))


def tconv(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def upsample(x, mode, factor, align=False):
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), x)
        args = ["upsample", "-i", os.path.join(d, "x.npy"), "-o", os.path.join(d, "y.npy"), "--mode", mode,
                "--factor", str(factor)]
        if align:
            args.append("--align-corners")
        tconv(*args)
        return np.load(os.path.join(d, "y.npy"))


CASES = [(mode, shape, f, align)
         for mode, shapes in [("nearest", [(1, 2, 5), (2, 3, 4, 7), (1, 1, 3, 4, 2)]),
                              ("linear", [(1, 2, 5)]), ("bilinear", [(2, 3, 4, 7), (1, 1, 1, 5)]),
                              ("trilinear", [(1, 2, 3, 4, 2)]), ("bicubic", [(2, 3, 4, 7), (1, 2, 6, 3)])]
         for shape in shapes for f in (2, 3) for align in ((False,) if mode == "nearest" else (False, True))]


@pytest.mark.parametrize("mode,shape,factor,align", CASES)
def test_interpolate_equals_pytorch(mode, shape, factor, align):
    rng = np.random.default_rng(abs(hash((mode, shape, factor, align))) % 2**32)
    x = rng.standard_normal(shape)
    got = upsample(x, mode, factor, align)
    kw = {} if mode == "nearest" else {"align_corners": align}
    want = F.interpolate(torch.from_numpy(x), scale_factor=factor, mode=mode, **kw).numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_interpolate_float32_equals_pytorch():
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 6)).astype(np.float32)
    for mode in ("nearest", "bilinear", "bicubic"):
        got = upsample(x, mode, 2)
        assert got.dtype == np.float32
        want = F.interpolate(torch.from_numpy(x), scale_factor=2, mode=mode).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,r", [((1, 4, 2, 3), 2), ((2, 18, 3, 2), 3)])
def test_pixel_shuffle_equals_pytorch(shape, r):
    x = np.random.default_rng(1).standard_normal(shape)
    got = upsample(x, "pixel-shuffle", r)
    np.testing.assert_array_equal(got, F.pixel_shuffle(torch.from_numpy(x), r).numpy())


def test_fcn_kernel_equals_a_pytorch_conv_transpose_with_that_kernel():
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 5))
    f = 2
    k1 = np.array([0.25, 0.75, 0.75, 0.25])
    w = np.tile(np.outer(k1, k1), (3, 1, 1, 1))
    want = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=f, padding=1, groups=3).numpy()
    np.testing.assert_allclose(upsample(x, "fcn", f), want, rtol=1e-12, atol=1e-12)


def test_resize_convolution_equals_pytorch():
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 4))
    k1 = np.array([0.25, 0.5, 0.25])
    w = np.tile(np.outer(k1, k1), (2, 1, 1, 1))
    up = F.interpolate(torch.from_numpy(x), scale_factor=2, mode="nearest")
    want = F.conv2d(up, torch.from_numpy(w), padding="same", groups=2).numpy()
    np.testing.assert_allclose(upsample(x, "resize-conv", 2), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("view", ["steps", "collect", "matrix", "overlap", "all"])
def test_render_svg_is_well_formed(view):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.svg")
        tconv("render", "-e", "seed000-2d", "--view", view, "-o", path)
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")
        texts = [t.text for t in root.iter() if t.tag.endswith("text")]
        assert texts[-1 if view == "overlap" else 0] is not None
        assert "problem mb1_ic1_oc1_i2x2_k3_s2_p1" in texts
        # The kernel's -1 appears in every view that draws the kernel, C or the flipped kernel.
        assert ("-1" in texts) == (view != "overlap")
