#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) checking our 3 × 3 convolution kernels (few channels and depthwise,
# FusedConv3x3): `ukan selftest --device cuda`; `ukan bench` (256² and 512², CUDA graphs) alternating the default with
# UKAN_FUSED_CONV=off (cuDNN for those layers), fp32 and bf16 (which keeps cuDNN: a check that nothing moved); the
# eager step (peak memory); two `--deterministic` demo trainings whose step logs must be identical; Nsight Compute's
# per-kernel profile of the eager fp32 step at 256² and 512². Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh).
# Writes $OUT/conv3x3.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-570}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/conv3x3 && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
pack() { tar -C $R -czf "$OUT/conv3x3.tar.gz" .; }
run selftest 150 $U selftest --device cuda
pack
B="bench --device cuda --size 256 --size 512"
for i in 1 2; do
  run fp32-$i 60 $U $B --json $R/fp32-$i.json
  run fp32-cudnn-$i 60 env UKAN_FUSED_CONV=off $U $B --json $R/fp32-cudnn-$i.json
done
run bf16 60 $U $B --precision bf16 --json $R/bf16.json
run eager 60 $U $B --graphs off --breakdown --json $R/eager.json
pack
deterministic_pair
profile_step fp32 256 512
pack
grep -h "rc=\|deterministic:" $R/log.txt
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|error" $R/selftest.txt | cut -c1-220 | head -20; tail -n 2 $R/selftest.txt
for f in $R/fp32-*.txt $R/bf16.txt $R/eager.txt; do
  echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-270
done
for p in fp32-256 fp32-512; do head -20 $R/kernel-families-$p.txt | cut -c1-110; done
ls -la $OUT
