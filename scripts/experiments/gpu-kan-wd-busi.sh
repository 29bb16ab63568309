#!/usr/bin/env bash
# Does the KAN weight decay make U-KAN's spline branch vanish? Two U-KAN runs on BUSI, official split of seed 2981,
# EPOCHS (100) epochs, the official recipe on GPU 0 and the same with --kan-weight-decay 0 on GPU 1, at once; then
# `ukan plot kan` of each (edges ranked over validation images) and, per KANLinear layer, the largest |base| and
# |spline| part over the plotted edges (from curves.csv). Expects the app and .gpu/busi256j.
# Writes $OUT/kan-wd-busi.tar.gz (metrics, eval, plots, summary).
set -uo pipefail
LIMIT="${LIMIT:-150}"
EPOCHS="${EPOCHS:-100}"
source "$(dirname "$0")/../gpu-common.sh"
P=/tmp/kan-wd && rm -rf $P /tmp/runs/kan-wd-* && mkdir -p $P
(CUDA_VISIBLE_DEVICES=0 train kan-wd-official .gpu/busi256j --split docs/splits/busi/official-split-2981.json) &
(CUDA_VISIBLE_DEVICES=1 train kan-wd-0 .gpu/busi256j --split docs/splits/busi/official-split-2981.json --kan-weight-decay 0) &
wait
for n in kan-wd-official kan-wd-0; do
  tail -1 /tmp/runs/$n.log
  mkdir -p $P/$n
  $U plot kan --weights /tmp/runs/$n --out $P/$n/plots --device cuda > $P/$n/plot.txt 2>&1
  cp /tmp/runs/$n/config.json /tmp/runs/$n/metrics.csv $P/$n/ 2>/dev/null
  cp /tmp/runs/$n.log $P/$n/train.log
  python3 - $P/$n/plots/curves.csv <<'PY' | tee $P/$n/spline-summary.txt
import csv, sys, collections
base, spline = collections.defaultdict(float), collections.defaultdict(float)
for r in csv.DictReader(open(sys.argv[1])):
    base[r["layer"]] = max(base[r["layer"]], abs(float(r["base"])))
    spline[r["layer"]] = max(spline[r["layer"]], abs(float(r["spline"])))
for k in base: print(f"{k:24s} max|base| {base[k]:.3g}  max|spline| {spline[k]:.3g}")
PY
done
tar -C $P -czf "$OUT/kan-wd-busi.tar.gz" .
