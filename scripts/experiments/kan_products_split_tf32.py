#!/usr/bin/env python3
"""Would the KAN layers' float32 products run faster as three TF32 products ("3xTF32": a = a_big + a_small, both
TF32, a.b ~ a_big.b_big + a_big.b_small + a_small.b_big, the small-small term dropped) than in plain float32 on the CUDA
cores, at float32's accuracy? Times, with PyTorch's cuBLAS and CUDA graphs, the 36 products of one training step's
KANLinear layers (U-KAN paper preset, batch 8: y = F W^T, dW = dy^T F, dF = dy W of each of the 12 layers), in float32
(TF32 off, PyTorch's default), in TF32 (one product), and as 3xTF32 by three cuBLAS TF32 products per product, and
prints each one's error against float64. Usage: python3 scripts/experiments/kan_products_split_tf32.py [--size 256 512]
"""
import argparse

import torch

# (tokens per image at 256^2, channels) of the four KAN stages of the paper model: block1, block2, dblock1, dblock2.
STAGES = [(16 * 16, 160), (8 * 8, 256), (16 * 16, 160), (32 * 32, 128)]
FEATURES = 9   # SiLU + 8 cubic B-spline bases per input


def split(a):
    """a = big + small with big rounded to TF32 (to nearest, as cvt.rna) and small = a - big, exact in float32."""
    big = (a.view(torch.int32) + 0x1000).bitwise_and(~0x1FFF).view(torch.float32)
    return big, a - big


def products(size, batch=8):
    """The step's products as (A, B) pairs: C = A @ B with A, B float32 on the GPU (transposed views where the step uses them)."""
    out = []
    scale = (size // 256) ** 2
    for tokens, c in STAGES:
        for _layer in range(3):
            rows, k = tokens * batch * scale, c * FEATURES
            f = torch.randn(rows, k, device="cuda")
            w = torch.randn(c, k, device="cuda") * 0.05
            dy = torch.randn(rows, c, device="cuda")
            out += [("y", f, w.t()), ("dW", dy.t(), f), ("dF", dy, w)]
    return out


def graph_ms(fn, reps=20):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    for _ in range(5):
        g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(10):
            g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 10)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs="+", default=[256, 512])
    a = ap.parse_args()
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}; ms per step's 36 KAN products (CUDA graph, median)")
    for size in a.size:
        pairs = products(size)
        splits = [(n, split(x), split(y)) for n, x, y in pairs]
        outs = [torch.empty(x.shape[0], y.shape[1], device="cuda") for _, x, y in pairs]

        for kind in ("y", "dW", "dF", "all"):
            sel = [i for i, p in enumerate(pairs) if kind == "all" or p[0] == kind]

            def fp32_k(sel=sel):
                for i in sel:
                    torch.mm(pairs[i][1], pairs[i][2], out=outs[i])

            def tf32_k(sel=sel):
                fp32_k(sel)

            def x3_k(sel=sel, with_split=False):
                for i in sel:
                    x, y = pairs[i][1], pairs[i][2]
                    (xb, xs), (yb, ys) = splits[i][1], splits[i][2]
                    if with_split:
                        xb, xs = split(x)
                        yb, ys = split(y)
                    torch.mm(xb, yb, out=outs[i])
                    outs[i].addmm_(xb, ys)
                    outs[i].addmm_(xs, yb)
            torch.backends.cuda.matmul.allow_tf32 = False
            t_fp32 = graph_ms(fp32_k)
            torch.backends.cuda.matmul.allow_tf32 = True
            t_tf32 = graph_ms(tf32_k)
            t_x3 = graph_ms(x3_k)
            t_x3s = graph_ms(lambda: x3_k(with_split=True))
            print(f"{size}^2 {kind:>3}: fp32 {t_fp32:.3f}  tf32 {t_tf32:.3f}  3xtf32 {t_x3:.3f}  3xtf32+split {t_x3s:.3f} ms", flush=True)

        # accuracy of each way against float64, on every product: max |err| / max |C64|
        errs = {"fp32": 0.0, "tf32": 0.0, "3xtf32": 0.0}
        for (n, x, y), (_, (xb, xs), (yb, ys)) in zip(pairs, splits):
            ref = x.double() @ y.double()
            scale = ref.abs().max().item()
            torch.backends.cuda.matmul.allow_tf32 = False
            e32 = (x @ y).double().sub(ref).abs().max().item() / scale
            torch.backends.cuda.matmul.allow_tf32 = True
            e_t = (x @ y).double().sub(ref).abs().max().item() / scale
            o = xb @ yb
            o.addmm_(xb, ys)
            o.addmm_(xs, yb)
            e3 = o.double().sub(ref).abs().max().item() / scale
            errs["fp32"] = max(errs["fp32"], e32)
            errs["tf32"] = max(errs["tf32"], e_t)
            errs["3xtf32"] = max(errs["3xtf32"], e3)
        print(f"{size}^2 max error / max |C| against float64: " + "  ".join(f"{k} {v:.2e}" for k, v in errs.items()), flush=True)
        torch.backends.cuda.matmul.allow_tf32 = False
        del pairs, splits, outs
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
