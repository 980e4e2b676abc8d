"""tconv.nn against PyTorch: every layer's forward and gradients against torch.autograd on the same model and
data, float64 finite differences, the optimisers step by step against torch.optim, the losses, and weights
saved by tconv loaded into torch.nn.Sequential (and corrupt files refused)."""
import os
import struct
import zipfile

import numpy as np
import pytest
import torch
import torch.nn as tnn

import tconv.nn as tn

torch.set_default_dtype(torch.float64)

CONV = {1: tnn.Conv1d, 2: tnn.Conv2d, 3: tnn.Conv3d}
TCONV = {1: tnn.ConvTranspose1d, 2: tnn.ConvTranspose2d, 3: tnn.ConvTranspose3d}


def torch_model(layers, rank):
    mods = []
    for kind, s in layers:
        s = dict(s)
        if kind == "conv":
            mods.append(CONV[rank](**s))
        elif kind == "conv_transpose":
            mods.append(TCONV[rank](**s))
        elif kind == "relu":
            mods.append(tnn.ReLU())
        elif kind == "leaky_relu":
            mods.append(tnn.LeakyReLU(**s))
        elif kind == "tanh":
            mods.append(tnn.Tanh())
        elif kind == "sigmoid":
            mods.append(tnn.Sigmoid())
        elif kind == "upsample":
            mode = s.get("mode", "nearest")
            if mode == "bilinear":
                mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
            kw = {"align_corners": s.get("align_corners", False)} if mode != "nearest" else {}
            mods.append(tnn.Upsample(scale_factor=s["scale_factor"], mode=mode, **kw))
        elif kind == "pixel_shuffle":
            mods.append(tnn.PixelShuffle(s["upscale_factor"]))
    return tnn.Sequential(*mods)


def pair(layers, rank, dtype="float64", seed=0):
    ours = tn.Sequential(layers, rank=rank, dtype=dtype, seed=seed)
    theirs = torch_model(layers, rank)
    if dtype == "float32":
        theirs = theirs.float()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


MODELS = [
    # (name, rank, input shape, layers)
    ("tconv-k3s2-op1", 2, (2, 3, 5, 4), [("conv_transpose", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2,
                                                                  padding=1, output_padding=1))]),
    ("tconv-groups-dil", 2, (1, 4, 4, 5), [("conv_transpose", dict(in_channels=4, out_channels=6, kernel_size=(2, 3),
                                                                    stride=(2, 1), padding=(0, 1), dilation=2, groups=2))]),
    ("tconv-1d-nobias", 1, (3, 2, 7), [("conv_transpose", dict(in_channels=2, out_channels=3, kernel_size=5, stride=3,
                                                                padding=2, output_padding=2, bias=False))]),
    ("tconv-3d", 3, (1, 2, 3, 2, 3), [("conv_transpose", dict(in_channels=2, out_channels=2, kernel_size=2, stride=2))]),
    ("conv-strided", 2, (2, 3, 7, 6), [("conv", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1))]),
    ("conv-groups-dil-1d", 1, (2, 4, 11), [("conv", dict(in_channels=4, out_channels=2, kernel_size=3, dilation=2,
                                                         padding=2, groups=2))]),
    ("activations", 2, (2, 3, 4, 4), [("conv", dict(in_channels=3, out_channels=4, kernel_size=1)), ("leaky_relu",
                                      dict(negative_slope=0.2)), ("conv", dict(in_channels=4, out_channels=4, kernel_size=1)),
                                      ("tanh", {}), ("conv", dict(in_channels=4, out_channels=2, kernel_size=1)),
                                      ("sigmoid", {}), ("conv", dict(in_channels=2, out_channels=2, kernel_size=1)), ("relu", {})]),
    ("upsample-nearest", 2, (2, 2, 3, 4), [("upsample", dict(scale_factor=2)), ("conv", dict(in_channels=2, out_channels=1,
                                                                                              kernel_size=3, padding=1))]),
    ("upsample-bilinear", 2, (1, 2, 4, 3), [("upsample", dict(scale_factor=3, mode="bilinear")),
                                            ("conv", dict(in_channels=2, out_channels=2, kernel_size=3, padding=1))]),
    ("upsample-bilinear-ac-1d", 1, (2, 2, 5), [("upsample", dict(scale_factor=2, mode="bilinear", align_corners=True)),
                                               ("conv", dict(in_channels=2, out_channels=1, kernel_size=3))]),
    ("pixel-shuffle", 2, (2, 2, 3, 3), [("conv", dict(in_channels=2, out_channels=8, kernel_size=3, padding=1)),
                                        ("pixel_shuffle", dict(upscale_factor=2))]),
    ("autoencoder", 2, (2, 1, 8, 8), [("conv", dict(in_channels=1, out_channels=4, kernel_size=3, stride=2, padding=1)),
                                      ("relu", {}),
                                      ("conv", dict(in_channels=4, out_channels=8, kernel_size=3, stride=2, padding=1)),
                                      ("relu", {}),
                                      ("conv_transpose", dict(in_channels=8, out_channels=4, kernel_size=4, stride=2, padding=1)),
                                      ("relu", {}),
                                      ("conv_transpose", dict(in_channels=4, out_channels=1, kernel_size=4, stride=2, padding=1)),
                                      ("sigmoid", {})]),
]


