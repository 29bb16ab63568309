#!/usr/bin/env bash
# The CVC-ClinicDB runs of docs/results.md on one GPU machine (H100), plus the final benchmark figures.
# Expects: .gpu/ukan-gpu.tar.xz and .gpu/cvc256j (ukan data resize <prepared CVC> .gpu/cvc256j --size 256 --jpeg-quality 95:
# the lossless copy does not fit the 64 MiB transfer next to the app).
set -uo pipefail
EPOCHS="${EPOCHS:-80}"
LIMIT="${LIMIT:-460}"
U=/tmp/u/ukan
mkdir -p /tmp/u && tar -xJf .gpu/ukan-gpu.tar.xz -C /tmp/u
mkdir -p /tmp/runs
train() { local name=$1 data=$2; shift 2
  timeout "$LIMIT" $U train --device cuda --data "$data" --out /tmp/runs/$name --epochs "$EPOCHS" "$@" > /tmp/runs/$name.log 2>&1; }
train cvc-ukan-2981 .gpu/cvc256j --data-seed 2981 &
train cvc-ukan-6142 .gpu/cvc256j --data-seed 6142 &
train cvc-ukan-1187 .gpu/cvc256j --data-seed 1187 &
if [ -n "${EXTRA:-}" ]; then eval "$EXTRA" & fi
wait
for r in /tmp/runs/*/; do
  n=$(basename "$r")
  [ -f "$r/model.safetensors" ] && $U eval "$r" --device cuda --json "$r/eval.json" > "$r/eval.txt" 2>&1
  tail -2 /tmp/runs/$n.log
done
$U bench --device cuda --size 256 --size 512 --json /tmp/runs/bench.json > /tmp/runs/bench.txt 2>&1
$U bench --device cuda --size 256 --graphs off --json /tmp/runs/bench_eager.json > /tmp/runs/bench_eager.txt 2>&1
$U bench kan --device cuda --graphs off --json /tmp/runs/kan_eager.json > /tmp/runs/kan_eager.txt 2>&1
tail -3 /tmp/runs/bench.txt /tmp/runs/bench_eager.txt; tail -5 /tmp/runs/kan_eager.txt
tar -C /tmp/runs -czf "$OUT/cvc-results.tar.gz" --exclude='*.safetensors' --exclude='events' .
ls -la "$OUT"
