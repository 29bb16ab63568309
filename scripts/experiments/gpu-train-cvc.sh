#!/usr/bin/env bash
# The CVC-ClinicDB runs of docs/results.md on one GPU machine (H100), plus the final benchmark figures.
# Expects: .gpu/ukan-gpu.tar.xz and .gpu/cvc256j (ukan data resize <prepared CVC> .gpu/cvc256j --size 256 --jpeg-quality 95:
# the lossless copy does not fit the 64 MiB transfer next to the app).
set -uo pipefail
LIMIT="${LIMIT:-460}"
source "$(dirname "$0")/../gpu-common.sh"

# The official (sklearn train_test_split) splits of the three paper seeds: docs/splits/cvc.
for seed in 2981 6142 1187; do train cvc-ukan-$seed .gpu/cvc256j --split docs/splits/cvc/official-split-$seed.json & done
if [ -n "${EXTRA:-}" ]; then eval "$EXTRA" & fi
wait
$U bench --device cuda --size 256 --size 512 --json /tmp/runs/bench.json > /tmp/runs/bench.txt 2>&1
$U bench --device cuda --size 256 --graphs off --json /tmp/runs/bench_eager.json > /tmp/runs/bench_eager.txt 2>&1
$U bench kan --device cuda --graphs off --json /tmp/runs/kan_eager.json > /tmp/runs/kan_eager.txt 2>&1
tail -n 3 /tmp/runs/bench.txt /tmp/runs/bench_eager.txt; tail -n 5 /tmp/runs/kan_eager.txt
evaluate_and_pack cvc-results.tar.gz
