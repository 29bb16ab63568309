#!/usr/bin/env bash
# U-KAN trained in bf16 autocast on BUSI with the official splits and the 80-epoch schedule of docs/results.md's fp32
# rows, all three seeds at once. Expects .gpu/busi256 and the app in .gpu/u (or .gpu/ukan-gpu.tar.xz).
# Writes $OUT/busi-bf16.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
source "$(dirname "$0")/../gpu-common.sh"
for seed in 2981 6142 1187; do train ukan-bf16-official-$seed .gpu/busi256 --precision bf16 --split docs/splits/busi/official-split-$seed.json & done
wait
evaluate_and_pack busi-bf16.tar.gz
