#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) for the bf16 storage of the fused kernels: `ukan selftest --device
# cuda` (the bf16 entries against their torch formulations, and the model in bf16 against fp32); `ukan bench` at 256²
# and 512² in fp32 and `--precision bf16`, alternating, three times each; the eager bf16 step (phases); Nsight
# Compute's per-kernel profile of the eager bf16 step at 256². Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh).
# Writes $OUT/bf16-storage.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-500}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/bf16-storage && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
pack() { tar -C $R -czf "$OUT/bf16-storage.tar.gz" .; }
run selftest 150 $U selftest --device cuda
grep -iE "bf16|fail" $R/selftest.txt | cut -c1-200; tail -n 2 $R/selftest.txt
pack
B="bench --device cuda --size 256 --size 512"
for i in 1 2 3; do
  run fp32-$i 60 $U $B --json $R/fp32-$i.json
  run bf16-$i 60 $U $B --precision bf16 --json $R/bf16-$i.json
done
run bf16-eager 60 $U $B --precision bf16 --graphs off --breakdown --json $R/bf16-eager.json
pack
profile_step bf16 256
grep -h "rc=" $R/log.txt
for f in $R/fp32-*.txt $R/bf16-*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-260; done
grep -i "optimizer\|forward\|backward" $R/bf16-eager.txt | cut -c1-100
head -24 $R/kernel-families-bf16-256.txt | cut -c1-120
pack
ls -la $OUT
