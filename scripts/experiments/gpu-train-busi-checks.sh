#!/usr/bin/env bash
# The second set of BUSI runs of docs/results.md: the official (sklearn) splits, and the MLP ablation.
# Expects: .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/busi256 (ukan data resize <prepared BUSI> .gpu/busi256 --size 256).
# Writes $OUT/busi-checks.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-500}"
source "$(dirname "$0")/../gpu-common.sh"
for seed in 2981 6142 1187; do train ukan-official-$seed .gpu/busi256 --split docs/splits/busi/official-split-$seed.json & done
train mlp-2981 .gpu/busi256 --data-seed 2981 --mlp &
if $U model summary --model allukan --size 256 > /dev/null 2>&1; then train allukan-2981 .gpu/busi256 --data-seed 2981 --model allukan & fi
wait
evaluate_and_pack busi-checks.tar.gz
