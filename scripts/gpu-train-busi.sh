#!/usr/bin/env bash
# The BUSI runs of docs/results.md, on one GPU machine (H100), all at once (they share the GPU).
# Expects: .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/busi256 (ukan data resize <prepared BUSI> .gpu/busi256 --size 256).
# Writes $OUT/busi-results.tar.gz with each run's config, split, metrics, curves and evaluation.
set -uo pipefail
EPOCHS="${EPOCHS:-80}"
LIMIT="${LIMIT:-500}"
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
# The lossy copy (JPEG q95) is made here from the lossless one, to measure once what JPEG storage changes.
$U data resize .gpu/busi256 /tmp/busi256j --size 256 --jpeg-quality 95 > /tmp/runs/jpeg.log 2>&1
train ukan-2981 .gpu/busi256 --data-seed 2981 &
train ukan-6142 .gpu/busi256 --data-seed 6142 &
train ukan-1187 .gpu/busi256 --data-seed 1187 &
train mlp-2981 .gpu/busi256 --data-seed 2981 --mlp &
train ukan-2981-jpeg95 /tmp/busi256j --data-seed 2981 &
if $U model summary --model allukan --size 256 > /dev/null 2>&1; then train allukan-2981 .gpu/busi256 --data-seed 2981 --model allukan & fi
wait
for r in /tmp/runs/*/; do
  n=$(basename "$r")
  [ -f "$r/model.safetensors" ] && $U eval "$r" --device cuda --json "$r/eval.json" > "$r/eval.txt" 2>&1
  tail -2 /tmp/runs/$n.log
done
tar -C /tmp/runs -czf "$OUT/busi-results.tar.gz" --exclude='*.safetensors' --exclude='events' .
ls -la "$OUT"
