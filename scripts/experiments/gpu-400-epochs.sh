#!/usr/bin/env bash
# The paper's schedule on a machine of kind nvidia-h200-x2: 400 epochs, official recipe, official sklearn splits of
# the seeds 2981 / 6142 / 1187 (docs/splits/<dataset>), two runs on GPU 0 and one on GPU 1, all at once. While GPU 1's
# run has not started, GPU 1 measures the first epoch (FIRST=1): a fresh compile cache, then warm caches with cuDNN
# autotuning as PyTorch does it, off, and limited to 1 candidate per shape (UKAN_CUDNN_AUTOTUNE).
# Runs that the call's time limit stops (SIGTERM: the epoch in progress is lost, the checkpoint kept) continue on the
# next call with the same DATASET while the machine is still warm (run folders in /tmp/runs), then everything is
# evaluated (ukan eval --json).
# Expects: .gpu/ukan-gpu.tar.xz (or the app already unpacked in .gpu/u) and .gpu/<DATASET>256j
# (ukan data resize <prepared set> .gpu/<DATASET>256j --size 256 --jpeg-quality 95). Writes $OUT/<DATASET>400.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-550}" EPOCHS="${EPOCHS:-400}" DATASET="${DATASET:-busi}" FIRST="${FIRST:-1}"
source "$(dirname "$0")/../gpu-common.sh"
D=.gpu/${DATASET}256j
R=/tmp/runs/first-epoch && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > /tmp/runs/gpu-$DATASET.txt 2>&1
nproc >> /tmp/runs/gpu-$DATASET.txt
seed_run() { # gpu seed
  CUDA_VISIBLE_DEVICES=$1 train $DATASET-400-$2 $D --split docs/splits/$DATASET/official-split-$2.json
}
ms() { date +%s%3N; }
first_epoch() { # name, env assignment or "", epochs
  local t0=$(ms)
  env CUDA_VISIBLE_DEVICES=1 UKAN_CACHE_DIR=/tmp/first-cache $2 timeout 120 $U train --device cuda --data $D \
    --out $R/$1 --epochs $3 --profile async > $R/$1.txt 2>&1
  echo "$1 ($2) rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
}
seed_run 0 2981 &
seed_run 0 6142 &
( if [ "$FIRST" = 1 ] && [ ! -d $R/fresh ]; then
    rm -rf /tmp/first-cache
    first_epoch fresh "" 3
    first_epoch warm-default "" 12
    first_epoch warm-autotune-off UKAN_CUDNN_AUTOTUNE=off 12
    first_epoch warm-autotune-1 UKAN_CUDNN_AUTOTUNE=1 12
    first_epoch warm-default-2 "" 12
  fi
  seed_run 1 1187 ) &
wait
evaluate_and_pack $DATASET-400.tar.gz
for f in $R/*/profile.json; do python3 - "$f" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); e = d["epoch_seconds"]
print(sys.argv[1].split("/")[-2], "first %.2f s" % d["first_epoch_seconds"], "steady %.3f s" % d["steady_epoch_seconds"],
      "start->end of epoch 1 %.2f s" % d["process_start_to_first_epoch_end_seconds"],
      " ".join("%s=%.2f" % (p["name"], p["seconds"]) for p in d["phases"] if p["name"].startswith(("startup", "first"))))
PY
done
for r in /tmp/runs/$DATASET-400-*/; do echo "$(basename $r): $(tail -n 1 $r/../$(basename $r).log | cut -c1-160)"; done
