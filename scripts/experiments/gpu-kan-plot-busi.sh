#!/usr/bin/env bash
# The learned KAN activations of a U-KAN trained on BUSI with the paper's schedule: 400 epochs, official recipe, the
# official split of seed 2981 (docs/splits/busi), on GPU $GPU (0); then `ukan eval` and `ukan plot kan` (edges ranked
# over the validation images' layer inputs). A later call continues an unfinished run (the run folder stays in
# /tmp/runs on a warm machine). Expects the app (.gpu/u or .gpu/ukan-gpu.tar.xz) and .gpu/busi256j.
# Writes $OUT/kan-plot-busi.tar.gz: the plots (PNG, SVG), curves.csv, and the run's small files.
set -uo pipefail
LIMIT="${LIMIT:-540}"
EPOCHS="${EPOCHS:-400}"
source "$(dirname "$0")/../gpu-common.sh"
export CUDA_VISIBLE_DEVICES="${GPU:-0}"
name=busi-kan-2981
run=/tmp/runs/$name
if [ -f $run/checkpoints/last.safetensors ] && ! grep -q "^done:" /tmp/runs/$name.log 2>/dev/null; then
  timeout $(( $(left) - 30 )) $U train --device cuda --resume $run >> /tmp/runs/$name.log 2>&1
elif ! [ -d $run ]; then
  train $name .gpu/busi256j --split docs/splits/busi/official-split-2981.json
fi
tail -2 /tmp/runs/$name.log
grep -q "^done:" /tmp/runs/$name.log || { echo "$name: not finished; call again"; exit 0; }
P=/tmp/kan-plot-busi && rm -rf $P && mkdir -p $P
$U eval $run --device cuda --json $run/eval.json > $run/eval.txt 2>&1
$U plot kan --weights $run --out $P/plots --device cuda > $P/plot.txt 2>&1; cat $P/plot.txt
cp $run/config.json $run/metrics.csv $run/eval.json $run/eval.txt $P/ 2>/dev/null
cp /tmp/runs/$name.log $P/train.log
tar -C $P -czf "$OUT/kan-plot-busi.tar.gz" .
ls -la "$OUT"
