#!/usr/bin/env bash
# Fused bias + ReLU after each folded conv → BN pair for inference (docs/gpu.md): `ukan selftest --device cuda` (the
# kernel against its torch formulation, the folded model with and without it), then `ukan bench` inference with the
# fused pass (default) and without it (UKAN_FUSED_BIAS_RELU=off), U-KAN paper preset and U-Net at 256², batch 8, under
# CUDA graphs, three times each, alternating. Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/bias-relu.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-420}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/bias-relu && mkdir -p $R
timeout 240 $U selftest --device cuda > $R/selftest.txt 2>&1
echo "selftest rc=$?" >> $R/log.txt
grep -iE "bias \+ relu|folded u-kan|fail" $R/selftest.txt | cut -c1-220
for model in ukan unet; do
  for i in 1 2 3; do
    for fused in on off; do
      name=$model-bias-relu-$fused-$i
      UKAN_FUSED_BIAS_RELU=$fused timeout 80 $U bench --device cuda --model $model --size 256 --batch 8 --json $R/$name.json > $R/$name.txt 2>&1
      echo "$name rc=$?" >> $R/log.txt
      sed -n '4p' $R/$name.txt | cut -c1-220
    done
  done
done
tar -C $R -czf "$OUT/bias-relu.tar.gz" .
