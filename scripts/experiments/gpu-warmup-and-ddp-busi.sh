#!/usr/bin/env bash
# On a host with two H200 (nvidia-h200-x2), with BUSI (.gpu/busi256j; the app already unpacked in .gpu/u by an earlier
# call on the same warm machine, or .gpu/ukan-gpu.tar.xz):
#  (1) the first epoch with the start-up warm-up (StartupWarmup: kernel loading, cuDNN, cuBLAS and the KAN kernels'
#      compilation on a background thread while the data is decoded): a fresh compile cache, then warm caches twice on
#      GPU 1 and once on GPU 0, and once with UKAN_WARMUP=off, each alone on the host (`--profile async`);
#  (2) the same-accuracy check of data-parallel training: the official split of seed 2981, 400 epochs, 2 GPUs with
#      per-GPU batch 4 (global batch 8, batch norm per GPU as DDP's default) against the one-GPU batch-8 run of
#      docs/runs/busi-400-2981 (same data, recipe and seed).
# Writes $OUT/warmup-ddp.tar.gz (profiles, logs, metrics; no weights).
set -uo pipefail
LIMIT="${LIMIT:-420}"
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
first_epoch fresh 1 "" 3
first_epoch warm 1 "" 8
first_epoch warm-off 1 UKAN_WARMUP=off 8
first_epoch warm-2 1 "" 8
first_epoch warm-gpu0 0 "" 8
first_epoch warm-gpu0-off 0 UKAN_WARMUP=off 8
for f in $R/*/profile.json; do python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(sys.argv[1].split("/")[-2], "first %.2f s" % d["first_epoch_seconds"], "steady %.3f s" % d["steady_epoch_seconds"],
      "start->end of epoch 1 %.2f s" % d["process_start_to_first_epoch_end_seconds"],
      " ".join("%s=%.2f" % (p["name"], p["seconds"]) for p in d["phases"] if p["name"].startswith(("startup", "first", "second", "valid"))))
PY
done | tee $R/summary.txt
# (2) 2 GPUs, per-GPU batch 4, the official split of seed 2981, as long as the call allows (resumable on this machine).
N=busi-400-2981-2gpu
timeout -s INT -k 20 $(( $(left) - 25 )) $U train --gpus 2 --data $D --split docs/splits/busi/official-split-2981.json \
  --out /tmp/runs/$N --epochs 400 --batch 4 > /tmp/runs/$N.log 2>&1
echo "$N rc=$? left=$(left)s" | tee -a $R/log.txt
tail -n 3 /tmp/runs/$N.log | cut -c1-200
tar -C /tmp/runs -czf "$OUT/warmup-ddp.tar.gz" --exclude='*.safetensors' --exclude='events' --exclude='*.png' .
ls -la $OUT
