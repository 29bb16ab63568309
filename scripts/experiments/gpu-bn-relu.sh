#!/usr/bin/env bash
# The fused training-mode batch norm + ReLU (Layers/BatchNormRelu.cs, Native/Kernels/batch_norm_relu.cu) on one H200
# (device kind nvidia-h200), in one call:
#  `ukan selftest` (the kernels against BatchNorm2d + ReLU and their torch formulation, six graph-replayed training
#  steps fused against the modules, and every earlier check); `ukan bench` (U-KAN paper, batch 8, CUDA graphs) with
#  UKAN_FUSED_BN_RELU=on and without (the default, off until measured), alternating, ROUNDS times at 256² and twice at 512²; the eager
#  step (--graphs off --breakdown) both ways for its peak memory; --precision tf32; then Nsight Compute's kernel
#  families of one eager step at 256² (scripts/kernel_families.py), as in docs/gpu.md's table.
# PART=accuracy instead (a second call carrying .gpu/busi256j on the same warm machine): BUSI, 60 epochs, the three
# official split seeds, the defaults (fp32 with TF32 convolutions), --precision tf32 and UKAN_FUSED_BN_RELU=on, all nine
# runs at once.
# Expects .gpu/ukan-gpu.tar.xz (or .gpu/u from an earlier call). Writes $OUT/bn-relu.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-570}"
PART="${PART:-bench}"
ROUNDS="${ROUNDS:-3}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/bn-relu && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
if [ "$PART" = bench ]; then
  run selftest 120 $U selftest --device cuda
  grep -E "batch norm|fused batch" $R/selftest.txt | cut -c1-200
  for i in $(seq 1 $ROUNDS); do
    run bench-fused-$i 40 env UKAN_FUSED_BN_RELU=on $U bench --device cuda --size 256 --json $R/bench-fused-$i.json
    run bench-modules-$i 40 $U bench --device cuda --size 256 --json $R/bench-modules-$i.json
  done
  for i in 1 2; do
    run bench512-fused-$i 50 env UKAN_FUSED_BN_RELU=on $U bench --device cuda --size 512 --json $R/bench512-fused-$i.json
    run bench512-modules-$i 50 $U bench --device cuda --size 512 --json $R/bench512-modules-$i.json
  done
  run eager-fused 40 env UKAN_FUSED_BN_RELU=on $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-fused.json
  run eager-modules 40 $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-modules.json
  run bench-tf32 60 $U bench --device cuda --size 256 --size 512 --precision tf32 --json $R/bench-tf32.json
  run ncu-fp32-256 150 env UKAN_FUSED_BN_RELU=on ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 1500 --launch-count 2600 \
    --log-file $R/ncu-fp32-256.csv $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 8
  python3 scripts/kernel_families.py $R/ncu-fp32-256.csv > $R/kernel-families-fp32-256.txt 2>&1
  gzip -f $R/ncu-fp32-256.csv
  grep -h "rc=" $R/log.txt
  for f in $R/bench*.txt $R/eager-*.txt; do echo "$(basename $f .txt): $(grep -m2 '^ukan\|^|' $f | cut -c1-230 | tr '\n' ' ')"; done
  tail -n 14 $R/kernel-families-fp32-256.txt
  tail -n 3 $R/selftest.txt
else
  D=.gpu/busi256j
  for s in 2981 6142 1187; do
    run acc-fp32-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-fp32-$s --epochs 60 --data-seed $s &
    run acc-tf32-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-tf32-$s --epochs 60 --data-seed $s --precision tf32 &
    run acc-fused-$s $(( $(left) - 25 )) env UKAN_FUSED_BN_RELU=on $U train --device cuda --data $D --out /tmp/runs/acc-fused-$s --epochs 60 --data-seed $s &
  done
  wait
  for r in /tmp/runs/acc-*; do
    n=$(basename $r); cp $r/metrics.csv $R/$n-metrics.csv 2>/dev/null; cp $r/config.json $R/$n-config.json 2>/dev/null
    echo "$n: $(grep -m1 '^done' $R/$n.txt | cut -c1-200)"
  done
fi
tar -C $R -czf "$OUT/bn-relu.tar.gz" .
ls -la $OUT
