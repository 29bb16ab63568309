#!/usr/bin/env python3
"""How closely PyTorch's own DistributedDataParallel follows one GPU: the yardstick for `ukan train --gpus 2 --sync-bn`.

The check asked of our data-parallel training is: 2 GPUs with synchronised batch norm and per-GPU batch 4 follow one GPU
with batch 8 (same seed, same data), loss by loss over the first 50 steps. Two runs that do the same arithmetic in a
different order drift apart, and Adam's first steps amplify the drift (an update is ~lr * sign(gradient) while the
second-moment estimate is young, so a gradient entry near zero flips its update with its rounding). This script
measures that drift for the official U-KAN under PyTorch itself, on the same machine:

  repeat  one GPU, batch 8, run twice: the floor that run-to-run non-determinism alone gives;
  ddp     two GPUs, torch.nn.SyncBatchNorm + DistributedDataParallel (NCCL), batch 4 each, against the one-GPU run.

Everything in fp32 without TF32 (cuDNN and matmul), the official optimiser (Adam, one group per parameter, lr 1e-2 for
the KANLinear weights, 1e-4 otherwise, weight decay 1e-4) and loss (BCE + Dice), on a fixed set of random images with
blob masks (seeded). Prints the per-step losses and the largest relative difference of each comparison; --json writes
them. Needs two GPUs for the ddp part.

Usage: python3 scripts/ddp_reference.py --official path/to/U-KAN/Seg_UKAN [--steps 50] [--size 256] [--json out.json]
"""
import argparse
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_bench import bce_dice, official_optimizer, write_json  # noqa: E402


def batches(steps, batch, size):
    """The same global batches for every run: noise images and masks of random discs, from a fixed seed."""
    g = torch.Generator().manual_seed(1234)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = []
    for _ in range(steps):
        x = torch.randn(batch, 3, size, size, generator=g)
        c = torch.rand(batch, 3, generator=g)
        r = (c[:, 2] * 0.3 + 0.1) * size
        m = ((yy[None] - c[:, 0, None, None] * size) ** 2 + (xx[None] - c[:, 1, None, None] * size) ** 2) < r[:, None, None] ** 2
        x[:, 0] += 2 * m   # the foreground is visible in the first channel
        out.append((x, m[:, None].float()))
    return out


def train(rank, world, official, steps, size, batch, result_path):
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.cuda.set_device(rank)
    if world > 1:
        dist.init_process_group("nccl", rank=rank, world_size=world)
    sys.path.insert(0, official)
    from archs import UKAN  # noqa: E402  (the official code)
    torch.manual_seed(0)
    model = UKAN(num_classes=1, input_channels=3, img_size=size, embed_dims=[128, 160, 256]).cuda()
    opt = official_optimizer(model)   # groups made before wrapping: the names are the official ones
    if world > 1:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank])
    model.train()
    per = batch // world
    losses = []
    for x, t in batches(steps, batch, size):
        x, t = x[rank * per:(rank + 1) * per].cuda(), t[rank * per:(rank + 1) * per].cuda()
        loss = bce_dice(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.detach().clone()
        if world > 1:
            dist.all_reduce(value)
            value /= world
        losses.append(value.item())
    if rank == 0:
        with open(result_path, "w") as f:
            json.dump(losses, f)
    if world > 1:
        dist.destroy_process_group()


def run(world, a, name):
    path = os.path.join(a.work, name + ".json")
    if world == 1:
        train(0, 1, a.official, a.steps, a.size, a.batch, path)
    else:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
        mp.spawn(train, args=(world, a.official, a.steps, a.size, a.batch, path), nprocs=world)
    return json.load(open(path))


def compare(name, one, other):
    rel = [abs(b - a) / abs(a) for a, b in zip(one, other)]
    worst = max(rel)
    print(f"{name}: max relative difference over {len(rel)} steps {worst:.3e} (first step {rel[0]:.1e}, "
          f"step of the maximum {rel.index(worst) + 1})")
    return {"max_relative": worst, "relative": rel}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--official", required=True, help="folder of the official Seg_UKAN sources (archs.py, kan.py)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8, help="global batch")
    ap.add_argument("--work", default="/tmp/ddp-reference")
    ap.add_argument("--json")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "gpus": torch.cuda.device_count()}
    one = run(1, a, "one-gpu")
    result["one_gpu"] = one
    result["repeat"] = compare("1 GPU vs 1 GPU again", one, run(1, a, "one-gpu-repeat"))
    if torch.cuda.device_count() >= 2:
        two = run(2, a, "two-gpu")
        result["two_gpu"] = two
        result["ddp"] = compare("1 GPU batch 8 vs 2 GPUs batch 4 (SyncBatchNorm + DDP)", one, two)
        for i, (p, q) in enumerate(zip(one, two)):
            print(f"step {i + 1:3d}  1gpu {p:.7f}  2gpu {q:.7f}  rel {abs(q - p) / abs(p):.2e}")
    if a.json:
        write_json(a.json, result)


if __name__ == "__main__":
    main()
