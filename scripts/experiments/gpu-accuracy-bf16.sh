#!/usr/bin/env bash
# BUSI accuracy of `--precision bf16` (autocast with the fused kernels storing bf16: batch norm + ReLU, the KAN
# features, KANLinear's backward products in bf16) against the default fp32 (TF32 convolutions): 60 epochs, the
# official split seeds 2981, 6142, 1187, all six runs at once on one H200 (device kind nvidia-h200).
# Two calls on one warm machine, as the app and the data together pass the 64 MiB that may travel: first carrying
# .gpu/ukan-gpu.tar.xz (PART=unpack: unpacks it into .gpu/u, which stays), then carrying .gpu/busi256j
# (ukan data prepare, docs/datasets.md). ONLY=bf16 runs the three bf16 trainings alone. Writes $OUT/accuracy-bf16.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-420}"
source "$(dirname "$0")/../gpu-common.sh"
[ "${PART:-accuracy}" = unpack ] && { ls -la .gpu/u | head -3; exit 0; }
R=/tmp/accuracy-bf16 && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
D=.gpu/busi256j
for s in 2981 6142 1187; do
  run acc-bf16-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-bf16-$s --epochs 60 --data-seed $s --precision bf16 &
  [ "${ONLY:-}" = bf16 ] || run acc-fp32-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-fp32-$s --epochs 60 --data-seed $s &
done
wait
collect_runs 'acc-*'
grep -h "rc=" $R/log.txt
tar -C $R -czf "$OUT/accuracy-bf16.tar.gz" .
