"""tconv.Plan and the threads= argument: a prepared layer equals torch's conv_transpose and tconv's one-call
function, on any thread count; bad use is refused with a clear message."""
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tconv

LAYERS = [  # (input shape, weight shape, kwargs): each reaches a different path of the fast engine
    ((2, 8, 9, 8), (8, 1, 4, 4), dict(stride=2, padding=1, groups=8)),          # rows: depthwise
    ((3, 16, 6, 7), (16, 3, 4, 4), dict(stride=2, padding=1)),                  # rows: RGB output
    ((2, 24, 7, 5), (24, 40, 3, 3), dict(stride=2, padding=1, output_padding=1)),  # phase GEMM
    ((1, 6, 17), (6, 10, 16), dict(stride=8, padding=4)),                       # 1-D large kernel and stride
    ((1, 4, 3, 4, 5), (4, 6, 2, 2, 2), dict(stride=2)),                         # 3-D
]


def torch_ref(x, w, b, kw):
    fn = {3: F.conv_transpose1d, 4: F.conv_transpose2d, 5: F.conv_transpose3d}[x.ndim]
    with torch.no_grad():
        return fn(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                  None if b is None else torch.from_numpy(b).double(), **kw).numpy()


@pytest.mark.parametrize("xs,ws,kw", LAYERS)
def test_plan_matches_torch_and_one_call(xs, ws, kw):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    groups = kw.get("groups", 1)
    b = rng.standard_normal(ws[1] * groups).astype(np.float32)
    plan = tconv.Plan(x.shape, w, b, **kw)
    got = plan(x)
    np.testing.assert_allclose(got, torch_ref(x, w, b, kw), rtol=1e-4, atol=1e-4)
    for threads in (1, 2, 3):
        assert np.array_equal(tconv.conv_transpose(x, w, b, threads=threads, **kw), got), threads
        assert np.array_equal(tconv.Plan(x.shape, w, b, threads=threads, **kw)(x), got), threads
    assert plan.algorithm in [name for name, _ in tconv.algorithms()]


def test_plan_keeps_its_weights_and_runs_from_threads():
    rng = np.random.default_rng(2)
    x = [rng.standard_normal((2, 12, 8, 8)) for _ in range(4)]
    w = rng.standard_normal((12, 20, 4, 4))
    plan = tconv.Plan(x[0].shape, w, stride=2, padding=1)
    want = [tconv.conv_transpose(xi, w, stride=2, padding=1) for xi in x]
    w[:] = 0  # the plan packed its own copy
    got = [None] * 4

    def work(j):
        for _ in range(5):
            got[j] = plan(x[j])

    pool = [threading.Thread(target=work, args=(j,)) for j in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for j in range(4):
        assert np.array_equal(got[j], want[j])


def test_threads_for_gradients_and_conv():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 6, 5, 5)), rng.standard_normal((6, 4, 3, 3))
    y = tconv.conv_transpose(x, w, stride=2)
    g1 = tconv.conv_transpose_backward(y, x, w, stride=2, threads=1)
    g2 = tconv.conv_transpose_backward(y, x, w, stride=2, threads=2)
    for a, b in zip(g1, g2):
        assert np.array_equal(a, b)
    # Wide channels: the phase gradients, float32 (where the order of a sum shows), any thread count.
    x2, w2 = rng.standard_normal((3, 40, 9, 7)).astype(np.float32), rng.standard_normal((40, 36, 3, 3)).astype(np.float32)
    y2 = tconv.conv_transpose(x2, w2, stride=2, padding=1)
    for last in (False, True):
        xx, yy = (np.ascontiguousarray(np.moveaxis(a, 1, -1)) if last else a for a in (x2, y2))
        g = [tconv.conv_transpose_backward(yy, xx, w2, stride=2, padding=1, threads=t, channels_last=last,
                                           algorithm="phase") for t in (1, 2, 3)]
        for other in g[1:]:
            for a, b in zip(g[0], other):
                assert np.array_equal(a, b)
    wc = rng.standard_normal((4, 6, 3, 3))
    assert np.array_equal(tconv.conv(x, wc, threads=1), tconv.conv(x, wc, threads=2))


@pytest.mark.parametrize("make,msg", [
    (lambda: tconv.Plan((1, 2, 3, 3), np.ones((2, 1, 3, 3)), threads=0), "threads=0"),
    (lambda: tconv.Plan((1, 2, -3, 3), np.ones((2, 1, 3, 3))), "input_shape=(1, 2, -3, 3) must be positive ints"),
    (lambda: tconv.Plan((1, 2, 3.5, 3), np.ones((2, 1, 3, 3))), "input_shape=(1, 2, 3.5, 3) must be positive ints"),
    (lambda: tconv.Plan((1, 2, 3, 3), np.ones((2, 1, 3, 3)), algorithm="fft"), "algorithm='fft' is unknown"),
    (lambda: tconv.Plan((1, 3, 3, 3), np.ones((2, 1, 3, 3))), "weight"),
    (lambda: tconv.Plan((1, 2, 3, 3), np.ones((2, 1, 3, 3)))(np.ones((1, 2, 4, 3))), "but the plan was made for"),
    (lambda: tconv.Plan((1, 2, 3, 3), np.ones((2, 1, 3, 3)))(np.ones((1, 2, 3, 3), np.float32)),
     "the plan's weights are float64"),
    (lambda: tconv.conv(np.ones((1, 2, 3, 3)), np.ones((1, 2, 3, 3)), threads=-1), "threads=-1"),
    (lambda: tconv.conv_transpose_backward(np.ones((1, 1, 5, 5)), np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3)),
                                           threads=1.5), "threads=1.5"),
])
def test_errors(make, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_one_call_keeps_and_follows_the_weights():
    """conv_transpose keeps its packed weights between calls and reuses them only while they are unchanged:
    weights changed in place give the new result."""
    xs, ws, kw = LAYERS[2]
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs).astype(np.float32), rng.standard_normal(ws).astype(np.float32)
    tconv.clear_weight_cache()
    first = tconv.conv_transpose(x, w, None, threads=1, **kw)
    assert np.array_equal(tconv.conv_transpose(x, w, None, threads=1, **kw), first)
    s = tconv.weight_cache_stats()
    assert (s["plans"], s["misses"], s["hits"]) == (1, 1, 1) and s["bytes"] > 0
    w[0, 0, 1, 2] += 1.0
    got = tconv.conv_transpose(x, w, None, threads=1, **kw)
    np.testing.assert_allclose(got, torch_ref(x, w, None, kw), rtol=1e-4, atol=1e-4)
    assert not np.array_equal(got, first)
    assert tconv.weight_cache_stats()["hits"] == 1
    tconv.clear_weight_cache()
    assert tconv.weight_cache_stats() == dict(plans=0, bytes=0, hits=0, misses=0, skipped=0)
