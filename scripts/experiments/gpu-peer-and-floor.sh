#!/usr/bin/env bash
# One call on a host with two H200 (nvidia-h200-x2), no dataset needed:
#  (1) the peer harness of "beat torch.compile": `ukan bench` (ours, 256² and 512²) and, in the same call, the official
#      U-KAN under PyTorch eager, torch.compile default and reduce-overhead, with Adam(fused=True)
#      (scripts/official_bench.py --modes; max-autotune needs a call of its own);
#  (2) where our step's time goes: Nsight Compute's duration of every kernel of `ukan bench --graphs off` (one step
#      cut out by scripts/kernel_families.py, grouped by family), and `ukan bench --breakdown`;
#  (3) the yardstick of the 1-vs-2-GPU loss check: PyTorch's own DDP + SyncBatchNorm on the official model against one
#      GPU, and one GPU against itself (scripts/ddp_reference.py); and our one-GPU run of the same check twice more, to
#      compare with the 2-GPU run of docs/runs/ddp-h200x2 (same command: demo data, fp32-strict, 50 steps).
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/official (Seg_UKAN sources). Writes $OUT/peer.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-420}"
source "$(dirname "$0")/../gpu-common.sh"
export NCCL_NVLS_ENABLE=0
R=/tmp/peer && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
export CUDA_VISIBLE_DEVICES=0
run bench 90 $U bench --device cuda --size 256 --size 512 --json $R/bench.json
run breakdown 60 $U bench --device cuda --size 256 --graphs off --breakdown --json $R/breakdown.json
run official-eager 60 python3 scripts/official_bench.py --official .gpu/official --size 256 512 --kan --fused-adam --modes eager --json $R/official-eager.json
run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 512 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
run official-default 120 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes default --json $R/official-default.json
# Every kernel of 2 eager warm-up steps + 3 timed steps (then inference); --graphs off so that each kernel is its own launch.
run ncu 120 ncu --clock-control none --csv --metrics gpu__time_duration.sum --log-file $R/ncu.csv \
  $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 3
python3 scripts/kernel_families.py $R/ncu.csv > $R/kernel-families.txt 2>&1
unset CUDA_VISIBLE_DEVICES
run ddp-reference 120 python3 scripts/ddp_reference.py --official .gpu/official --json $R/ddp-reference.json
D=data/demo/kvasir-seg-48
COMMON="--data $D --size 256 --precision fp32-strict --val-every 1000 --batch 8 --epochs 9"
for i in 1 2; do
  CUDA_VISIBLE_DEVICES=0 run ours-1gpu-$i 60 $U train --device cuda $COMMON --out /tmp/runs/ours-1gpu-$i --log-steps $R/ours-1gpu-$i-steps.csv
done
tail -n 3 $R/ddp-reference.txt $R/kernel-families.txt
grep -h "^|" $R/bench.txt $R/official-*.txt | cut -c1-220
tar -C $R -czf "$OUT/peer.tar.gz" .
ls -la $OUT
