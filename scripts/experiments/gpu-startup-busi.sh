#!/usr/bin/env bash
# Start-up of a BUSI training on a host with two H200 (nvidia-h200-x2), the start-up warm-up on (the default) against
# UKAN_WARMUP=off: first a fresh compile cache (default), then three warm-cache pairs alternating off / on, each run
# alone on the host on GPU 1, 8 epochs, `--profile async` (phases without extra device synchronisation). Prints per run
# the first epoch, the steady epoch and the time from process start to the end of the first epoch, with the start-up
# phases. Expects the app (.gpu/u or .gpu/ukan-gpu.tar.xz) and .gpu/busi256j. Writes $OUT/startup-busi.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-150}"
source "$(dirname "$0")/../gpu-common.sh"
D=.gpu/busi256j
R=/tmp/startup && rm -rf $R && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
ms() { date +%s%3N; }
run() { # name, env assignment, epochs
  local t0=$(ms)
  env CUDA_VISIBLE_DEVICES=1 UKAN_CACHE_DIR=/tmp/startup-cache $2 timeout 60 $U train --device cuda --data $D \
    --out $R/$1 --epochs $3 --profile async > $R/$1.txt 2>&1
  echo "$1 ($2) rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
}
rm -rf /tmp/startup-cache
run fresh UKAN_WARMUP=on 3
for k in 1 2 3; do
  run off-$k UKAN_WARMUP=off 8
  run on-$k UKAN_WARMUP=on 8
done
python3 "$(dirname "$0")/startup_summary.py" $R/*/profile.json | tee $R/summary.txt
for d in $R/*/; do cp $d/profile.json $R/$(basename $d)-profile.json 2>/dev/null; cp $d/metrics.csv $R/$(basename $d)-metrics.csv 2>/dev/null; rm -rf $d; done
tar -C $R -czf "$OUT/startup-busi.tar.gz" .
