"""tconv against Debian's PyTorch on seeded random problems: forward through every algorithm, and the three
gradients against torch.autograd. A failure message names the seed and problem that reproduce it."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tconv

N_PROBLEMS = int(os.environ.get("TCONV_DIFF_PROBLEMS", "1000"))
BASE_SEED = int(os.environ.get("TCONV_DIFF_SEED", "20261121"))
TORCH_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
ALGORITHMS = [name for name, _ in tconv.algorithms()]


def random_problem(rng):
    rank = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
    g = int(rng.choice([1, 1, 2, 3]))
    depthwise = rng.random() < 0.15
    ic = g * (1 if depthwise else int(rng.integers(1, 4)))
    oc = g * int(rng.integers(1, 4))
    maxi = {1: 9, 2: 6, 3: 4}[rank]
    spec = dict(mb=int(rng.integers(1, 3)), g=g, ic=ic, oc=oc, i=[], k=[], s=[], d=[], p=[], op=[])
    for _ in range(rank):
        k, s, d = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.choice([1, 1, 2, 3]))
        i = int(rng.integers(1, maxi + 1))
        full = s * (i - 1) + d * (k - 1) + 1
        p = int(rng.integers(0, max(1, (full - 1) // 2 + 1)))  # keeps the output non-empty
        op = int(rng.integers(0, max(s, d)))
        spec["i"].append(i); spec["k"].append(k); spec["s"].append(s); spec["d"].append(d)
        spec["p"].append(p); spec["op"].append(op)
    spec["bias"] = bool(rng.random() < 0.5)
    spec["output_size"] = rng.random() < 0.15
    return spec


def run_case(seed):
    rng = np.random.default_rng(seed)
    sp = random_problem(rng)
    rank = len(sp["i"])
    x = rng.standard_normal((sp["mb"], sp["ic"], *sp["i"]))
    w = rng.standard_normal((sp["ic"], sp["oc"] // sp["g"], *sp["k"]))
    b = rng.standard_normal(sp["oc"]) if sp["bias"] else None
    kw = dict(stride=sp["s"], padding=sp["p"], groups=sp["g"], dilation=sp["d"])
    op = sp["op"]
    output_size = None
    if sp["output_size"]:  # ask for the size through output_size instead of output_padding
        output_size = [s * (i - 1) - 2 * p + d * (k - 1) + 1 + o
                       for s, i, p, d, k, o in zip(sp["s"], sp["i"], sp["p"], sp["d"], sp["k"], op)]
        # PyTorch's output_size admits only op < stride
        output_size = [min(sz, s * (i - 1) - 2 * p + d * (k - 1) + s)
                       for sz, s, i, p, d, k in zip(output_size, sp["s"], sp["i"], sp["p"], sp["d"], sp["k"])]
    where = f"seed={seed} (TCONV_DIFF_SEED/N to rerun) problem={sp}"

    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if b is not None else None
    try:
        if output_size is not None:
            m = getattr(torch.nn, f"ConvTranspose{rank}d")(sp["ic"], sp["oc"], sp["k"], bias=False, **kw).double()
            m.weight = torch.nn.Parameter(tw)
            ty = m(tx, output_size=output_size)
            if tb is not None:
                ty = ty + tb.view(1, -1, *([1] * rank))
        else:
            ty = TORCH_FN[rank](tx, tw, tb, output_padding=op, **kw)
    except RuntimeError as e:  # PyTorch refuses: tconv must refuse too
        with pytest.raises(ValueError):
            tconv.conv_transpose(x, w, b, output_padding=op, output_size=output_size, **kw)
        return f"refused: {e}"
    tol = dict(rtol=1e-10, atol=1e-10)
    y_ref = ty.detach().numpy()
    algos = ALGORITHMS if seed % 7 == 0 else ["auto"]
    for algo in algos:
        if algo != "auto":
            p = tconv._problem(x.shape, w, b, kw["stride"], kw["padding"], op, kw["groups"], kw["dilation"], True,
                               output_size)
            if dict(tconv.explain_choice(p))[algo]:
                continue  # this algorithm refuses the problem (stated reason); others cover it
        y = tconv.conv_transpose(x, w, b, output_padding=0 if output_size else op, output_size=output_size,
                                 algorithm=algo, **kw)
        np.testing.assert_allclose(y, y_ref, err_msg=f"forward {algo} {where}", **tol)
    gy = rng.standard_normal(y_ref.shape)
    ty.backward(torch.tensor(gy))
    gx, gw, gb = tconv.conv_transpose_backward(gy, x, w, output_padding=0 if output_size else op,
                                               output_size=output_size, **kw)
    np.testing.assert_allclose(gx, tx.grad.numpy(), err_msg=f"grad_input {where}", **tol)
    np.testing.assert_allclose(gw, (m.weight.grad if output_size else tw.grad).numpy(),
                               err_msg=f"grad_weight {where}", **tol)
    if tb is not None:
        np.testing.assert_allclose(gb, tb.grad.numpy(), err_msg=f"grad_bias {where}", **tol)
    return "ok"


def test_random_problems_against_pytorch():
    outcomes = [run_case(BASE_SEED + n) for n in range(N_PROBLEMS)]
    assert outcomes.count("ok") >= 0.9 * N_PROBLEMS, [o for o in outcomes if o != "ok"][:5]


def test_float32_matches_pytorch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 7, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 4, 3)).astype(np.float32)
    y = tconv.conv_transpose2d(x, w, stride=2, padding=1, groups=1)
    assert y.dtype == np.float32
    ref = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_regular_convolution_and_its_gradients():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = F.conv2d(tx, tw, tb, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    y = tconv.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    ty.backward(torch.tensor(gy))
    gx, gw, gb = tconv.conv_backward(gy, x, w, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    for got, ref in ((gx, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-10, atol=1e-10)


def test_any_strides_and_asymmetric_padding():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((1, 2, 10, 12))
    x = base[:, :, ::2, ::3]  # non-contiguous view
    w = rng.standard_normal((2, 2, 3, 3))
    y = tconv.conv_transpose2d(x, w, stride=2)
    np.testing.assert_allclose(y, tconv.conv_transpose2d(np.ascontiguousarray(x), w, stride=2))
    # (begin, end) pairs crop the full output asymmetrically.
    full = tconv.conv_transpose2d(x, w, stride=2)
    crop = tconv.conv_transpose2d(x, w, stride=2, padding=[(0, 1), (2, 0)])
    np.testing.assert_array_equal(crop, full[:, :, 0:-1, 2:])


def test_nan_and_inf_propagate_like_pytorch():
    x = np.zeros((1, 1, 3), dtype=np.float64)
    x[0, 0, 1] = np.nan
    x[0, 0, 2] = np.inf
    w = np.ones((1, 1, 2))
    y = tconv.conv_transpose1d(x, w, stride=2)
    ref = F.conv_transpose1d(torch.tensor(x), torch.tensor(w), stride=2).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))


@pytest.mark.parametrize("call, message", [
    (lambda: tconv.conv_transpose2d(np.ones((1, 1, 2, 2), np.int64), np.ones((1, 1, 3, 3))), "dtype int64"),
    (lambda: tconv.conv_transpose2d(np.ones((1, 1, 2, 2), np.float32), np.ones((1, 1, 3, 3))), "one dtype"),
    (lambda: tconv.conv_transpose2d(np.ones((1, 1, 2)), np.ones((1, 1, 3))), "expects input of 4 dimensions"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3))), "weight has shape (1, 1, 3)"),
    (lambda: tconv.conv_transpose(np.ones((2,)), np.ones((1, 1, 3))), "at least 1 spatial axis"),
    (lambda: tconv.conv_transpose(np.ones((0, 1, 2)), np.ones((1, 1, 3))), "mb=0 must be positive"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 0)), np.ones((1, 1, 3))), "input size i[0]=0 must be positive"),
    (lambda: tconv.conv_transpose(np.ones((1, 2, 3)), np.ones((1, 1, 3))), "weight has 1 input channels"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2, output_padding=2),
     "output_padding op[0]=2 must be smaller than stride s[0]=2 or dilation d[0]=1"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2, output_size=[9]),
     "output_size[0]=9 is out of range"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), padding=9), "must be positive"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), np.ones(2)), "bias has shape (2,)"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), algorithm="fft"), "algorithm='fft'"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=[1, 2]), "has 2 values"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), threads=0), "threads=0"),
    (lambda: tconv.conv_transpose([[[1.0]]], np.ones((1, 1, 3))), "must be a numpy.ndarray"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2 ** 62),
     "overflows 64-bit integers"),
    # the layer arguments (python/args_ext.cpp): the argument, its value and the rule
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2.0),
     "stride=2.0 must be an int or a sequence of 2 ints"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=(2, 1.5)),
     "stride=(2, 1.5) must be an int or a sequence of 2 ints"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), dilation="2"),
     "dilation='2' must be an int or a sequence of 2 ints"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=((1, 0),)),
     "padding=((1, 0),) must hold one (begin, end) pair per spatial axis (2)"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=((1, 0), (1, 2, 3))),
     "must hold one (begin, end) pair per spatial axis (2)"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), padding=-1),
     "padding=-1 must not be negative"),
    (lambda: tconv.conv_transpose(np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3)), groups=True),
     "groups=True must be a positive int"),
    (lambda: tconv.conv_transpose(np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3)), groups=0),
     "groups=0 must be a positive int"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), stride=2 ** 70),
     "stride=1180591620717411303424 does not fit in 64 bits"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), output_size=5),
     "output_size=5 must be a sequence of ints"),
    (lambda: tconv.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 3)), output_size=[5.0]),
     "output_size=[5.0] must be a sequence of ints"),
    (lambda: tconv.conv2d(np.ones((1, 4, 3, 3)), np.ones((2, 3, 1, 1)), groups=2),
     "weight has 3 input channels per group (axis 1) but input has C=4 in 2 groups"),
    (lambda: tconv.conv_transpose(np.ones((1, 3, 3, 2)), np.ones((3, 1, 1, 1)), channels_last=True),
     "weight has 3 input channels (axis 0) but input has C=2"),
])
def test_bad_input_is_a_value_error(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert message in str(e.value)


def test_layer_arguments_in_every_spelling():
    # ints, numpy ints, one value for every axis, per-axis values and (begin, end) pairs name the same layer
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((2, 3, 3, 3))
    ref = tconv.conv_transpose(x, w, stride=(2, 2), padding=(1, 1), output_padding=(1, 1), dilation=(1, 1))
    for kw in (dict(stride=2, padding=1, output_padding=1), dict(stride=np.int64(2), padding=[1], output_padding=(1,)),
               dict(stride=[2, 2], padding=((1, 1), (1, 1)), output_padding=np.int32(1), dilation=[1])):
        np.testing.assert_array_equal(tconv.conv_transpose(x, w, **kw), ref)
    y = tconv.conv_transpose(x, w, stride=2, padding=((1, 0), (0, 1)))  # asymmetric: torch's (1, 1) with a crop
    full = tconv.conv_transpose(x, w, stride=2)
    np.testing.assert_array_equal(y, full[:, :, 1:, :-1])


def test_explain_choice_and_algorithms():
    names = [n for n, _ in tconv.algorithms()]
    assert names[-1] == "scatter"
    verdicts = dict(tconv.explain_choice("mb1_ic1_oc1_i4_k3_d2_op1"))
    assert "not smaller than stride" in verdicts["conv_grad"]
    assert verdicts["scatter"] == ""


# The fast gradient paths (phase) need wide channel groups, which the random problems above never draw.
@pytest.mark.parametrize("xs,ws,kw", [
    ((2, 40, 7, 6), (40, 24, 4, 4), dict(stride=2, padding=1)),
    ((3, 16, 9), (16, 36, 5), dict(stride=3, padding=2, dilation=2, output_padding=1)),
    ((1, 48, 3, 4, 5), (48, 12, 2, 3, 2), dict(stride=(2, 1, 2), padding=(0, 1, 1))),
    ((2, 64, 5, 5), (64, 16, 3, 3), dict(stride=2, padding=1, groups=2, output_padding=1)),
    ((4, 100, 1, 1), (100, 33, 4, 4), dict()),
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_gradients_match_torch_autograd(xs, ws, kw, channels_last):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = TORCH_FN[len(xs) - 2](tx, tw, tb, **kw)
    gy = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(gy))
    last = (lambda a: np.moveaxis(a, 1, -1)) if channels_last else (lambda a: a)
    gx, gw, gb = tconv.conv_transpose_backward(last(gy), last(x), w, algorithm="phase", channels_last=channels_last, **kw)
    np.testing.assert_allclose(gx, last(tx.grad.numpy()), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-9, atol=1e-9)
    # output_mask leaves out what is not asked for, as torch's convolution_backward does.
    gx2, gw2, gb2 = tconv.conv_transpose_backward(last(gy), last(x), w, output_mask=(True, False, False),
                                                  channels_last=channels_last, **kw)
    assert gw2 is None and gb2 is None
    np.testing.assert_allclose(gx2, gx, rtol=1e-12, atol=1e-12)
    gx3, gw3, gb3 = tconv.conv_transpose_backward(last(gy), last(x), w, output_mask=[False, True, True],
                                                  channels_last=channels_last, **kw)
    assert gx3 is None
    np.testing.assert_allclose(gw3, gw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb3, gb, rtol=1e-12, atol=1e-12)


def test_output_mask_errors():
    x, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3))
    gy = tconv.conv_transpose(x, w)
    for bad in [(True, True), "abc", (1, 0, 1), None]:
        with pytest.raises(ValueError, match="output_mask=.* must be three booleans"):
            tconv.conv_transpose_backward(gy, x, w, output_mask=bad)
    wc = np.ones((1, 2, 3, 3))
    gx, gw, gb = tconv.conv_backward(tconv.conv(x, wc), x, wc, output_mask=(False, False, True))
    assert gx is None and gw is None and gb.shape == (1,) and gb[0] == 18


@pytest.mark.parametrize("kw", [dict(stride=1, padding=1), dict(stride=2, padding=1), dict(stride=1, padding=2, dilation=2)],
                         ids=["k3s1", "k4s2", "k3d2"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_winograd_float32_accuracy(kw, channels_last):
    """The layers auto gives to winograd (its rounding differs from the direct sum's): float32 results against
    PyTorch's float64, with an error of the order of the direct sum's (phase's) and within PyTorch's own float32
    tolerance, in both layouts and for any thread count."""
    rng = np.random.default_rng(7)
    k = 4 if kw["stride"] == 2 else 3
    size = (10, 12) if kw["stride"] == 2 else (16, 20)  # (where auto prefers winograd: enough products saved)
    x = rng.standard_normal((2, 48, *size)).astype(np.float32)
    w = rng.standard_normal((48, 40, k, k)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    plan = tconv.Plan(x.shape, w, b, **kw)
    assert plan.algorithm == "winograd"
    ref = F.conv_transpose2d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                             torch.tensor(b, dtype=torch.float64), **kw).numpy()
    xx = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if channels_last else x
    back = (lambda y: np.moveaxis(y, -1, 1)) if channels_last else (lambda y: y)
    wino = [back(tconv.conv_transpose(xx, w, b, threads=t, channels_last=channels_last, **kw)) for t in (1, 2, 3)]
    for other in wino[1:]:
        assert np.array_equal(wino[0], other)
    direct = back(tconv.conv_transpose(xx, w, b, algorithm="phase", channels_last=channels_last, **kw))
    err_w, err_d = np.abs(wino[0] - ref).max(), np.abs(direct - ref).max()
    assert err_w <= 8 * err_d + 1e-6, (err_w, err_d)
    np.testing.assert_allclose(wino[0], ref, rtol=1e-4, atol=1e-4)
    torch32 = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy()
    np.testing.assert_allclose(wino[0], torch32, rtol=1e-4, atol=1e-4)


def _small_int_case(seed, x_shape, w_shape, kw):
    """Small integers (x, w, b), PyTorch's float64 transposed convolution of them rounded to float32 (exact
    references for winograd's 2-D and 3-D tiles, whose transforms keep such sums exact), and the largest sum of
    the terms' magnitudes (the same convolution of |x|, |w|, |b|) for the 1-D layers' F(6,2), which rounds."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, x_shape).astype(np.float32)
    w = rng.integers(-3, 4, w_shape).astype(np.float32)
    b = rng.integers(-3, 4, w_shape[1]).astype(np.float32)
    f = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}[len(x_shape)]
    t = lambda a: torch.tensor(np.abs(a), dtype=torch.float64)
    ref = f(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
            torch.tensor(b, dtype=torch.float64), **kw).numpy().astype(np.float32)
    bound = f(t(x), t(w), t(b), **kw).numpy().max()
    return x, w, b, ref, bound


def _assert_f62(y, ref, bound):
    """winograd's F(6,2) (1-D layers) rounds (its G holds fractions such as 1/18, and a tile's rounding reaches
    all its outputs): every value within 64 float32 epsilons of the largest sum of |terms|, far below the 1 that a
    term missed or added on small integers would cost; and some value not exact (F(3,2) would be: F(6,2) ran)."""
    tol = 64 * np.finfo(np.float32).eps * bound
    assert tol < 0.5
    err = np.abs(y.astype(np.float64) - ref.astype(np.float64)).max()
    assert 0 < err <= tol, (err, tol)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape", [(128, 64, 300, 4, 2, 1), (256, 128, 60, 16, 8, 4), (250, 125, 60, 15, 8, 4)],
                         ids=["k4s2", "k16s8", "k15s8"])