@pytest.mark.parametrize("name,rank,shape,layers", MODELS, ids=[m[0] for m in MODELS])
def test_forward_and_gradients_match_torch_autograd(name, rank, shape, layers):
    rng = np.random.default_rng(1)
    ours, theirs = pair(layers, rank)
    x = rng.standard_normal(shape)
    y = ours.forward(x)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = theirs(xt)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    grads = ours.grads()
    for k, p in theirs.named_parameters():
        np.testing.assert_allclose(grads[k], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
    # Gradients accumulate, as in PyTorch, until zero_grad.
    ours.backward(dy)
    for k, g in ours.grads().items():
        np.testing.assert_allclose(g, 2 * grads[k], rtol=1e-12, atol=1e-14)
    ours.zero_grad()
    assert all(not g.any() for g in ours.grads().values())


def test_float32_matches_torch_float32():
    layers = MODELS[-1][3]
    ours, theirs = pair(layers, 2, dtype="float32")
    x = np.random.default_rng(2).random((2, 1, 8, 8), dtype=np.float32)
    y = ours.forward(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,rank,shape,layers", MODELS, ids=[m[0] for m in MODELS])
def test_gradients_against_float64_finite_differences(name, rank, shape, layers):
    rng = np.random.default_rng(3)
    ours = tn.Sequential(layers, rank=rank, dtype="float64", seed=5)
    x = rng.standard_normal(shape)
    y = ours.forward(x)
    c = rng.standard_normal(y.shape)  # L = <c, y>
    dx = ours.backward(c)
    grads = ours.grads()
    eps = 1e-6

    def loss():
        return float(np.sum(c * ours.forward(x)))

    # Input: a few coordinates (relu kinks are avoided by the random data almost surely).
    for idx in [tuple(int(rng.integers(s)) for s in shape) for _ in range(6)]:
        old = x[idx]
        x[idx] = old + eps
        lp = loss()
        x[idx] = old - eps
        lm = loss()
        x[idx] = old
        assert abs((lp - lm) / (2 * eps) - dx[idx]) < 1e-5 * max(1.0, abs(dx[idx])), (name, "input", idx)
    state = ours.state_dict()
    for k, v in state.items():
        for _ in range(4):
            idx = tuple(int(rng.integers(s)) for s in v.shape)
            w = v.copy()
            w[idx] += eps
            ours.load_state_dict({**state, k: w})
            lp = loss()
            w[idx] -= 2 * eps
            ours.load_state_dict({**state, k: w})
            lm = loss()
            ours.load_state_dict(state)
            g = grads[k][idx]
            assert abs((lp - lm) / (2 * eps) - g) < 1e-5 * max(1.0, abs(g)), (name, k, idx)


def test_losses_match_torch():
    rng = np.random.default_rng(4)
    p, t = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 4, 5))
    t[0, 0, 0, 0] = p[0, 0, 0, 0]  # L1's gradient at zero difference is 0, as torch's sign
    for ours, theirs in ((tn.mse_loss, torch.nn.functional.mse_loss), (tn.l1_loss, torch.nn.functional.l1_loss)):
        pt = torch.from_numpy(p.copy()).requires_grad_(True)
        lt = theirs(pt, torch.from_numpy(t))
        lt.backward()
        value, grad = ours(p, t)
        assert value == pytest.approx(lt.item(), rel=1e-12)
        np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="shape"):
        tn.mse_loss(p, t[:, :2])


OPTIMISERS = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.05, momentum=0.9)),
    ("sgd", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-3)),
    ("adam", dict(lr=1e-2)),
    ("adam", dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
]


