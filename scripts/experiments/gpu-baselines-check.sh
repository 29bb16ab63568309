#!/usr/bin/env bash
# A quick CUDA check of the baselines (docs/models.md) before gpu-baselines-busi.sh: the selftest (every architecture
# on the device vs the CPU), then per baseline a training-step/inference benchmark at 256² (batch 8) and 3 epochs on
# BUSI's official split 2981 through train (CUDA graphs), eval and the run's metrics.
# Expects .gpu/ukan-gpu.tar.xz and .gpu/busi256j (or DATA=...). Writes $OUT/baselines-check.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-540}"
EPOCHS="${EPOCHS:-3}"
DATA="${DATA:-.gpu/busi256j}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/runs/check && mkdir -p $R
timeout 150 $U selftest --device cuda > $R/selftest.txt 2>&1; echo "selftest rc=$?" >> $R/log.txt
for m in unet attunet unetpp unext; do
  timeout 60 $U bench --device cuda --model $m --size 256 --warmup 3 --runs 10 --json $R/bench-$m.json > $R/bench-$m.txt 2>&1
  echo "bench $m rc=$?" >> $R/log.txt
done
for m in unet attunet unetpp unext; do
  train check-$m "$DATA" --model $m --split docs/splits/busi/official-split-2981.json
  tail -3 /tmp/runs/check-$m.log >> $R/log.txt
done
evaluate_and_pack baselines-check.tar.gz
