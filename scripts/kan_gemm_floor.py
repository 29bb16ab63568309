#!/usr/bin/env python3
"""The matrix-product floor of KANLinear(d, d) against Linear(d, d) (docs/results.md §2a): times, with PyTorch's cuBLAS in full
FP32 (TF32 off, as PyTorch's default for matmuls), the three products of a forward + backward of each layer at the
rows x d of the KAN benchmark, so that `ukan bench kan`'s ratio can be read against what the products alone cost.
KANLinear with G = 5, k = 3 contracts 1 + G + k = 9 features per input (SiLU + 8 cubic B-splines), so each of its
products has 9x the inner (or outer) dimension of the Linear's: y = F W^T (rows x 9d . 9d x d), dW = dy^T F,
dF = dy W. Usage: python3 scripts/kan_gemm_floor.py [--shapes 8192x256 ...]
"""
import argparse

import torch

from official_bench import time_cuda  # the same CUDA-event timer as the official model's timings


def median_ms(fn):
    return time_cuda(fn, warmup=10, runs=50)["median_ms"]


def products(rows, d, features):
    """The three products of forward + backward of a layer whose input has `features` columns per output."""
    k = d * features
    x = torch.randn(rows, k, device="cuda")
    w = torch.randn(d, k, device="cuda")
    dy = torch.randn(rows, d, device="cuda")
    ms = {"y = F W^T": median_ms(lambda: x @ w.t()),
          "dW = dy^T F": median_ms(lambda: dy.t() @ x),
          "dF = dy W": median_ms(lambda: dy @ w)}
    flops = 3 * 2 * rows * k * d
    return ms, flops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="+", default=["2048x160", "8192x256", "32768x128"])
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}, FP32 products (TF32 off), median of 50")
    print("| rows x d | layer | y | dW | dF | sum | TFLOP/s | sum KAN / sum Linear |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in a.shapes:
        rows, d = (int(v) for v in spec.split("x"))
        sums = {}
        for name, feats in (("Linear", 1), ("KANLinear", 9)):
            ms, flops = products(rows, d, feats)
            total = sum(ms.values())
            sums[name] = total
            ratio = f"{sums['KANLinear'] / sums['Linear']:.1f}x" if name == "KANLinear" else ""
            vals = " | ".join(f"{v:.3f}" for v in ms.values())
            print(f"| {rows} x {d} | {name} | {vals} | {total:.3f} ms | {flops / total / 1e9:.1f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
