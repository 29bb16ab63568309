#!/usr/bin/env python3
"""Are cuBLAS's float32 products of the KAN layers short of parallelism? Times each of the 36 products of one U-KAN
training step (paper preset, batch 8; y = F W^T, dW = dy^T F, dF = dy W of each of the 12 KANLinear layers) as one
cuBLAS product and split along its reduction into S strided-batched products (views, no copies) whose S partial
results are then summed (torch.sum over the batch: a fixed order), in float32 with TF32 off (PyTorch's default for
products), in CUDA graphs. Prints, per product, the time of each S and the best, and the step's totals.
Usage: python3 scripts/experiments/kan_products_split_k.py [--size 256 512]
"""
import argparse

import torch

from kan_products_split_tf32 import STAGES, FEATURES, graph_ms

SPLITS = [1, 2, 3, 4, 6, 8, 12, 16]


def split_product(a, b, s, out):
    """out = a @ b as s products over consecutive chunks of the reduction (a: M x K, b: K x N, K % s == 0)."""
    if s == 1:
        return torch.mm(a, b, out=out)
    m, k = a.shape
    n = b.shape[1]
    c = k // s
    # a[:, j*c:(j+1)*c] for each j as a (s, M, c) view; b[j*c:(j+1)*c, :] as (s, c, N).
    av = a.as_strided((s, m, c), (c * a.stride(1), a.stride(0), a.stride(1)))
    bv = b.as_strided((s, c, n), (c * b.stride(0), b.stride(0), b.stride(1)))
    return torch.sum(torch.bmm(av, bv), 0, out=out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs="+", default=[256, 512])
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}; ms per product (CUDA graph, median); S = splits of the reduction")
    for size in a.size:
        scale = (size // 256) ** 2
        totals = {s: 0.0 for s in SPLITS}
        best_total = 0.0
        seen = {}
        for tokens, c in STAGES:
            rows, k = tokens * 8 * scale, c * FEATURES
            f = torch.randn(rows, k, device="cuda")
            w = torch.randn(c, k, device="cuda")
            dy = torch.randn(rows, c, device="cuda")
            for name, x, y in (("y", f, w.t()), ("dW", dy.t(), f), ("dF", dy, w)):
                key = (name, x.shape[0], x.shape[1], y.shape[1])
                if key not in seen:
                    out = torch.empty(x.shape[0], y.shape[1], device="cuda")
                    ref = x.double() @ y.double()
                    times = {}
                    for s in SPLITS:
                        if x.shape[1] % s:
                            continue
                        err = (split_product(x, y, s, out).double() - ref).abs().max().item() / ref.abs().max().item()
                        assert err < 1e-5, (key, s, err)
                        times[s] = graph_ms(lambda s=s: split_product(x, y, s, out))
                    seen[key] = times
                    best = min(times, key=times.get)
                    print(f"{size}^2 {name:>2} {x.shape[0]}x{y.shape[1]} (reduction {x.shape[1]}): " +
                          "  ".join(f"S={s} {t:.4f}" for s, t in times.items()) + f"  best S={best}", flush=True)
                times = seen[key]
                for s in SPLITS:
                    totals[s] += times.get(s, times[1])
                best_total += min(times.values())
        print(f"{size}^2 step's 36 products: " + "  ".join(f"S={s} {t:.3f}" for s, t in totals.items()) +
              f"  best per product {best_total:.3f} ms", flush=True)


if __name__ == "__main__":
    main()
