#!/usr/bin/env python3
"""Times the official PyTorch U-KAN the way `ukan bench` times ours, so that both can be compared on one GPU.

The official code is not part of this project: pass the folder of its Seg_UKAN sources (archs.py, kan.py, utils.py of
github.com/CUHK-AIM-Group/U-KAN) with --official. What this harness reproduces of the official training step
(Seg_UKAN/train.py): Adam with one parameter group per parameter (lr 1e-4 / weight decay 1e-4, and lr 1e-2 for the
parameters whose name holds both 'layer' and 'fc', i.e. the KANLinear layers), BCE + Dice loss (losses.py's BCEDiceLoss:
0.5 BCE + (1 - mean soft Dice), smooth 1e-5), float32 with PyTorch's defaults (cuDNN convolutions in TF32, matmuls in
full FP32), random inputs and masks. Each step is timed between CUDA events after warm-up; mean, median and the 10-90 %
spread are reported (docs/results.md §2c reports the mean), and the peak of the CUDA caching allocator over the timed
steps.

As a PyTorch 2 user would tune it (the peer of issue "beat torch.compile"), --modes times the same step under
torch.compile as well: `default`, `reduce-overhead` (Inductor/Triton fusion plus CUDA graphs) and `max-autotune`; each
mode's compile time (the warm-up calls, which trigger compilation and, for the graph modes, capture) is reported beside
the step time. --fused-adam uses Adam(fused=True), the fastest optimizer a user gets for free. Inductor's cache persists
within one process only unless TORCHINDUCTOR_CACHE_DIR points at a kept folder.

Usage (on the GPU machine):
  python3 scripts/official_bench.py --official path/to/U-KAN/Seg_UKAN [--size 256 512] [--preset paper large]
                                    [--kan 2048x160 8192x256 32768x128] [--json out.json]
                                    [--modes eager default reduce-overhead max-autotune] [--fused-adam]
"""
import argparse
import json
import os
import statistics
import sys

import torch
import torch.nn.functional as F

PRESETS = {"paper": [128, 160, 256], "large": [256, 320, 512], "tiny": [32, 40, 64]}


def bce_dice(logits, target):
    # Seg_UKAN/losses.py BCEDiceLoss: 0.5 * BCE-with-logits + (1 - mean over images of the soft Dice, smooth 1e-5).
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = (2 * (p * t).sum(1) + 1e-5) / (p.sum(1) + t.sum(1) + 1e-5)
    return 0.5 * bce + (1 - dice.mean())


def official_optimizer(model, fused=False):
    groups = []
    for name, p in model.named_parameters():
        kan = "layer" in name.lower() and "fc" in name.lower()
        groups.append({"params": p, "lr": 1e-2 if kan else 1e-4, "weight_decay": 1e-4})
    return torch.optim.Adam(groups, fused=True) if fused else torch.optim.Adam(groups)


def time_cuda(fn, warmup, runs, stats=None):
    import time
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    if stats is not None:
        stats["warmup_s"] = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    peak = torch.cuda.max_memory_allocated() / 2**20
    q = statistics.quantiles(times, n=10)
    out = {"mean_ms": statistics.fmean(times), "median_ms": statistics.median(times), "p10_ms": q[0], "p90_ms": q[-1],
           "peak_mib": peak}
    out.update(stats or {})
    return out


