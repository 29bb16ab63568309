#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) for the fused LayerNorm: `ukan selftest --device cuda`; `ukan bench` at
# 256² and 512², fp32 and bf16, alternating with UKAN_FUSED_LAYER_NORM=off, twice; Nsight Compute's per-kernel profile
# of the eager fp32 step at 256². Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/layer-norm.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/layer-norm && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
pack() { tar -C $R -czf "$OUT/layer-norm.tar.gz" .; }
run selftest 150 $U selftest --device cuda
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|LayerNorm" $R/selftest.txt | cut -c1-200; tail -n 2 $R/selftest.txt
pack
B="bench --device cuda --size 256 --size 512"
for i in 1 2; do
  run fp32-$i 60 $U $B --json $R/fp32-$i.json
  run fp32-ln-off-$i 60 env UKAN_FUSED_LAYER_NORM=off $U $B --json $R/fp32-ln-off-$i.json
  run bf16-$i 60 $U $B --precision bf16 --json $R/bf16-$i.json
  run bf16-ln-off-$i 60 env UKAN_FUSED_LAYER_NORM=off $U $B --precision bf16 --json $R/bf16-ln-off-$i.json
done
pack
profile_step fp32 256
for f in $R/fp32-*.txt $R/bf16-*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-260; done
head -16 $R/kernel-families-fp32-256.txt | cut -c1-160
pack
