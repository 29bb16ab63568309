"""All-reduce bandwidth between the GPUs of this host through PyTorch's NCCL, for comparison with what our data-parallel
training gets (its gradient all-reduce of one step is ~107 MB for Diffusion U-KAN, ~25-100 MB for Seg U-KAN presets).

Two (or --gpus) processes on one host, float32 all-reduce (sum) of 1 MiB .. 256 MiB, 5 warm-up and 20 timed calls each;
prints the time per call, the algorithm bandwidth (bytes / time) and the bus bandwidth (algbw * 2 (n-1) / n, the
figure nccl-tests reports). Run with NCCL_DEBUG=INFO to see the transport NCCL chose (P2P/NVLink, P2P/IPC, SHM).
Usage: python3 scripts/experiments/nccl_bandwidth.py [--gpus 2] [--isolate]
"""
import argparse
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, world, port, isolate):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if isolate:
        # Each process sees only its own GPU (as `ukan train --gpus N` starts its workers), before CUDA starts here.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(rank)
    device = 0 if isolate else rank
    torch.cuda.set_device(device)
    dist.init_process_group("nccl", rank=rank, world_size=world, device_id=torch.device("cuda", device))
    for mib in (1, 4, 16, 64, 107, 256):
        x = torch.ones(mib * (1 << 20) // 4, device="cuda")
        for _ in range(5):
            dist.all_reduce(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(20):
            dist.all_reduce(x)
        torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / 20
        if rank == 0:
            alg = x.numel() * 4 / seconds / 1e9
            print(f"{mib:4d} MiB  {seconds * 1e3:8.3f} ms  algbw {alg:7.2f} GB/s  busbw {alg * 2 * (world - 1) / world:7.2f} GB/s",
                  flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpus", type=int, default=torch.cuda.device_count())
    parser.add_argument("--port", type=int, default=29533)
    parser.add_argument("--isolate", action="store_true", help="each process sees only its GPU (CUDA_VISIBLE_DEVICES)")
    a = parser.parse_args()
    print(f"torch {torch.__version__}, NCCL {torch.cuda.nccl.version()}, {a.gpus} GPUs: "
          + ", ".join(torch.cuda.get_device_name(i) for i in range(a.gpus)), flush=True)
    mp.spawn(worker, args=(a.gpus, a.port, a.isolate), nprocs=a.gpus)
