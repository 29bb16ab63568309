#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200): `ukan selftest --device cuda` with the relu(×2 upsampling) kernels'
# constant interior taps; `ukan bench` (256² and 512², CUDA graphs) default against UKAN_FUSED_UPSAMPLE=off,
# alternating twice; the same with cuDNN's autotuning over all candidates (UKAN_CUDNN_AUTOTUNE=0) and over PyTorch's
# ten (on), against its heuristics (the default); scripts/experiments/conv_layouts.py (the full-resolution
# convolutions by input channels and layout); Nsight Compute's per-kernel profile of the eager 256² step.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). Writes $OUT/conv-upsample.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/conv-upsample && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
run selftest 120 $U selftest --device cuda
B="bench --device cuda --size 256 --size 512"
for i in 1 2; do
  run new-$i 60 $U $B --json $R/new-$i.json
  run up-off-$i 60 env UKAN_FUSED_UPSAMPLE=off $U $B --json $R/up-off-$i.json
done
run autotune-all 90 env UKAN_CUDNN_AUTOTUNE=0 $U $B --json $R/autotune-all.json
run autotune-on 90 env UKAN_CUDNN_AUTOTUNE=on $U $B --json $R/autotune-on.json
run conv-layouts 90 python3 scripts/experiments/conv_layouts.py
profile_step fp32 256
grep -h "rc=" $R/log.txt
for f in $R/new-*.txt $R/up-off-*.txt $R/autotune-*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-260; done
cat $R/conv-layouts.txt
head -16 $R/kernel-families-fp32-256.txt | cut -c1-110
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail" $R/selftest.txt | cut -c1-200; tail -n 2 $R/selftest.txt
tar -C $R -czf "$OUT/conv-upsample.tar.gz" .
