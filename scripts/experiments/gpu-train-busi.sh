#!/usr/bin/env bash
# The BUSI runs of docs/results.md, on one GPU machine (H100), all at once (they share the GPU).
# Expects: .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/busi256 (ukan data resize <prepared BUSI> .gpu/busi256 --size 256).
# Writes $OUT/busi-results.tar.gz with each run's config, split, metrics, curves and evaluation.
set -uo pipefail
LIMIT="${LIMIT:-500}"
source "$(dirname "$0")/../gpu-common.sh"
# The lossy copy (JPEG q95) is made here from the lossless one, to measure once what JPEG storage changes.
$U data resize .gpu/busi256 /tmp/busi256j --size 256 --jpeg-quality 95 > /tmp/runs/jpeg.log 2>&1
train ukan-2981 .gpu/busi256 --data-seed 2981 &
train ukan-6142 .gpu/busi256 --data-seed 6142 &
train ukan-1187 .gpu/busi256 --data-seed 1187 &
train mlp-2981 .gpu/busi256 --data-seed 2981 --mlp &
train ukan-2981-jpeg95 /tmp/busi256j --data-seed 2981 &
if $U model summary --model allukan --size 256 > /dev/null 2>&1; then train allukan-2981 .gpu/busi256 --data-seed 2981 --model allukan & fi
wait
evaluate_and_pack busi-results.tar.gz
