#!/usr/bin/env python3
"""Forward + backward time of U-KAN's full-resolution convolutions (3x3, padding 1, batch 8) on cuDNN, by input
channel count and memory layout: is the first convolution (3 -> 16) faster with its input padded to 4 or 8 channels
(the padded weight channels zero), and are the 16-channel convolutions faster in NCHW than channels-last?

TF32 convolutions as PyTorch's default; cudnn.benchmark off (cuDNN's heuristics, as `ukan bench`) and on.
Usage: python3 scripts/experiments/conv_layouts.py [--size 256]
"""
import argparse
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--size", type=int, default=256)
args = parser.parse_args()
torch.backends.cudnn.allow_tf32 = True
dev = "cuda"


def timed(cin, cout, layout, input_grad, benchmark, runs=50):
    torch.backends.cudnn.benchmark = benchmark
    fmt = torch.channels_last if layout == "NHWC" else torch.contiguous_format
    x = torch.randn(8, cin, args.size, args.size, device=dev).to(memory_format=fmt).requires_grad_(input_grad)
    conv = torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False).to(dev).to(memory_format=fmt)
    g = torch.randn(8, cout, args.size, args.size, device=dev).to(memory_format=fmt)
    for _ in range(5):
        conv(x).backward(g)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(runs):
        start.record()
        conv(x).backward(g)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


print(f"| conv (batch 8, {args.size}²) | layout | input grad | heuristics ms | autotuned ms |")
print("| --- | --- | --- | --- | --- |")
for cin, cout, input_grad in [(3, 16, False), (4, 16, False), (8, 16, False), (16, 16, True), (16, 32, True), (32, 16, True)]:
    for layout in ["NHWC", "NCHW"]:
        h = timed(cin, cout, layout, input_grad, False)
        b = timed(cin, cout, layout, input_grad, True)
        print(f"| {cin} -> {cout} | {layout} | {'yes' if input_grad else 'no'} | {h:.3f} | {b:.3f} |", flush=True)
