#!/usr/bin/env bash
# On a host with two H200 (nvidia-h200-x2), with BUSI (.gpu/busi256j; the app already unpacked in .gpu/u by an earlier
# call on the same warm machine, or .gpu/ukan-gpu.tar.xz):
#  (1) the first epoch with the start-up warm-up (StartupWarmup: kernel loading, cuDNN, cuBLAS and the KAN kernels'
#      compilation on a background thread while the data is decoded): a fresh compile cache, then warm caches twice on
#      GPU 1 and once on GPU 0, and once with UKAN_WARMUP=off, each alone on the host (`--profile async`). (When the
#      call ran, the warm-up was on by default and the runs named no variable; it is opt-in since, so the script now
#      asks for it: UKAN_WARMUP=on.)
#  (2) the same-accuracy check of data-parallel training at the schedule of docs/results.md §4's 60-epoch check (split
#      seed 2981, 60 epochs, defaults): one GPU with batch 8, then 2 GPUs with per-GPU batch 4 (global batch 8, batch
#      norm per GPU as DDP's default), one after the other in this call.
# Writes $OUT/warmup-ddp.tar.gz (profiles, logs, metrics; no weights).
set -uo pipefail
LIMIT="${LIMIT:-240}"
source "$(dirname "$0")/../gpu-common.sh"
export NCCL_NVLS_ENABLE=0
D=.gpu/busi256j
R=/tmp/runs/first-epoch && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
ms() { date +%s%3N; }
first_epoch() { # name, gpu, env assignment or "", epochs
  local t0=$(ms)
  env CUDA_VISIBLE_DEVICES=$2 UKAN_CACHE_DIR=/tmp/first-cache $3 timeout 90 $U train --device cuda --data $D \
    --out $R/$1 --epochs $4 --profile async > $R/$1.txt 2>&1
  echo "$1 (gpu $2, $3) rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
}
rm -rf /tmp/first-cache
first_epoch fresh 1 UKAN_WARMUP=on 3
first_epoch warm 1 UKAN_WARMUP=on 8
first_epoch warm-off 1 UKAN_WARMUP=off 8
first_epoch warm-2 1 UKAN_WARMUP=on 8
first_epoch warm-gpu0 0 UKAN_WARMUP=on 8
# (GPU 0 without the warm-up: left out to save device time)
python3 "$(dirname "$0")/startup_summary.py" $R/*/profile.json | tee $R/summary.txt
# (2) 60 epochs, split seed 2981: 1 GPU batch 8, then 2 GPUs batch 4 each.
for g in 1 2; do
  N=busi-60-2981-${g}gpu
  [ $(left) -gt 30 ] || { echo "$N skipped: no time left" | tee -a $R/log.txt; continue; }
  if [ $g = 1 ]; then dev="--device cuda --batch 8"; else dev="--gpus 2 --batch 4"; fi
  t0=$(ms)
  timeout -s INT -k 20 $(( $(left) - 10 )) $U train $dev --data $D --data-seed 2981 --out /tmp/runs/$N --epochs 60 > /tmp/runs/$N.log 2>&1
  echo "$N rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
  tail -n 1 /tmp/runs/$N.log | cut -c1-200
done
tar -C /tmp/runs -czf "$OUT/warmup-ddp.tar.gz" --exclude='*.safetensors' --exclude='events' --exclude='*.png' .
ls -la $OUT
