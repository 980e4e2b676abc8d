"""PyTorch peer, timed in one Python run through the tconv package: for every case of bench/suite.txt,
torch.nn.functional.conv_transpose{1,2,3}d against tconv.Plan (prepared once, as a torch layer is) and
tconv.conv_transpose (the one-call function), forward, plus both gradients (tconv.conv_transpose_backward
against the function torch's autograd calls, aten.convolution_backward), at 1 and 2 threads. Every result is checked against torch before it is timed.
Medians of alternating repetitions. Prints Markdown tables.

    PYTHONPATH=build/python /usr/bin/python3 bench/torch_peer.py [--threads 1,2] [--min-time 0.2] [--only NAME]
"""
import argparse
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import tconv

HERE = os.path.dirname(os.path.abspath(__file__))


def read_suite(path, only):
    cases = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, prob = line.split()[:2]
        if only and name != only:
            continue
        cases.append((name, tconv.Problem.parse(prob)))
    return cases


def gflop(p):
    f = 2.0 * p.mb * (p.ic // p.g) * p.oc
    for x in list(p.i) + list(p.k):
        f *= x
    return f / 1e9


def time_alternating(fns, min_time):
    for f in fns:
        f()
    t = [[] for _ in fns]
    total, reps = 0.0, 0
    while (total < min_time * len(fns) or reps < 5) and reps < 1000:
        for j, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            dt = time.perf_counter() - t0
            t[j].append(dt)
            total += dt
        reps += 1
    return [statistics.median(v) for v in t]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default=os.path.join(HERE, "suite.txt"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    print(f"torch {torch.__version__}\n")
    for nt in (int(x) for x in a.threads.split(",")):
        torch.set_num_threads(nt)
        print(f"### {nt} thread{'s' if nt > 1 else ''}\n")
        print("| case | GFLOP | tconv plan | tconv one-call | torch | plan / torch | tconv diff_src | torch diff_src | "
              "diff_src tconv / torch | tconv diff_wei | torch diff_wei | diff_wei tconv / torch |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name, p in read_suite(a.suite, a.only):
            rng = np.random.default_rng(1)
            x = rng.uniform(-1, 1, tuple(p.src_shape())).astype(np.float32)
            w = rng.uniform(-1, 1, tuple(p.wei_shape())).astype(np.float32)
            r = len(p.i)
            pad = [int(v) for v in p.pb]
            if list(p.pb) != list(p.pe):
                print(f"| {name} | asymmetric padding: torch cannot express it |")
                continue
            kw = dict(stride=list(p.s), padding=pad, output_padding=list(p.op), groups=p.g, dilation=list(p.d))
            fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[r]
            tx, tw = torch.from_numpy(x), torch.from_numpy(w)
            plan = tconv.Plan(x.shape, w, threads=nt, **kw)
            with torch.no_grad():
                ref = fn(tx, tw, **kw).numpy()
            scale = max(1e-30, float(np.abs(ref).max()))
            for who, got in (("tconv plan", plan(x)), ("tconv one-call", tconv.conv_transpose(x, w, threads=nt, **kw))):
                err = float(np.abs(got - ref).max()) / scale
                if err > 1e-4:
                    print(f"| {name} | CHECK FAILED: {who} differs from torch by {err:.2e} |")
                    break
            else:
                gy = rng.uniform(-1, 1, ref.shape).astype(np.float32)
                tgy = torch.from_numpy(gy)

                def torch_bwd():  # what autograd calls: both gradients, no forward
                    return torch.ops.aten.convolution_backward(tgy, tx, tw, None, list(p.s), pad, list(p.d), True,
                                                               list(p.op), p.g, [True, True, False])

                def tconv_bwd():
                    return tconv.conv_transpose_backward(gy, x, w, threads=nt, **kw)

                tgx, tgw, _ = torch_bwd()
                tgx, tgw = tgx.numpy(), tgw.numpy()
                gx, gw, _ = tconv_bwd()
                ex = float(np.abs(gx - tgx).max()) / max(1e-30, float(np.abs(tgx).max()))
                ew = float(np.abs(gw - tgw).max()) / max(1e-30, float(np.abs(tgw).max()))
                if ex > 1e-3 or ew > 1e-3:
                    print(f"| {name} | CHECK FAILED: gradients differ from torch ({ex:.2e}, {ew:.2e}) |")
                    continue

                def torch_fwd():
                    with torch.no_grad():
                        fn(tx, tw, **kw)

                def torch_grad(mask):
                    return lambda: torch.ops.aten.convolution_backward(tgy, tx, tw, None, list(p.s), pad, list(p.d),
                                                                       True, list(p.op), p.g, mask)

                def tconv_grad(mask):
                    return lambda: tconv.conv_transpose_backward(gy, x, w, threads=nt, output_mask=mask, **kw)

                t = time_alternating([lambda: plan(x), lambda: tconv.conv_transpose(x, w, threads=nt, **kw), torch_fwd],
                                     a.min_time)
                # Each gradient separately (diff_wei with diff_bia off, as in torch's call), each as many FLOPs
                # as the forward.
                td = time_alternating([tconv_grad((True, False, False)), torch_grad([True, False, False])], a.min_time)
                tw_ = time_alternating([tconv_grad((False, True, False)), torch_grad([False, True, False])], a.min_time)
                g = gflop(p)
                grads = (f"{g / td[0]:.1f} | {g / td[1]:.1f} | {td[1] / td[0]:.2f} | "
                         f"{g / tw_[0]:.1f} | {g / tw_[1]:.1f} | {tw_[1] / tw_[0]:.2f}")
                print(f"| {name} | {g:.3f} | {g / t[0]:.1f} | {g / t[1]:.1f} | {g / t[2]:.1f} | {t[2] / t[0]:.2f} | {grads} |",
                      flush=True)
        print()


if __name__ == "__main__":
    main()