def test_winograd_f62_float32_accuracy(shape, channels_last):
    """1-D layers, where auto's winograd takes F(6,2) (7 products for 6 outputs of 2 taps; its transforms round):
    on random float32 data the error against PyTorch's float64 stays within 8x the direct sum's (phase's) and
    within 1e-4 (absolute and relative) of PyTorch's float32 result, for plans of 1 and 2 threads (the same bits)."""
    ic, oc, n, k, s, p = shape
    rng = np.random.default_rng(17)
    x = rng.standard_normal((1, ic, n)).astype(np.float32)
    w = (rng.standard_normal((ic, oc, k)) / np.sqrt(2 * ic)).astype(np.float32)
    b = rng.standard_normal(oc).astype(np.float32)
    kw = dict(stride=s, padding=p)
    xx = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if channels_last else x
    back = (lambda y: np.moveaxis(y, -1, 1)) if channels_last else (lambda y: y)
    plans = [tconv.Plan(xx.shape, w, b, channels_last=channels_last, threads=t, **kw) for t in (1, 2)]
    assert plans[0].algorithm == "winograd"
    ref = F.conv_transpose1d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                             torch.tensor(b, dtype=torch.float64), **kw).numpy()
    wino = [back(plan(xx)) for plan in plans]
    assert np.array_equal(wino[0], wino[1])
    direct = back(tconv.conv_transpose(xx, w, b, algorithm="phase", channels_last=channels_last, **kw))
    err_w, err_d = np.abs(wino[0] - ref).max(), np.abs(direct - ref).max()
    assert err_d < err_w <= 8 * err_d, (err_w, err_d)
    np.testing.assert_allclose(wino[0], ref, rtol=1e-4, atol=1e-4)
    torch32 = F.conv_transpose1d(torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw).numpy()
    np.testing.assert_allclose(wino[0], torch32, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("oc", [64, 40], ids=["oc64", "oc40"])
def test_winograd_streamed_output(oc):
    """A channels-last output of 2 MiB or more, which winograd streams (whole aligned vectors around the caches;
    with 40 channels a position's vectors are aligned only at some positions, and each has a tail): auto takes
    winograd for this 1-D layer in both layouts; on small integers its result lies within F(6,2)'s rounding of
    PyTorch's float64, the same for 1 and 2 threads and for the plan; channels-first too."""
    kw = dict(stride=2, padding=1)
    x, w, b, ref, bound = _small_int_case(11, (1, 40, 8192), (40, oc, 4), kw)
    assert ref.size * 4 >= 2 * 1024 * 1024
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    plan = tconv.Plan(xl.shape, w, b, channels_last=True, **kw)
    assert plan.algorithm == "winograd"
    assert tconv.Plan(x.shape, w, b, **kw).algorithm == "winograd"
    ys = [np.moveaxis(tconv.conv_transpose(xl, w, b, threads=t, channels_last=True, **kw), -1, 1) for t in (1, 2)]
    ys.append(np.moveaxis(plan(xl), -1, 1))
    _assert_f62(ys[0], ref, bound)
    assert all(np.array_equal(ys[0], y) for y in ys[1:])
    # channels-first: the staged output rows go to the destination by streaming transposes
    ys = [tconv.conv_transpose(x, w, b, threads=t, **kw) for t in (1, 2)]
    _assert_f62(ys[0], ref, bound)
    assert np.array_equal(ys[0], ys[1])


@pytest.mark.parametrize("threads", [1, 2])
def test_winograd_phase_tasks(threads):
    """Channels-last with more than 1 MiB of transformed weights per row of phases (here 8 phases x 7 x 256 x 96
    values): winograd's tasks take one phase each, phases outermost. On small integers the result lies within
    F(6,2)'s rounding of PyTorch's float64, the plan's the same as the one-call's."""
    kw = dict(stride=8, padding=4)
    x, w, b, ref, bound = _small_int_case(12, (2, 256, 50), (256, 96, 16), kw)
    xl = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    plan = tconv.Plan(xl.shape, w, b, channels_last=True, threads=threads, algorithm="winograd", **kw)
    y = np.moveaxis(plan(xl), -1, 1)
    _assert_f62(y, ref, bound)
    y1 = tconv.conv_transpose(xl, w, b, threads=threads, channels_last=True, algorithm="winograd", **kw)
    assert np.array_equal(np.moveaxis(y1, -1, 1), y)


@pytest.mark.parametrize("case", [((1, 256, 50), (256, 256, 16), dict(stride=8, padding=4)),
                                  ((2, 256, 37), (256, 200, 16), dict(stride=8, padding=4)),
                                  ((1, 256, 9, 10), (256, 160, 4, 4), dict(stride=2, padding=1))],
                         ids=["k16s8_oc256", "k16s8_oc200", "k4s2_2d"])
def test_winograd_channel_chunks(case):
    """Channels-first, more than 4 MiB of transformed weights per row of phases: each winograd task computes a
    chunk of the output channels (here two; with 200 channels the last chunk ends in a partial panel). On small
    integers the result equals PyTorch's float64 exactly in 2-D, and lies within F(6,2)'s rounding of it in 1-D,
    the same for 1 and 2 threads, one-call and plan (test_plan.cpp: with a fused epilogue)."""
    shape, w_shape, kw = case
    x, w, b, ref, bound = _small_int_case(13, shape, w_shape, kw)
    ys = [tconv.conv_transpose(x, w, b, threads=t, algorithm="winograd", **kw) for t in (1, 2)]
    ys.append(tconv.Plan(x.shape, w, b, algorithm="winograd", **kw)(x))
    if len(shape) == 4:
        assert np.array_equal(ys[0], ref)
    else:
        _assert_f62(ys[0], ref, bound)
    assert all(np.array_equal(ys[0], y) for y in ys[1:])


@pytest.mark.parametrize("channels_last", [False, True])
def test_winograd_shorter_stretches(channels_last):
    """hifigan_up1 (1-D, k16 s8, 512 -> 256 channels on 400 inputs): the planner shortens each task's stretch of
    positions where fewer GEMM rows are then computed in vain. On small integers the result lies within F(6,2)'s
    rounding of PyTorch's float64, the same for 1 and 2 threads."""
    kw = dict(stride=8, padding=4)
    x, w, b, ref, bound = _small_int_case(14, (1, 512, 400), (512, 256, 16), kw)
    xi = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if channels_last else x
    ys = []
    for t in (1, 2):
        plan = tconv.Plan(xi.shape, w, b, channels_last=channels_last, threads=t, algorithm="winograd", **kw)
        y = plan(xi)
        ys.append(np.moveaxis(y, -1, 1) if channels_last else y)
    _assert_f62(ys[0], ref, bound)
    assert np.array_equal(ys[0], ys[1])


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1), dict(stride=1, padding=2, dilation=2)],
                         ids=["k3s2", "k3d2"])
def test_winograd_rank3(kw, channels_last):
    """Rank 3: 2-D tiles, each depth tap a segment of the same GEMM (its own transformed weights). Requested by
    name, on small integers, the result equals PyTorch's float64 exactly, for 1 and 2 threads."""
    rng = np.random.default_rng(13)
    x = rng.integers(-3, 4, (2, 40, 5, 9, 11)).astype(np.float32)
    w = rng.integers(-3, 4, (40, 36, 3, 3, 3)).astype(np.float32)
    b = rng.integers(-3, 4, 36).astype(np.float32)
    ref = F.conv_transpose3d(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
                             torch.tensor(b, dtype=torch.float64), **kw).numpy().astype(np.float32)
    xx = np.ascontiguousarray(np.moveaxis(x, 1, -1)) if channels_last else x
    back = (lambda y: np.moveaxis(y, -1, 1)) if channels_last else (lambda y: y)
    for t in (1, 2):
        y = tconv.conv_transpose(xx, w, b, threads=t, channels_last=channels_last, algorithm="winograd", **kw)
        assert np.array_equal(back(y), ref)