@pytest.mark.parametrize("kind,kw", OPTIMISERS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(OPTIMISERS)])
def test_optimiser_steps_match_torch_optim(kind, kw):
    layers = MODELS[-1][3]
    ours, theirs = pair(layers, 2)
    rng = np.random.default_rng(6)
    x, target = rng.random((2, 1, 8, 8)), rng.random((2, 1, 8, 8))
    opt = (tn.SGD if kind == "sgd" else tn.Adam)(ours, **kw)
    topt = (torch.optim.SGD if kind == "sgd" else torch.optim.Adam)(theirs.parameters(), **kw)
    for step in range(6):
        opt.zero_grad()
        _, g = tn.mse_loss(ours.forward(x), target)
        ours.backward(g)
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(theirs(torch.from_numpy(x)), torch.from_numpy(target)).backward()
        topt.step()
        mine = ours.state_dict()
        for k, p in theirs.named_parameters():
            np.testing.assert_allclose(mine[k], p.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=f"{k} after step {step + 1}")


def test_saved_weights_load_into_torch(tmp_path):
    layers = MODELS[-1][3]
    ours = tn.Sequential(layers, rank=2, dtype="float32", seed=11)
    path = tmp_path / "w.npz"
    ours.save(path)
    arrays = np.load(path)
    assert sorted(arrays.files) == sorted(ours.state_dict())
    assert all(arrays[k].dtype == np.float32 for k in arrays.files)
    theirs = torch_model(layers, 2).float()
    theirs.load_state_dict({k: torch.from_numpy(arrays[k]) for k in arrays.files})
    x = np.random.default_rng(7).random((1, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(ours.forward(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    # ... and back: torch's state_dict written by numpy (also compressed) loads into tconv.
    other = tn.Sequential(layers, rank=2, dtype="float32", seed=99)
    assert not np.array_equal(other.forward(x), ours.forward(x))
    np.savez_compressed(tmp_path / "t.npz", **{k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    other.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(other.forward(x), ours.forward(x))


def test_corrupt_or_mismatched_weight_files_are_refused(tmp_path):
    layers = MODELS[-1][3]
    ours = tn.Sequential(layers, rank=2, dtype="float32", seed=11)
    good = tmp_path / "w.npz"
    ours.save(good)
    data = good.read_bytes()
    before = ours.state_dict()

    def refused(content, match, name="bad.npz"):
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            np.savez(p, **content)
        with pytest.raises(ValueError, match=match):
            ours.load(p)
        for k, v in ours.state_dict().items():
            np.testing.assert_array_equal(v, before[k])

    refused(b"", "too short")
    refused(b"hello, this is not a zip file at all, not even close", "no zip directory")
    refused(data[: len(data) // 2], "no zip directory|truncated|past the end")
    flipped = bytearray(data)
    flipped[200] ^= 0xFF  # inside the first member's data
    refused(bytes(flipped), "CRC|corrupt|npy|header")
    state = {k: v for k, v in before.items()}
    missing = dict(state)
    del missing["2.weight"]
    refused(missing, r"2\.weight are missing")
    refused({**state, "9.weight": np.zeros(3, np.float32)}, r"9\.weight is not a parameter")
    refused({**state, "0.weight": np.zeros((4, 1, 2, 2), np.float32)}, r"0\.weight has shape \(4,1,2,2\) but the model's is \(4,1,3,3\)")
    refused({**state, "0.bias": np.zeros(4, np.int32)}, "dtype|int|float")
    with pytest.raises(ValueError, match="cannot open"):
        ours.load(tmp_path / "does-not-exist.npz")
    # A member that is not .npy
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("0.weight.txt", "1 2 3")
    with pytest.raises(ValueError, match="not a .npy"):
        ours.load(tmp_path / "z.npz")


def test_default_initialisation_is_torchs_distribution():
    ours = tn.Sequential([("conv_transpose", dict(in_channels=64, out_channels=32, kernel_size=4, stride=2)),
                          ("conv", dict(in_channels=32, out_channels=64, kernel_size=3))], rank=2, seed=3)
    s = ours.state_dict()
    for k, fan_in in (("0.weight", 32 * 16), ("0.bias", 32 * 16), ("1.weight", 32 * 9), ("1.bias", 32 * 9)):
        bound = 1 / np.sqrt(fan_in)
        v = s[k]
        assert np.abs(v).max() <= bound
        if v.size > 1000:  # uniform(-b, b): std b/sqrt(3)
            assert v.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)
            assert np.abs(v).max() > 0.95 * bound
    again = tn.Sequential([("conv_transpose", dict(in_channels=64, out_channels=32, kernel_size=4, stride=2)),
                           ("conv", dict(in_channels=32, out_channels=64, kernel_size=3))], rank=2, seed=3)
    for k in s:
        np.testing.assert_array_equal(s[k], again.state_dict()[k])


def test_bilinear_initialisation_is_fcns_and_upsamples_like_bilinear():
    m = tn.Sequential([("conv_transpose", dict(in_channels=3, out_channels=3, kernel_size=4, stride=2, padding=1,
                                               groups=3))], rank=2, dtype="float64")
    m.init_bilinear(0)
    w = m.state_dict()["0.weight"]
    f = np.array([0.25, 0.75, 0.75, 0.25])
    for c in range(3):
        np.testing.assert_allclose(w[c, 0], np.outer(f, f))
    assert not m.state_dict()["0.bias"].any()
    x = np.random.default_rng(8).random((1, 3, 6, 6))
    y = m.forward(x)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=2, mode="bilinear", align_corners=False).numpy()
    np.testing.assert_allclose(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], rtol=1e-12)
    dense = tn.Sequential([("conv_transpose", dict(in_channels=2, out_channels=2, kernel_size=4, stride=2, padding=1))])
    dense.init_bilinear(0)
    w = dense.state_dict()["0.weight"]
    assert w[0, 1].sum() == 0 and w[1, 0].sum() == 0 and w[0, 0].sum() == pytest.approx(4)
    bad = tn.Sequential([("conv_transpose", dict(in_channels=2, out_channels=2, kernel_size=3, stride=2))])
    with pytest.raises(ValueError, match="kernel_size 2f - f%2 = 4"):
        bad.init_bilinear(0)


def test_layer_errors_are_clear():
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        tn.Sequential([("conv", dict(in_channels=3, out_channels=4, kernel_size=3, groups=2))])
    with pytest.raises(ValueError, match="output_padding"):
        tn.Sequential([("conv_transpose", dict(in_channels=1, out_channels=1, kernel_size=3, stride=2, output_padding=2))])
    with pytest.raises(ValueError, match="unknown layer kind 'dropout'"):
        tn.Sequential([("dropout", {})])
    m = tn.Sequential([("conv", dict(in_channels=2, out_channels=1, kernel_size=3))])
    with pytest.raises(ValueError, match="the input has 1 channels; the layer takes 2"):
        m.forward(np.zeros((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="empty"):
        m.forward(np.zeros((1, 2, 2, 2)))
    with pytest.raises(ValueError, match="scale_factor=0 must be a positive integer"):
        tn.Sequential([("upsample", dict(scale_factor=0))])
    with pytest.raises(ValueError, match="bicubic is not offered as a layer"):
        tn.Sequential([("upsample", dict(scale_factor=2, mode="bicubic"))])
    with pytest.raises(ValueError, match="upscale_factor=0 must be positive"):
        tn.Sequential([("pixel_shuffle", dict(upscale_factor=0))])
    # A gradient of the wrong shape is refused by every layer, not silently reshaped.
    for layers, x in (([("upsample", dict(scale_factor=2, mode="bilinear"))], np.zeros((1, 1, 3, 3))),
                      ([("pixel_shuffle", dict(upscale_factor=2))], np.zeros((1, 4, 3, 3))),
                      ([("relu", {})], np.zeros((1, 1, 3, 3))),
                      ([("conv_transpose", dict(in_channels=1, out_channels=1, kernel_size=2, stride=2))], np.zeros((1, 1, 3, 3)))):
        layer = tn.Sequential(layers)
        y = layer.forward(x)
        with pytest.raises(ValueError, match="the output gradient has shape"):
            layer.backward(np.zeros((1, y.shape[1], y.shape[2] - 2, y.shape[3] - 2)))
    with pytest.raises(ValueError, match="needs a forward"):
        tn.Sequential([("pixel_shuffle", dict(upscale_factor=2))]).backward(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"state_dict mismatch: missing \['0.bias'\]"):
        m.load_state_dict({"0.weight": m.state_dict()["0.weight"]})
    with pytest.raises(ValueError, match=r"0.weight has shape \(1,2,3,3\)"):
        m.load_state_dict({**m.state_dict(), "0.weight": np.zeros((1, 2, 3, 4))})
