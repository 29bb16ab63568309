#!/usr/bin/env bash
# The baselines of U-KAN's Table 1 (U-Net, Attention U-Net, U-Net++, UNeXt; docs/models.md) under U-KAN's recipe on
# BUSI with the three official splits, all runs at once on one GPU, EPOCHS each (default 100; the official schedule is
# 400). A call stops at LIMIT seconds; call the script again on the same warm machine and the runs continue from their
# last checkpoints (ukan train --resume) until every run prints "done:". MODELS and SEEDS pick a subset, e.g.
# MODELS="unet unext" SEEDS=2981. DATASET=cvc trains on CVC-ClinicDB (.gpu/cvc256j, docs/splits/cvc) instead.
# First call: `ukan model summary` of each model at 256² (parameters and MACs) into $OUT as well.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh; or the app in .gpu/u from a previous call) and .gpu/busi256
# (ukan data resize <prepared BUSI> .gpu/busi256 --size 256). Writes $OUT/baselines-$DATASET.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
EPOCHS="${EPOCHS:-100}"
MODELS="${MODELS:-unet attunet unetpp unext}"
SEEDS="${SEEDS:-2981 6142 1187}"
DATASET="${DATASET:-busi}"
case "$DATASET" in
  busi) DATA=.gpu/busi256 ;;
  cvc) DATA=.gpu/cvc256j ;;
  *) echo "DATASET must be busi or cvc" >&2; exit 2 ;;
esac
source "$(dirname "$0")/../gpu-common.sh"
mkdir -p /tmp/runs/summaries
for model in $MODELS; do
  [ -f /tmp/runs/summaries/$model.txt ] || $U model summary --model $model --size 256 > /tmp/runs/summaries/$model.txt 2>&1
done
# A new run, or the continuation of one an earlier call of this script started on this machine.
run() { # name, extra args...
  local name=$1; shift
  if [ -f /tmp/runs/$name/checkpoints/last.safetensors ]; then
    grep -q "^done:" /tmp/runs/$name.log 2>/dev/null && return
    timeout $(( DEADLINE - $(date +%s) )) $U train --device cuda --resume /tmp/runs/$name >> /tmp/runs/$name.log 2>&1
  else
    rm -rf /tmp/runs/$name
    train $name $DATA "$@"
  fi
}
for model in $MODELS; do
  for seed in $SEEDS; do
    run $DATASET-$model-official-$seed --model $model --split docs/splits/$DATASET/official-split-$seed.json &
  done
done
wait
evaluate_and_pack baselines-$DATASET.tar.gz
