#!/usr/bin/env python3
"""Freeze PyTorch results (forward and autograd gradients, float64) for a few problems as .npy files that the
C++ tests compare against, so the conventions are pinned by PyTorch itself.

Run with Debian's interpreter from the repository root:  /usr/bin/python3 tests/data/make_torch_cases.py
Manifest line: problem string|output_size (empty or comma list)|file prefix
"""
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")

# (canonical problem, output_size or None). Padding is symmetric: PyTorch has no other kind.
CASES = [
    ("mb2_ic3_oc4_i5_k3_s2_p1_op1_bias", None),
    ("mb1_ic2_oc3_i4x5_k3x2_s2x3_d2x1_p1x0_op1x2_bias", None),
    ("mb2_g2_ic4_oc6_i3x3_k4_s2_p1_bias", None),
    ("mb1_g3_ic3_oc3_i5x5_k3_s2_p1", None),
    ("mb1_ic2_oc2_i3x2x3_k2x3x2_s2x1x2_p0x1x0_op1x0x1_bias", None),
    ("mb1_ic2_oc2_i4_k3_d3_op2", None),
    ("mb1_ic2_oc3_i4x4_k3_s2_p1_bias", (8, 7)),
    ("mb1_ic5_oc7_i1x1_k4", None),
]


def parse(s):
    fields = {}
    for tok in s.split("_"):
        key, val = re.match(r"([a-z]+)(.*)", tok).groups()
        fields[key] = [int(v) for v in val.split("x")] if val else True
    rank = len(fields["i"])
    per_axis = lambda k, d: (fields.get(k, [d]) * rank)[:rank] if len(fields.get(k, [d])) == 1 else fields[k]
    return dict(mb=fields["mb"][0], g=fields.get("g", [1])[0], ic=fields["ic"][0], oc=fields["oc"][0], i=fields["i"],
                k=per_axis("k", 1), s=per_axis("s", 1), d=per_axis("d", 1), p=per_axis("p", 0),
                op=per_axis("op", 0), bias="bias" in fields)


def main():
    torch.manual_seed(20261121)
    lines = [f"# PyTorch {torch.__version__} results, float64, frozen by tests/data/make_torch_cases.py"]
    for n, (prob, output_size) in enumerate(CASES):
        p = parse(prob)
        rank = len(p["i"])
        x = torch.randn(p["mb"], p["ic"], *p["i"], dtype=torch.float64, requires_grad=True)
        w = torch.randn(p["ic"], p["oc"] // p["g"], *p["k"], dtype=torch.float64, requires_grad=True)
        b = torch.randn(p["oc"], dtype=torch.float64, requires_grad=True) if p["bias"] else None
        conv = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}[rank]
        if output_size is not None:  # the module's forward(output_size=...) derives output_padding
            m = conv(p["ic"], p["oc"], p["k"], stride=p["s"], padding=p["p"], groups=p["g"], dilation=p["d"],
                     bias=p["bias"]).double()
            with torch.no_grad():
                m.weight.copy_(w)
                if b is not None:
                    m.bias.copy_(b)
            m.weight = torch.nn.Parameter(w)  # keep w as the leaf whose gradient is checked
            if b is not None:
                m.bias = torch.nn.Parameter(b)
            y = m(x, output_size=list(output_size))
        else:
            fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[rank]
            y = fn(x, w, b, stride=p["s"], padding=p["p"], output_padding=p["op"], groups=p["g"], dilation=p["d"])
        gy = torch.randn_like(y)
        y.backward(gy)
        prefix = f"case{n}"
        arrays = {"x": x, "w": w, "y": y, "gy": gy, "gx": x.grad, "gw": m.weight.grad if output_size else w.grad}
        if b is not None:
            arrays["b"] = b
            arrays["gb"] = m.bias.grad if output_size else b.grad
        for k, v in arrays.items():
            np.save(os.path.join(OUT, f"{prefix}.{k}.npy"), v.detach().numpy().astype(np.float64))
        lines.append(f"{prob}|{','.join(map(str, output_size)) if output_size else ''}|{prefix}")
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
