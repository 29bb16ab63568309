#!/usr/bin/env bash
# Learned KAN activations of the best BUSI models (`ukan plot kan`): U-KAN (KANLinear phi_ij, the 16 most important
# edges per layer by L1 over the layer inputs recorded on the run's validation images) and ALL U-KAN (each shared
# psi and its lambda*psi edges). PNG + SVG + curves.csv per model, for docs/img.
# Weights are not kept in docs/runs, so by default the two models are trained here (seed 2981, our split, EPOCHS as
# in gpu-common.sh, both at once on one GPU); set UKAN_WEIGHTS / ALLUKAN_WEIGHTS to run folders (or weights files)
# of better models to plot those instead (e.g. the best fold of a cross-validation).
# Expects the app in .gpu/u (or .gpu/ukan-gpu.tar.xz) and .gpu/busi256. Writes $OUT/kan-plot.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
source "$(dirname "$0")/../gpu-common.sh"
UKAN_WEIGHTS="${UKAN_WEIGHTS:-}"
ALLUKAN_WEIGHTS="${ALLUKAN_WEIGHTS:-}"
[ -n "$UKAN_WEIGHTS" ] || { train ukan-2981 .gpu/busi256 --data-seed 2981 & }
[ -n "$ALLUKAN_WEIGHTS" ] || { train allukan-2981 .gpu/busi256 --data-seed 2981 --model allukan & }
wait
UKAN_WEIGHTS="${UKAN_WEIGHTS:-/tmp/runs/ukan-2981}"
ALLUKAN_WEIGHTS="${ALLUKAN_WEIGHTS:-/tmp/runs/allukan-2981}"
mkdir -p /tmp/plots
for pair in "ukan:$UKAN_WEIGHTS" "allukan:$ALLUKAN_WEIGHTS"; do
  name=${pair%%:*} weights=${pair#*:}
  # Default data: the run's own validation images (its split.json); a weights file outside a run needs --data.
  $U plot kan --device cuda --weights "$weights" --top 16 --out /tmp/plots/$name > /tmp/plots/$name.txt 2>&1
  echo "$name rc=$?" >> /tmp/plots/log.txt
  [ -f "$weights/config.json" ] && cp "$weights/config.json" /tmp/plots/$name-config.json
  [ -f "$weights/metrics.csv" ] && cp "$weights/metrics.csv" /tmp/plots/$name-metrics.csv
done
cat /tmp/plots/log.txt /tmp/plots/*.txt
tar -C /tmp/plots -czf "$OUT/kan-plot.tar.gz" .
ls -la "$OUT"