def bench_model(UKAN, preset, size, batch, warmup, runs, mode="eager", fused=False):
    torch.manual_seed(0)
    torch._dynamo.reset()
    model = UKAN(num_classes=1, input_channels=3, img_size=size, embed_dims=PRESETS[preset]).cuda()
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(batch, 3, size, size, device="cuda")
    y = (torch.rand(batch, 1, size, size, device="cuda") > 0.5).float()
    opt = official_optimizer(model, fused)
    # The model (and the loss with it) compiled as one function; the optimizer step stays eager (fused Adam is one
    # kernel launch per group). "default" and "max-autotune" keep Python dispatch between steps; "reduce-overhead"
    # replays CUDA graphs.
    fwd = (lambda a, b: bce_dice(model(a), b)) if mode == "eager" else torch.compile(lambda a, b: bce_dice(model(a), b), mode=mode)

    def train_step():
        if mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()
        loss = fwd(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    # Compilation happens in the first calls; graph modes record after a few steps: more warm-up for them.
    train = time_cuda(train_step, warmup if mode == "eager" else max(warmup, 20), runs, {})

    infer_fn = model if mode == "eager" else torch.compile(model, mode=mode)

    def infer():
        with torch.no_grad():
            if mode == "reduce-overhead":
                torch.compiler.cudagraph_mark_step_begin()
            infer_fn(x)

    model.eval()
    infer_stats = time_cuda(infer, warmup if mode == "eager" else max(warmup, 20), runs, {})
    del model, opt, fwd, infer_fn
    torch.cuda.empty_cache()
    return {"preset": preset, "size": size, "batch": batch, "params": params, "mode": mode, "fused_adam": fused,
            "train": train, "inference": infer_stats}


def bench_kan(KANLinear, rows, d, warmup, runs):
    torch.manual_seed(0)
    out = {"rows": rows, "d": d}
    for name, layer in (("kan", KANLinear(d, d)), ("linear", torch.nn.Linear(d, d, bias=False))):
        layer = layer.cuda()
        x = torch.randn(rows, d, device="cuda", requires_grad=True)

        def step():
            layer(x).sum().backward()

        out[name] = time_cuda(step, warmup, runs)
        del layer, x
        torch.cuda.empty_cache()
    out["ratio_mean"] = out["kan"]["mean_ms"] / out["linear"]["mean_ms"]
    out["ratio_median"] = out["kan"]["median_ms"] / out["linear"]["median_ms"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="folder of the official Seg_UKAN sources (archs.py, kan.py)")
    ap.add_argument("--size", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--preset", nargs="+", default=["paper"], choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--kan", nargs="*", default=["2048x160", "8192x256", "32768x128"], help="rows x d of the KAN test")
    ap.add_argument("--json")
    ap.add_argument("--modes", nargs="+", default=["eager"], choices=["eager", "default", "reduce-overhead", "max-autotune"],
                    help="eager and/or torch.compile modes (model + loss compiled; the optimizer eager)")
    ap.add_argument("--fused-adam", action="store_true", help="Adam(fused=True) instead of the official per-parameter Adam")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("official_bench: no CUDA device")
    sys.path.insert(0, a.official)
    from archs import UKAN  # noqa: E402  (the official code, from --official)
    from kan import KANLinear  # noqa: E402

    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
              "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
              "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32, "models": [], "kan": []}
    print(f"# official U-KAN on {result['gpu']}, torch {result['torch']}, cuDNN TF32 {result['cudnn_allow_tf32']}, "
          f"matmul TF32 {result['matmul_allow_tf32']}; batch {a.batch}, {a.warmup} warm-up + {a.runs} timed runs")
    result["fused_adam"] = a.fused_adam
    print("| preset | size | mode | params | train mean | train median (p10-p90) | train peak | infer mean | infer median "
          "| warm-up (compile) train / infer |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode in a.modes:
        for preset in a.preset:
            for size in a.size:
                r = bench_model(UKAN, preset, size, a.batch, a.warmup, a.runs, mode, a.fused_adam)
                result["models"].append(r)
                t, i = r["train"], r["inference"]
                print(f"| {preset} | {size} | {mode} | {r['params']:,} | {t['mean_ms']:.2f} ms | {t['median_ms']:.2f} "
                      f"({t['p10_ms']:.2f}-{t['p90_ms']:.2f}) ms | {t['peak_mib']:,.0f} MiB | {i['mean_ms']:.2f} ms | "
                      f"{i['median_ms']:.2f} ms | {t['warmup_s']:.1f} s / {i['warmup_s']:.1f} s |", flush=True)
                if a.json:
                    write_json(a.json, result)   # each mode as it finishes (max-autotune may not)
    if a.kan:
        print("| rows x d | KANLinear mean / median | Linear mean / median | ratio mean / median | peak KAN / Linear |")
        print("| --- | --- | --- | --- | --- |")
    for spec in a.kan:
        rows, d = (int(v) for v in spec.lower().split("x"))
        r = bench_kan(KANLinear, rows, d, a.warmup, a.runs)
        result["kan"].append(r)
        k, l = r["kan"], r["linear"]
        print(f"| {rows} x {d} | {k['mean_ms']:.3f} / {k['median_ms']:.3f} ms | {l['mean_ms']:.3f} / "
              f"{l['median_ms']:.3f} ms | {r['ratio_mean']:.1f}x / {r['ratio_median']:.1f}x | "
              f"{k['peak_mib']:,.0f} / {l['peak_mib']:,.0f} MiB |", flush=True)
    if a.json:
        write_json(a.json, result)


def write_json(path, result):
    """Writes the result atomically (a temporary file renamed into place)."""
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
