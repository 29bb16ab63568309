#!/usr/bin/env python3
"""Where one training step's GPU time goes, by kernel family, from Nsight Compute's per-kernel durations.

Input: the CSV that `ncu --csv --metrics gpu__time_duration.sum --log-file F <app> bench --graphs off ...` writes (one
row per kernel launch, in launch order). A training step launches the same kernels in the same order every time, so
the step is found as the shortest period P (at least 100 launches, so that a layer pattern repeated inside one step is
not taken for it) of the kernel-name sequence that is followed by one full repetition (two identical steps in a
row); one period is one step's kernels (cut anywhere in the cycle; the sum is the same). The training steps come
before the inference runs in `ukan bench`'s launches, so the period whose repetition starts first is the training
step. The kernels are
then grouped by name into families (convolution, batch norm, matrix products, the KAN basis kernels, element-wise,
reductions, copies and layout, optimizer) and printed as a Markdown table of time and launch count per step.

Note that ncu serialises kernels and runs each alone, so the sum is the GPU's busy time without overlap, not the
wall-clock step (which a CUDA graph brings close to the sum when launches are the bottleneck).

Usage: python3 scripts/kernel_families.py ncu.csv [--json out.json] [--min-period N]
"""
import csv
import json
import re
import sys

UNIT = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3, "ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}

# First match wins: cuDNN's batch-norm kernels say "cudnn" and convolution kernels "gemm", so batch norm comes before
# convolutions, and convolutions before the matrix products.
FAMILIES = [
    ("KAN basis (our NVRTC kernels)", r"kan_features|psi_forward|psi_backward"),
    ("batch norm + ReLU (our NVRTC kernels)", r"^bn_relu_"),
    ("upsampling + ReLU, skip, head (our NVRTC kernels)", r"^upsample2x_relu"),
    ("KAN weight (our NVRTC kernels)", r"^kan_weight_assemble"),
    ("KAN products and dL/dx (our NVRTC kernels)", r"^kan_product"),
    ("max-pool + ReLU (our NVRTC kernels)", r"^maxpool2x_relu"),
    ("BCE + Dice loss (our NVRTC kernels)", r"^bce_dice_"),
    ("step scores (our NVRTC kernel)", r"^train_step_scores"),
    ("Adam step (our NVRTC kernel)", r"^adam_step"),
    ("3 × 3 convolutions (our NVRTC kernels)", r"^conv3x3_|^dwconv3x3_|^sum_partial_rows"),   # with the weight gradients' merge
    ("batch norm", r"batch_norm|batchnorm|bn_fw|bn_bw|welford"),
    ("layer norm", r"layer_norm|layernorm|gammabetabackward"),
    ("convolution (cuDNN)", r"conv|implicit_gemm|xmma_fprop|xmma_dgrad|xmma_wgrad|fprop|dgrad|wgrad|winograd|cudnn|depthwise|nchwtonhwc|nhwctonchw"),
    ("matrix products (cuBLAS)", r"gemm|cutlass|sm90_|ampere_|nvjet|gemv|splitk"),
    ("reductions", r"reduce|sum_kernel|softmax|norm_kernel"),
    ("copies and layout", r"copy|cat_|catarray|transpose|permute|im2col|col2im|index|gather|scatter|upsample|fill"),
    ("element-wise", r"elementwise|vectorized|unrolled|pointwise|foreach|multi_tensor"),
]


def read(path):
    rows = []
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]   # ncu prefixes its own messages with ==PROF==
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(r["Metric Value"].replace(",", ""))
        rows.append((r["Kernel Name"], value * UNIT.get(r["Metric Unit"], 1e-3)))
    return rows


def period(names, shortest=100):
    """(start, P): among the P >= shortest for which names[i] == names[i + P] holds for P consecutive i, the one whose
    repetition starts first (the training steps precede the inference runs), the shorter on a tie."""
    n = len(names)
    best = None
    for p in range(shortest, n // 2 + 1):
        run = 0
        for i in range(n - p):
            run = run + 1 if names[i] == names[i + p] else 0
            if run >= p:
                start = i - run + 1
                if best is None or start < best[0]:
                    best = (start, p)
                break
    return best


def family(name):
    low = name.lower()
    for label, pattern in FAMILIES:
        if re.search(pattern, low):
            return label
    return "other"


def main():
    rows = read(sys.argv[1])
    names = [n for n, _ in rows]
    found = period(names, int(sys.argv[sys.argv.index("--min-period") + 1]) if "--min-period" in sys.argv else 100)
    if found is None:
        sys.exit(f"kernel_families: no repeating step among {len(rows)} kernels")
    start, p = found
    step = rows[start:start + p]
    total = sum(ms for _, ms in step)
    groups = {}
    for name, ms in step:
        g = groups.setdefault(family(name), {"ms": 0.0, "launches": 0, "kernels": {}})
        g["ms"] += ms
        g["launches"] += 1
        short = name.split("(")[0][:80]
        g["kernels"][short] = g["kernels"].get(short, 0.0) + ms
    print(f"one training step: {p} kernel launches, {total:.3f} ms of GPU time (kernels run one at a time by ncu)\n")
    print("| family | ms per step | share | launches | largest kernels |")
    print("| --- | --- | --- | --- | --- |")
    for label, g in sorted(groups.items(), key=lambda kv: -kv[1]["ms"]):
        top = sorted(g["kernels"].items(), key=lambda kv: -kv[1])[:3]
        print(f"| {label} | {g['ms']:.3f} | {100 * g['ms'] / total:.1f} % | {g['launches']} | "
              + "; ".join(f"`{k}` {v:.3f}" for k, v in top) + " |")
    if "--json" in sys.argv:
        out = sys.argv[sys.argv.index("--json") + 1]
        with open(out, "w") as f:
            json.dump({"launches": p, "total_ms": total, "families": groups}, f, indent=1)


if __name__ == "__main__":
    main()
