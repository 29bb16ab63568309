#!/usr/bin/env bash
# The rest of scripts/experiments/gpu-bench-same-gpu.sh's figures after a kernel change (gpu-check-kernels.sh has fp32): tf32 at
# 256 and 512, the large preset, KANLinear against Linear in tf32. Expects .gpu/ukan-gpu.tar.xz; leaves the app in
# .gpu/u for a next call. Writes $OUT/after-kernels.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-200}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/after-kernels && mkdir -p $R
timeout 90 $U bench --device cuda --size 256 --size 512 --precision tf32 --json $R/ukan-tf32.json > $R/ukan-tf32.txt 2>&1
timeout 40 $U bench --device cuda --preset large --json $R/ukan-large.json > $R/ukan-large.txt 2>&1
timeout 40 $U bench kan --device cuda --precision tf32 --json $R/kan-tf32.json > $R/kan-tf32.txt 2>&1
for f in $R/*.txt; do tail -n 4 $f | cut -c1-250; done
tar -C $R -czf "$OUT/after-kernels.tar.gz" .
