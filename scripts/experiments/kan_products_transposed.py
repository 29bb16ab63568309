#!/usr/bin/env python3
"""Would the KAN layers' dF = dy W run faster as its transpose? Times, for each stage of the U-KAN paper model (batch
8), dF = dy W (rows x 9 in, reduction = out channels: short) as cuBLAS runs it for our backward, against
dF^T = W^T dy^T (the same numbers, written transposed, which the feature kernel's backward would then read with
strides), in float32 with TF32 off, in CUDA graphs (median ms). Usage: python3 scripts/experiments/kan_products_transposed.py
"""
import torch

from kan_products_split_tf32 import STAGES, FEATURES, graph_ms


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}; ms per product (CUDA graph, median)")
    for size in (256, 512):
        scale = (size // 256) ** 2
        seen = set()
        for tokens, c in STAGES:
            rows, k = tokens * 8 * scale, c * FEATURES
            if (rows, c) in seen:
                continue
            seen.add((rows, c))
            w = torch.randn(c, k, device="cuda")
            dy = torch.randn(rows, c, device="cuda")
            out = torch.empty(rows, k, device="cuda")
            out_t = torch.empty(k, rows, device="cuda")
            plain = graph_ms(lambda: torch.mm(dy, w, out=out))
            transposed = graph_ms(lambda: torch.mm(w.t(), dy.t(), out=out_t))
            err = (out_t.t() - out).abs().max().item() / out.abs().max().item()
            print(f"{size}^2 dF {rows}x{k} (reduction {c}): dy W {plain:.4f}  (W^T dy^T) {transposed:.4f}  max diff {err:.1e}", flush=True)


if __name__ == "__main__":
    main()
