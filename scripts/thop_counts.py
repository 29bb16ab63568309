#!/usr/bin/env python3
"""What thop 0.1's `profile` reports for the four baselines of U-KAN's Table 1, worked out by hand (no PyTorch needed).

thop counts only module types it has a rule for: Conv2d as output elements x in/groups x k^2, ConvTranspose2d with the
same formula (output elements, so stride^2 times its real cost), Linear as in x output elements, BatchNorm / LayerNorm
at 4 per element (2 in older versions: --old), nn.Upsample(bilinear) at 11 per output element, nearest 0; ReLU,
pooling and functional calls (F.relu, F.interpolate) 0. It calls the result FLOPs; it is multiply-accumulates.
The "true" column is what `ukan model summary` counts (convolutions and linear maps, transposed ones at their real cost).
Usage: python3 scripts/thop_counts.py [--old]    (docs/models.md quotes the output)
"""
import sys


def count(size, model, old=False):
    t = {"conv": 0, "conv_transpose": 0, "norm": 0, "linear": 0, "upsample": 0, "bias": 0}
    per_norm = 2 if old else 4

    def conv(i, o, k, hw, groups=1):
        n = o * hw * hw
        t["conv"] += n * (i // groups) * k * k
        if old:
            t["bias"] += n  # thop < 0.1 also counted one op per output element for the bias

    def norm(c, elements_per_channel):
        t["norm"] += per_norm * c * elements_per_channel

    def double_conv(i, o, hw):
        conv(i, o, 3, hw); norm(o, hw * hw); conv(o, o, 3, hw); norm(o, hw * hw)

    if model in ("unet", "attunet"):  # milesial UNet(bilinear=False) / LeeJunHyun AttU_Net, widths 64..1024
        double_conv(3, 64, size)
        s = size
        for c in (64, 128, 256, 512):
            s //= 2
            double_conv(c, 2 * c, s)
        for c in (1024, 512, 256, 128):
            s *= 2
            if model == "unet":  # ConvTranspose2d(c, c/2, 2, stride 2), counted on its output
                t["conv_transpose"] += (c // 2) * s * s * c * 4
            else:  # up_conv (nearest: 0) + attention gate
                conv(c, c // 2, 3, s); norm(c // 2, s * s)
                conv(c // 2, c // 4, 1, s); norm(c // 4, s * s)
                conv(c // 2, c // 4, 1, s); norm(c // 4, s * s)
                conv(c // 4, 1, 1, s); norm(1, s * s)
            double_conv(c, c // 2, s)
        conv(64, 1, 1, size)
    elif model == "unetpp":  # 4uiiurz1 NestedUNet without deep supervision, widths 32..512
        nb = [32, 64, 128, 256, 512]
        double_conv(3, 32, size)
        for i in range(1, 5):
            double_conv(nb[i - 1], nb[i], size >> i)
        for j in range(1, 5):
            for i in range(0, 5 - j):
                double_conv(nb[i] * j + nb[i + 1], nb[i], size >> i)
                t["upsample"] += 11 * nb[i + 1] * (size >> i) ** 2  # self.up, an nn.Upsample module
        conv(32, 1, 1, size)
    elif model == "unext":  # UNeXt-pytorch UNext, embed dims [128,160,256]
        def block(d, hw):
            norm(d, hw * hw); t["linear"] += 2 * d * d * hw * hw; conv(d, d, 3, hw, groups=d)
        conv(3, 16, 3, size); norm(16, size ** 2)
        conv(16, 32, 3, size // 2); norm(32, (size // 2) ** 2)
        conv(32, 128, 3, size // 4); norm(128, (size // 4) ** 2)
        for i, o, hw in ((128, 160, size // 16), (160, 256, size // 32)):  # patch embeddings, block, stage norm
            conv(i, o, 3, hw); norm(o, hw * hw); block(o, hw); norm(o, hw * hw)
        conv(256, 160, 3, size // 32); norm(160, (size // 32) ** 2); block(160, size // 16); norm(160, (size // 16) ** 2)
        conv(160, 128, 3, size // 16); norm(128, (size // 16) ** 2); block(128, size // 8); norm(128, (size // 8) ** 2)
        conv(128, 32, 3, size // 8); norm(32, (size // 8) ** 2)
        conv(32, 16, 3, size // 4); norm(16, (size // 4) ** 2)
        conv(16, 16, 3, size // 2)
        conv(16, 1, 1, size)
    true = t["conv"] + t["conv_transpose"] / 4 + t["linear"]
    return true, sum(t.values())


if __name__ == "__main__":
    old = "--old" in sys.argv
    print(f"{'model':8} {'size':>4} {'true GMACs':>10} {'thop G':>8}")
    for model in ("unet", "attunet", "unetpp", "unext"):
        for size in (224, 256):
            true, thop = count(size, model, old)
            print(f"{model:8} {size:>4} {true / 1e9:>10.2f} {thop / 1e9:>8.2f}")
