#!/usr/bin/env python3
"""Would running each layer's weight gradient on a second stream, beside its input gradient, shorten the backward?
Times, in CUDA graphs with PyTorch's kernels, the two independent products of every KANLinear backward of one U-KAN
training step (dW = dy^T F and dF = dy W, paper preset, batch 8) and the two gradients of the convolutions with 64 or
more channels (cuDNN, channels-last, TF32 as PyTorch's default), once on one stream and once with the weight gradients
forked onto a side stream and joined after each layer. Usage: python3 scripts/experiments/backward_streams.py [--size 256 512]
"""
import argparse

import torch

from kan_products_split_tf32 import STAGES, FEATURES, graph_ms


def kan_pairs(size, batch=8):
    scale = (size // 256) ** 2
    out = []
    for tokens, c in STAGES:
        for _ in range(3):
            rows, k = tokens * batch * scale, c * FEATURES
            f = torch.randn(rows, k, device="cuda")
            w = torch.randn(c, k, device="cuda")
            dy = torch.randn(rows, c, device="cuda")
            dw = torch.empty(c, k, device="cuda")
            df = torch.empty(rows, k, device="cuda")
            out.append((lambda dy=dy, f=f, dw=dw: torch.mm(dy.t(), f, out=dw), lambda dy=dy, w=w, df=df: torch.mm(dy, w, out=df)))
    return out


def conv_pairs(size, batch=8):
    # (channels in, out, resolution / input size) of the paper model's 3x3 convolutions with 64+ channels (encoder3,
    # decoder3: 32 -> 128 -> 128 at 1/4 and the reverse), each conv's weight and input gradient.
    layers = [(32, 128, 4), (128, 128, 4), (128, 128, 4), (128, 32, 4)]
    out = []
    for cin, cout, div in layers:
        r = size // div
        x = torch.randn(batch, cin, r, r, device="cuda").to(memory_format=torch.channels_last)
        w = torch.randn(cout, cin, 3, 3, device="cuda").to(memory_format=torch.channels_last)
        gy = torch.randn(batch, cout, r, r, device="cuda").to(memory_format=torch.channels_last)
        out.append((lambda x=x, w=w, gy=gy: torch.nn.grad.conv2d_weight(x, w.shape, gy, padding=1),
                    lambda x=x, w=w, gy=gy: torch.nn.grad.conv2d_input(x.shape, w, gy, padding=1)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, nargs="+", default=[256, 512])
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    side = torch.cuda.Stream()
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}; ms per step (CUDA graph, median)")
    for size in a.size:
        for name, pairs in (("KAN dW, dF", kan_pairs(size)), ("conv 64+ dW, dX", conv_pairs(size))):
            def serial():
                for wgrad, igrad in pairs:
                    wgrad()
                    igrad()

            def forked():
                for wgrad, igrad in pairs:
                    main_stream = torch.cuda.current_stream()
                    side.wait_stream(main_stream)
                    with torch.cuda.stream(side):
                        wgrad()
                    igrad()
                    main_stream.wait_stream(side)

            def forked_late():
                main_stream = torch.cuda.current_stream()
                for wgrad, igrad in pairs:
                    side.wait_stream(main_stream)
                    with torch.cuda.stream(side):
                        wgrad()
                    igrad()
                main_stream.wait_stream(side)
            t1, t2, t3 = graph_ms(serial), graph_ms(forked), graph_ms(forked_late)
            print(f"{size}^2 {name}: one stream {t1:.3f}  forked per layer {t2:.3f}  forked, joined at the end {t3:.3f} ms", flush=True)


if __name__ == "__main__":
    main()
