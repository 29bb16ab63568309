#!/usr/bin/env bash
# The MLP ablation of docs/results.md repeated with the corrected truncated-normal initialisation of its nn.Linear
# layers (the run of 2026-11-24 started them constant): seed 2981 on our split (the ablation row) and the three
# official splits (to set against U-KAN's 66.92 ± 6.01), 80 epochs each, sharing the GPU.
# Expects the app in .gpu/u (a previous call's, or .gpu/ukan-gpu.tar.xz) and .gpu/busi256. Writes $OUT/busi-mlp.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-540}"
source "$(dirname "$0")/../gpu-common.sh"
train mlp-2981 .gpu/busi256 --data-seed 2981 --mlp &
for seed in 2981 6142 1187; do train mlp-official-$seed .gpu/busi256 --split docs/splits/busi/official-split-$seed.json --mlp & done
wait
evaluate_and_pack busi-mlp.tar.gz
