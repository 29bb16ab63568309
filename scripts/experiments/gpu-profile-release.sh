#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200): Nsight Compute's duration of every kernel of the eager training step
# with every fused path at its default, at 256² and 512² (batch 8, U-KAN paper, fp32), cut into one step and grouped
# by family with scripts/kernel_families.py, as docs/gpu.md's "before and after" table.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). Writes $OUT/profile-release.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/profile-release && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
for size in 256 512; do
  run ncu-fp32-$size 130 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 1500 --launch-count 2600 \
    --log-file $R/ncu-fp32-$size.csv $U bench --device cuda --size $size --graphs off --warmup 0 --runs 8
  python3 scripts/kernel_families.py $R/ncu-fp32-$size.csv > $R/kernel-families-fp32-$size.txt 2>&1
  gzip -f $R/ncu-fp32-$size.csv
  cut -c1-120 $R/kernel-families-fp32-$size.txt
done
tar -C $R -czf "$OUT/profile-release.tar.gz" .
ls -la $OUT
