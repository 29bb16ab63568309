#!/usr/bin/env bash
# After a change to the fused CUDA kernels: `ukan selftest` on the GPU (fused kernels against the torch formulation,
# GPU against CPU, graphs), then the KAN and model benchmarks at fp32 (graph replays) to set against the previous
# figures in docs/runs. Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/check-kernels.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/check-kernels && mkdir -p $R
timeout 150 $U selftest --device cuda > $R/selftest.txt 2>&1; echo "selftest rc=$?" >> $R/log.txt
timeout 60 $U bench kan --device cuda --json $R/kan-fp32.json > $R/kan-fp32.txt 2>&1; echo "kan rc=$?" >> $R/log.txt
timeout 90 $U bench --device cuda --size 256 --size 512 --json $R/ukan-fp32.json > $R/ukan-fp32.txt 2>&1; echo "ukan rc=$?" >> $R/log.txt
cat $R/log.txt; grep -v "^\s*$" $R/selftest.txt | cut -c1-120; tail -n 6 $R/kan-fp32.txt; tail -n 3 $R/ukan-fp32.txt | cut -c1-250
tar -C $R -czf "$OUT/check-kernels.tar.gz" .
