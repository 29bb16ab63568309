#!/usr/bin/env bash
# The convolutions before a training-mode batch norm run without their bias (ConvBatchNorm, docs/models.md): `ukan
# bench` training step by default and with UKAN_BIAS_BEFORE_BN=official (the official computation), U-KAN paper preset
# at 256², batch 8, graph-replayed three times and eager once per mode, alternating; then U-Net at 256². `ukan selftest`
# in both modes checks the device numerics. Steps that would not fit the time left (LIMIT seconds) are skipped.
# PART=ncu (a call of its own) instead counts an eager training step's kernels per family in both modes (ncu,
# scripts/kernel_families.py): the bias adds and the bias-gradient reductions should be gone.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). Writes $OUT/biasbn.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/biasbn && mkdir -p $R
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
mode_env() { [ "$1" = official ] && echo UKAN_BIAS_BEFORE_BN=official || echo UKAN_BIAS_BEFORE_BN=; }
PART="${PART:-bench}"
[ "$PART" = bench ] && for run in auto-1 off-1 auto-2 auto-3; do
  graphs=${run%-*}
  for mode in dropped official; do
    [ $(left) -gt 100 ] || continue
    name=ukan-$mode-graphs-$run
    env $(mode_env $mode) timeout 90 $U bench --device cuda --size 256 --batch 8 --graphs $graphs --json $R/$name.json \
      > $R/$name.txt 2>&1
    echo "$name rc=$? left=$(left)s" >> $R/log.txt
    sed -n '4p' $R/$name.txt | cut -c1-220
  done
done
[ "$PART" = bench ] && for mode in dropped official; do
  [ $(left) -gt 130 ] || continue
  env $(mode_env $mode) timeout 90 $U bench --device cuda --model unet --size 256 --batch 8 --json $R/unet-$mode.json \
    > $R/unet-$mode.txt 2>&1
  echo "unet-$mode rc=$?" >> $R/log.txt
  env $(mode_env $mode) timeout 120 $U selftest --device cuda > $R/selftest-$mode.txt 2>&1
  echo "selftest-$mode rc=$? left=$(left)s" >> $R/log.txt
done
if [ "$PART" = ncu ]; then
  for mode in dropped official; do
    env $(mode_env $mode) timeout 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 2500 \
      --launch-count 4500 --log-file $R/ncu-$mode.csv $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 3 \
      > $R/ncu-$mode.txt 2>&1
    echo "ncu-$mode rc=$?" >> $R/log.txt
    python3 scripts/kernel_families.py $R/ncu-$mode.csv > $R/kernels-$mode.md 2>&1
  done
fi
tar -C $R -czf "$OUT/biasbn.tar.gz" .
