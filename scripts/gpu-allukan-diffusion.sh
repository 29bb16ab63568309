#!/usr/bin/env bash
# One GPU call for issues 8 and 9 (run from the repository root on the GPU machine, with .gpu/ukan-gpu.tar.xz and
# .gpu/cvc64 carried): peak memory and step time of U-KAN, ALL U-KAN (three gradient modes) and the stacked KAN at
# batch 8, 256x256 (eager, so the peak is one step's); then Diffusion U-KAN trained on CVC-ClinicDB 64x64 for what
# the time budget allows, and 64 samples. LIMIT (seconds) bounds the whole script; results go to $OUT as they come.
set -u
LIMIT="${LIMIT:-190}"
DEADLINE=$(( $(date +%s) + LIMIT ))
U=/tmp/u/ukan
mkdir -p /tmp/u && tar -xJf .gpu/ukan-gpu.tar.xz -C /tmp/u
left() { echo $(( DEADLINE - $(date +%s) )); }

bench() { # name, args...
  local name=$1; shift
  timeout "${BENCH_S:-25}" $U bench --device cuda --graphs off --warmup 3 --runs 5 --json "$OUT/bench-$name.json" "$@" > "$OUT/bench-$name.txt" 2>&1
  echo "bench $name rc=$? left=$(left)s" >> "$OUT/log.txt"
}
BENCH_S=40 bench ukan
bench allukan-grad-free --model allukan
bench allukan-grad-free-recompute --model allukan --arch-options '{"activation":{"gradient":"grad-free-recompute"}}'
bench allukan-exact --model allukan --arch-options '{"activation":{"gradient":"exact"}}'
bench stacked-kan --model stacked-kan

# Diffusion: stop (SIGINT: after the current epoch, checkpoint kept) so that sampling still fits.
train_s=$(( $(left) - 30 ))
echo "diffusion training for ${train_s}s" >> "$OUT/log.txt"
timeout -s INT -k 20 "$train_s" $U diffusion train --device cuda --data .gpu/cvc64 --dataset generic --out /tmp/diff \
  --epochs 200 --sample-every 1000 > "$OUT/diffusion-train.txt" 2>&1
echo "train rc=$? left=$(left)s" >> "$OUT/log.txt"
cp /tmp/diff/metrics.csv /tmp/diff/config.json "$OUT/" 2>/dev/null
timeout $(( $(left) - 3 )) $U diffusion generate --device cuda --weights /tmp/diff --count 64 --ddim 50 --out /tmp/gens > "$OUT/generate.txt" 2>&1
echo "generate rc=$? left=$(left)s" >> "$OUT/log.txt"
cp /tmp/gens/grid.png "$OUT/diffusion-cvc-grid.png" 2>/dev/null
nvidia-smi --query-gpu=name,memory.total --format=csv >> "$OUT/log.txt"
