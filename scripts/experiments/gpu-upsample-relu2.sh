#!/usr/bin/env bash
# The fused relu(x2 bilinear upsampling) (Layers/UpsampleRelu.cs, Native/Kernels/upsample_relu.cu) on one H200 (device
# kind nvidia-h200), in one call, after its port onto the custom-function memory fixes (incoming gradient disposed,
# output templates dropped, x saved instead of the result):
#  `ukan selftest` (the kernels against F.interpolate + ReLU and their torch formulation, NCHW and channels-last, six
#  graph-replayed training steps fused against unfused, and every earlier check); `ukan bench` (U-KAN paper, batch 8,
#  CUDA graphs) at 256² and 512² with UKAN_FUSED_UPSAMPLE=on and without (the default, off until measured),
#  alternating, ROUNDS times; then the eager step (--graphs off --breakdown) both ways at 256² and 512², whose peak
#  memory grew by gigabytes over one bench run before the fixes (docs/results.md §2g).
# Expects .gpu/ukan-gpu.tar.xz (or .gpu/u from an earlier call). Writes $OUT/upsample-relu2.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-570}"
ROUNDS="${ROUNDS:-2}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/upsample-relu2 && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
run selftest 120 $U selftest --device cuda
grep -E "upsampling" $R/selftest.txt | cut -c1-200
for i in $(seq 1 $ROUNDS); do
  run bench-fused-$i 60 env UKAN_FUSED_UPSAMPLE=on $U bench --device cuda --size 256 --size 512 --json $R/bench-fused-$i.json
  run bench-default-$i 60 $U bench --device cuda --size 256 --size 512 --json $R/bench-default-$i.json
done
run eager-fused 60 env UKAN_FUSED_UPSAMPLE=on $U bench --device cuda --size 256 --size 512 --graphs off --breakdown --json $R/eager-fused.json
run eager-default 60 $U bench --device cuda --size 256 --size 512 --graphs off --breakdown --json $R/eager-default.json
grep -h "rc=" $R/log.txt
for f in $R/bench-*.txt $R/eager-*.txt; do echo "$(basename $f .txt): $(grep -m3 '^ukan\|^|' $f | cut -c1-230 | tr '\n' ' ')"; done
tail -n 3 $R/selftest.txt
tar -C $R -czf "$OUT/upsample-relu2.tar.gz" .
ls -la $OUT
