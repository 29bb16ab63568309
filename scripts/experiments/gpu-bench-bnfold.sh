#!/usr/bin/env bash
# Batch norm folded into the preceding convolution for inference (docs/gpu.md): `ukan bench` inference with the fold
# (default) and without it (UKAN_FOLD_BN=off), U-KAN paper preset and U-Net at 256², batch 8, under CUDA graphs, three
# times each, alternating. Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/bnfold.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/bnfold && mkdir -p $R
for model in ukan unet; do
  for i in 1 2 3; do
    for fold in on off; do
      name=$model-fold-$fold-$i
      UKAN_FOLD_BN=$fold timeout 80 $U bench --device cuda --model $model --size 256 --batch 8 --json $R/$name.json > $R/$name.txt 2>&1
      echo "$name rc=$?" >> $R/log.txt
      sed -n '4p' $R/$name.txt | cut -c1-220
    done
  done
done
tar -C $R -czf "$OUT/bnfold.tar.gz" .
