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
# A run that dies (e.g. a native crash) continues from its last checkpoint, up to twice; all share one time budget.
DEADLINE=$(( $(date +%s) + LIMIT ))
train() { # name, data, extra args...
  local name=$1 data=$2; shift 2
  timeout $(( DEADLINE - $(date +%s) )) $U train --device cuda --data "$data" --out /tmp/runs/$name --epochs "$EPOCHS" "$@" > /tmp/runs/$name.log 2>&1
  for attempt in 1 2; do
    grep -q "^done:" /tmp/runs/$name.log && return
    [ -f /tmp/runs/$name/checkpoints/last.safetensors ] || return
    [ $(( DEADLINE - $(date +%s) )) -gt 20 ] || return
    echo "resuming $name (attempt $attempt)" >> /tmp/runs/$name.log
    timeout $(( DEADLINE - $(date +%s) )) $U train --device cuda --resume /tmp/runs/$name >> /tmp/runs/$name.log 2>&1
  done
}

# The official (sklearn train_test_split) splits of the three paper seeds: docs/splits/cvc.
for seed in 2981 6142 1187; do train cvc-ukan-$seed .gpu/cvc256j --split docs/splits/cvc/official-split-$seed.json & done
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
