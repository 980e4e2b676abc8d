#!/usr/bin/env python3
"""Freeze ONNX's own ConvTranspose backend cases (onnx/backend/test/case/node/convtranspose.py, as shipped
by Debian's python3-onnx) into .npy files plus a manifest that the C++ tests read.

Run with /usr/bin/python3 from the repository root:  /usr/bin/python3 tests/data/make_onnx_cases.py
Manifest line: name|attr=value;attr=v1,v2;...|input files|output file
"""
import os
import sys

import numpy as np
import onnx.backend.test.case.node.convtranspose as ct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")
cases = []


def capture(node, inputs, outputs, name, **kwargs):
    attrs = []
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, (list, tuple)):
            v = ",".join(str(int(x)) for x in v)
        attrs.append(f"{a.name}={v}")
    files = []
    for tag, arr in zip(["X", "W", "B"], inputs):
        fn = f"{name}.{tag}.npy"
        np.save(os.path.join(OUT, fn), np.ascontiguousarray(arr, dtype=np.float32))
        files.append(fn)
    yfn = f"{name}.Y.npy"
    np.save(os.path.join(OUT, yfn), np.ascontiguousarray(outputs[0], dtype=np.float32))
    cases.append(f"{name}|{';'.join(attrs)}|{' '.join(files)}|{yfn}")


import onnx  # noqa: E402

ct.expect = capture
for attr in sorted(dir(ct.ConvTranspose)):
    if attr.startswith("export"):
        getattr(ct.ConvTranspose, attr)()
with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write(f"# ONNX {onnx.__version__} ConvTranspose backend cases, frozen by tests/data/make_onnx_cases.py\n")
    f.write("\n".join(cases) + "\n")
print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)
