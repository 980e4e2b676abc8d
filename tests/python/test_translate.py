"""Translations between framework conventions, proven by computing: every random layer, written natively in
one framework, is translated to every other; the translated layer is run by tconv's implementation of the
target's semantics (tconv.conventions, which follows each framework's own definition independently of the
translator), the recipe is applied, and the result must equal the source layer's result."""
import numpy as np
import pytest

import tconv
from tconv import conventions
from tconv.translate import translate

FRAMEWORKS = ["pytorch", "tensorflow", "keras", "onnx", "jax", "mxnet", "onednn", "xnnpack"]
CHANNELS_LAST = {"tensorflow", "keras", "jax", "xnnpack"}


def weight_shape(fw, g, icg, ocg, k, transpose_kernel=False):
    k = list(k)
    if fw in ("pytorch", "onnx", "mxnet"):
        return [g * icg, ocg] + k
    if fw in ("tensorflow", "keras") or (fw == "jax" and transpose_kernel):
        return k + [ocg, icg]
    if fw == "jax":
        return k + [icg, ocg]
    if fw == "onednn":
        return [ocg, icg] + k if g == 1 else [g, ocg, icg] + k
    return [g * ocg] + k + [icg]  # xnnpack


def random_layer(fw, rng):
    """A random layer written with `fw`'s own attributes, valid or not (the caller filters)."""
    rank = 2 if fw == "xnnpack" else int(rng.integers(1, 4))
    grouped = fw in ("pytorch", "onnx", "mxnet", "onednn", "xnnpack")
    g = int(rng.choice([1, 1, 2, 3])) if grouped else 1
    icg, ocg = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    mb = int(rng.integers(1, 3))
    i = [int(rng.integers(1, 5)) for _ in range(rank)]
    k = [int(rng.integers(1, 5)) for _ in range(rank)]
    s = [int(rng.integers(1, 4)) for _ in range(rank)]
    d = [int(rng.choice([1, 1, 2])) for _ in range(rank)]
    keff = [d[a] * (k[a] - 1) + 1 for a in range(rank)]
    full = [s[a] * (i[a] - 1) + keff[a] for a in range(rank)]
    r = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    tk = False
    last = fw in CHANNELS_LAST
    if fw == "pytorch":
        attrs = {"stride": s, "padding": [r(0, keff[a] - 1) for a in range(rank)],
                 "output_padding": [r(0, max(s[a], d[a]) - 1) for a in range(rank)], "groups": g, "dilation": d}
        if rng.random() < 0.2:
            attrs.pop("output_padding")
            attrs["output_size"] = [full[a] - 2 * attrs["padding"][a] + r(0, s[a] - 1) for a in range(rank)]
    elif fw == "tensorflow":
        mode = rng.choice(["SAME", "VALID", "EXPLICIT"] if rank == 2 else ["SAME", "VALID"])
        if mode == "SAME":
            out = [r((i[a] - 1) * s[a] + 1, i[a] * s[a]) for a in range(rank)]
            pad = "SAME"
        elif mode == "VALID":
            out = [full[a] + r(0, s[a] - 1) for a in range(rank)]
            pad = "VALID"
        else:
            pairs = [(r(0, keff[a] - 1), r(0, keff[a] - 1)) for a in range(rank)]
            out = [full[a] - sum(pairs[a]) + r(0, s[a] - 1) for a in range(rank)]
            pad = [v for pr in pairs for v in pr]
        last = bool(rng.random() < 0.7)
        fmt = ("N" + "DHW"[3 - rank:] + "C") if last else ("NC" + "DHW"[3 - rank:])
        attrs = {"strides": s, "padding": pad, "output_shape": out, "dilations": d, "data_format": fmt}
    elif fw == "keras":
        last = bool(rng.random() < 0.7)
        attrs = {"filters": ocg, "kernel_size": k, "strides": s, "padding": str(rng.choice(["valid", "same"])),
                 "data_format": "channels_last" if last else "channels_first", "dilation_rate": d}
        if rng.random() < 0.5:
            attrs["output_padding"] = [r(0, s[a] - 1) for a in range(rank)]
    elif fw == "onnx":
        attrs = {"strides": s, "dilations": d, "group": g, "kernel_shape": k,
                 "output_padding": [r(0, max(s[a], d[a]) - 1) for a in range(rank)]}
        mode = rng.choice(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
        attrs["auto_pad"] = str(mode)
        if mode == "NOTSET":
            attrs["pads"] = [r(0, keff[a % rank] - 1) for a in range(2 * rank)]
        if rng.random() < 0.3:
            attrs["output_shape"] = [max(1, full[a] + r(-keff[a], 2)) for a in range(rank)]
    elif fw == "jax":
        tk = bool(rng.random() < 0.5)
        mode = rng.choice(["SAME", "VALID", "PAIRS"])
        pad = str(mode) if mode != "PAIRS" else [r(0, keff[a // 2]) for a in range(2 * rank)]
        attrs = {"strides": s, "padding": pad, "rhs_dilation": d, "transpose_kernel": tk}
    elif fw == "mxnet":
        attrs = {"kernel": k, "stride": s, "dilate": d, "num_filter": g * ocg, "num_group": g}
        if rng.random() < 0.4:
            attrs["target_shape"] = [r(max(1, full[a] - 2 * keff[a]), full[a]) for a in range(rank)]
        else:
            attrs["pad"] = [r(0, keff[a] - 1) for a in range(rank)]
            attrs["adj"] = [r(0, s[a] - 1) for a in range(rank)]
    elif fw == "onednn":
        attrs = {"strides": s, "dilates": [x - 1 for x in d], "padding_l": [r(0, keff[a] - 1) for a in range(rank)],
                 "padding_r": [r(-(s[a] - 1), keff[a] - 1) for a in range(rank)], "groups": g}
    else:
        attrs = {"padding_top": r(0, keff[0] - 1), "padding_bottom": r(0, keff[0] - 1),
                 "padding_left": r(0, keff[1] - 1), "padding_right": r(0, keff[1] - 1),
                 "stride_height": s[0], "stride_width": s[1], "dilation_height": d[0], "dilation_width": d[1],
                 "groups": g, "adjustment_height": r(0, s[0] - 1), "adjustment_width": r(0, s[1] - 1)}
    bias = bool(rng.random() < 0.5)
    if fw == "keras":
        attrs["use_bias"] = bias
    if fw == "mxnet":
        attrs["no_bias"] = not bias
    xs = [mb] + i + [g * icg] if last else [mb, g * icg] + i
    return attrs, xs, weight_shape(fw, g, icg, ocg, k, tk), bias, g * ocg


def valid_layers(fw, n, seed):
    rng = np.random.default_rng(seed)
    layers, tries = [], 0
    while len(layers) < n:
        tries += 1
        assert tries < 50 * n, f"the {fw} generator rarely makes valid layers"
        attrs, xs, ws, bias, oc = random_layer(fw, rng)
        try:
            tconv.translate.problem(fw, attrs, xs, ws, bias)
        except ValueError:
            continue
        layers.append((attrs, xs, ws, bias, oc))
    return layers


def same_layer(p, q):
    """Equal problems up to how the end crop is split between padding and output padding."""
    fields = ("mb", "g", "ic", "oc", "i", "k", "s", "d", "pb", "bias")
    end = lambda r: [pe - op for pe, op in zip(r.pe, r.op)]  # noqa: E731
    return all(getattr(p, f) == getattr(q, f) for f in fields) and end(p) == end(q)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("source", FRAMEWORKS)
def test_random_layers_translate_exactly_or_with_a_correct_recipe(source):
    rng = np.random.default_rng(1000 + FRAMEWORKS.index(source))
    stats = {"exact": 0, "recipe": 0, "unrepresentable": 0}
    for n, (attrs, xs, ws, bias, oc) in enumerate(valid_layers(source, 40, FRAMEWORKS.index(source))):
        x = rng.standard_normal(xs)
        w = rng.standard_normal(ws)
        b = rng.standard_normal(oc) if bias else None
        y = conventions.run(source, x, w, b, attrs)
        p = tconv.translate.problem(source, attrs, xs, ws, bias)
        assert y.shape[2:] == tuple(p.o()) or y.shape[1:-1] == tuple(p.o())
        for target in FRAMEWORKS:
            where = f"seed layer {n}: {source} {attrs} x{xs} w{ws} bias={bias} -> {target}"
            opts = {"transpose_kernel": bool(rng.random() < 0.5)} if target == "jax" else {}
            if target in ("tensorflow", "keras"):
                opts["channels_last"] = bool(rng.random() < 0.5)
            t = translate(source, attrs, xs, ws, target, bias=bias, **opts)
            if not t.representable:
                assert p.g > 1 or (target == "xnnpack" and len(p.i) != 2), where
                with pytest.raises(ValueError):
                    t.finish(y)
                stats["unrepresentable"] += 1
                continue
            stats["exact" if t.exact else "recipe"] += 1
            assert t.exact == (all(v == 0 for v in t.crop_begin + t.crop_end)), where
            xt, wt = t.convert_input(x), t.convert_weights(w)
            assert list(wt.shape) == t.weight_shape, where
            yt = conventions.run(target, xt, wt, b if t.bias else None, t.attrs)
            assert list(yt.shape) == t.output_shape, where
            out = t.finish(yt, bias=b)
            assert list(out.shape) == t.final_shape, where
            try:
                close(t.convert_output(out), y)
            except AssertionError as e:
                raise AssertionError(where + f"\ntranslation: {t.attrs} crop {t.crop_begin} {t.crop_end}") from e
            # Translating back gives the source's problem again.
            back = tconv.translate.problem(target, t.attrs, t.input_shape, t.weight_shape, t.bias)
            if t.exact and not t.bias_after:
                assert same_layer(back, p), where
    assert stats["exact"] > stats["recipe"]


def test_tf_same_in_pytorch_is_a_recipe_not_a_shift():
    t = translate("tensorflow", {"strides": 2, "padding": "SAME", "output_shape": [8, 8]}, (1, 4, 4, 3), (3, 3, 5, 3),
                  "pytorch")
    assert not t.exact and t.representable
    assert t.attrs["padding"] == [0, 0] and t.attrs["output_padding"] == [0, 0]
    assert t.crop_begin == [0, 0] and t.crop_end == [1, 1]
    assert any("odd pixel" in n for n in t.notes)
    assert "y = y[:, :, 0:-1, 0:-1]" in t.code


def test_pytorch_alignment_is_exact_in_onnx_tf_and_jax_but_not_keras():
    args = ("pytorch", {"stride": 2, "padding": 1, "output_padding": 1}, (1, 3, 4, 4), (3, 5, 3, 3))
    assert translate(*args, "onnx").attrs["pads"] == [1, 1, 0, 0]
    tf = translate(*args, "tensorflow")
    assert tf.exact and tf.attrs["padding"] == [1, 0, 1, 0] and tf.attrs["output_shape"] == [8, 8]
    assert "padding=[[0, 0], [1, 0], [1, 0], [0, 0]]" in tf.code
    assert "padding=[[0, 0], [0, 0], [1, 0], [1, 0]]" in translate(*args, "tensorflow", channels_last=False).code
    jax = translate(*args, "jax")
    assert jax.exact and "padding=((1, 2), (1, 2))" in jax.code
    keras = translate(*args, "keras")
    assert not keras.exact and keras.crop_begin == [1, 1]


def test_onnx_same_upper_is_tf_same():
    t = translate("onnx", {"strides": [2, 2], "auto_pad": "SAME_UPPER"}, (1, 2, 4, 4), (2, 3, 3, 3), "tensorflow")
    assert t.exact and t.attrs["padding"] == "SAME" and t.attrs["output_shape"] == [8, 8]
    t = translate("onnx", {"strides": [2, 2], "auto_pad": "SAME_LOWER"}, (1, 2, 4, 4), (2, 3, 3, 3), "pytorch")
    assert t.exact and t.attrs["padding"] == [1, 1] and t.attrs["output_padding"] == [1, 1]


def test_jax_kernel_is_flipped_unless_transpose_kernel():
    w = np.arange(2 * 3 * 3, dtype=np.float64).reshape(2, 3, 3)  # pytorch (C_in=2, C_out=3, k=3)
    base = ("pytorch", {"stride": 2}, (1, 2, 5), w.shape)
    plain = translate(*base, "jax").convert_weights(w)
    np.testing.assert_array_equal(plain, np.flip(w, axis=2).transpose(2, 0, 1))  # (k, I, O), flipped
    tk = translate(*base, "jax", transpose_kernel=True).convert_weights(w)
    np.testing.assert_array_equal(tk, w.transpose(2, 1, 0))  # (k, O, I), not flipped


def test_grouped_layers_are_not_representable_in_tf_keras_jax():
    for target in ("tensorflow", "keras", "jax"):
        t = translate("pytorch", {"groups": 2}, (1, 4, 5), (4, 3, 3), target)
        assert not t.representable and "groups" in t.notes[0]
    t = translate("pytorch", {"groups": 2}, (1, 4, 5, 5), (4, 3, 3, 3), "onednn")
    assert t.exact and t.weight_shape == [2, 3, 2, 3, 3]


@pytest.mark.parametrize("fw,attrs,xs,ws,needle", [
    ("caffe", {}, (1, 1, 3), (1, 1, 3), "framework 'caffe'"),
    ("pytorch", {"strides": 2}, (1, 1, 3), (1, 1, 3), "no attribute 'strides'"),
    ("tensorflow", {"strides": 2, "padding": "SAME"}, (1, 3, 1), (3, 1, 1), "output_shape is required"),
    ("tensorflow", {"strides": 2, "padding": "SAME", "output_shape": [9]}, (1, 3, 1), (3, 1, 1), "inconsistent"),
    ("tensorflow", {"padding": "FULL", "output_shape": [5]}, (1, 3, 1), (3, 1, 1), "'SAME', 'VALID'"),
    ("keras", {"strides": 2, "output_padding": 2}, (1, 3, 1), (3, 1, 1), "smaller than"),
    ("mxnet", {"stride": 2, "target_shape": [99]}, (1, 1, 3), (1, 1, 3), "target_shape"),
    ("xnnpack", {}, (1, 3, 1), (1, 3, 1), "only a 2-D"),
    ("onednn", {"padding_l": -1}, (1, 1, 3), (1, 1, 3), "padding_l"),
    ("pytorch", {}, (1, 2, 3), (3, 1, 3), "channels"),
    ("pytorch", {"stride": "2"}, (1, 1, 3), (1, 1, 3), "stride must be a list of integers"),
])
def test_bad_layers_raise_value_error_naming_the_attribute(fw, attrs, xs, ws, needle):
    with pytest.raises(ValueError, match=needle):
        translate(fw, attrs, xs, ws, "onnx")


def test_unknown_translate_option_is_an_error():
    with pytest.raises(ValueError, match="translate option 'flip'"):
        translate("pytorch", {}, (1, 1, 3), (1, 1, 3), "jax", flip=True)
