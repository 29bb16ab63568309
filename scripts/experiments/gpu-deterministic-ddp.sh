#!/usr/bin/env bash
# The 1-vs-2-GPU loss check under `ukan train --deterministic`, on a host with two H200 (nvidia-h200-x2): the same
# one-GPU run twice (GPU 0 and GPU 1 at once: deterministic kernels must give the same losses bit for bit), then two
# GPUs with --sync-bn and per-GPU batch 4 against them; demo set, fp32-strict, 13 epochs = 52 steps of global batch 8.
# Then, if scripts/experiments/gpu-diffusion-scaling.sh exists, the Diffusion U-KAN scaling measurement.
# Expects .gpu/ukan-gpu.tar.xz (or the app in .gpu/u). Writes $OUT/determinism.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-200}"
source "$(dirname "$0")/../gpu-common.sh"
export NCCL_NVLS_ENABLE=0
R=/tmp/determinism && mkdir -p $R
D=data/demo/kvasir-seg-48
C="--data $D --size 256 --precision fp32-strict --val-every 1000 --epochs 13 --deterministic"
ms() { date +%s%3N; }
t0=$(ms)
CUDA_VISIBLE_DEVICES=0 timeout 90 $U train --device cuda $C --batch 8 --out /tmp/det/one-a --log-steps $R/one-a.csv > $R/one-a.txt 2>&1 &
CUDA_VISIBLE_DEVICES=1 timeout 90 $U train --device cuda $C --batch 8 --out /tmp/det/one-b --log-steps $R/one-b.csv > $R/one-b.txt 2>&1 &
wait
echo "one-gpu pair wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
t0=$(ms)
timeout 120 $U train --gpus 2 --sync-bn $C --batch 4 --out /tmp/det/two --log-steps $R/two.csv > $R/two.txt 2>&1
echo "two-gpu rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
python3 - $R <<'PY' | tee $R/compare.txt
import csv, os, sys
R = sys.argv[1]
def losses(n):
    p = os.path.join(R, n + ".csv")
    return [float(r["loss"]) for r in csv.DictReader(open(p))] if os.path.exists(p) else []
a, b, two = losses("one-a"), losses("one-b"), losses("two")
for name, x, y in (("1 GPU vs 1 GPU (both --deterministic)", a, b), ("1 GPU batch 8 vs 2 GPUs batch 4 + sync-bn", a, two)):
    n = min(50, len(x), len(y))
    if n == 0:
        print(f"{name}: missing"); continue
    rel = [abs(y[i] - x[i]) / abs(x[i]) for i in range(n)]
    print(f"{name}: {n} steps, max relative difference {max(rel):.3e} (step {rel.index(max(rel)) + 1}), "
          f"identical steps {sum(r == 0 for r in rel)}; first five {' '.join(f'{r:.1e}' for r in rel[:5])}")
PY
# Optional (NCU=1): Nsight Compute's kernel durations of launches 2,501-7,000 of `ukan bench --graphs off` (the first
# 2,500 are start-up: weight initialisation and copies; ncu replays each launch, so all of it would not finish in
# time), grouped per step by scripts/kernel_families.py (docs/runs/kernels-h200x2 was made this way).
if [ "${NCU:-0}" = 1 ]; then
  CUDA_VISIBLE_DEVICES=0 timeout 75 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 2500 --launch-count 4500 \
    --log-file $R/ncu.csv $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 3 > $R/ncu.txt 2>&1
  echo "ncu rc=$?" | tee -a $R/log.txt
  python3 scripts/kernel_families.py $R/ncu.csv --json $R/kernel-families.json > $R/kernel-families.txt 2>&1
  cat $R/kernel-families.txt
fi
[ "${DIFFUSION:-1}" = 1 ] && [ -f scripts/experiments/gpu-diffusion-scaling.sh ] && LIMIT=$(( $(left) - 5 )) bash scripts/experiments/gpu-diffusion-scaling.sh > $R/diffusion-scaling.txt 2>&1
tail -n 15 $R/diffusion-scaling.txt 2>/dev/null
cp $OUT/*.tar.gz $R/ 2>/dev/null; rm -f $OUT/*.tar.gz
tar -C $R -czf "$OUT/determinism.tar.gz" .
ls -la $OUT
