#!/usr/bin/env bash
# One GPU call for ALL U-KAN on CUDA and Diffusion U-KAN (run from the repository root on the GPU machine, with .gpu/ukan-gpu.tar.xz and
# .gpu/cvc64 carried): ALL U-KAN on CUDA checked against the CPU (selftest), peak memory and step time of U-KAN,
# ALL U-KAN (three gradient modes) and the stacked KAN at batch 8, 256x256 (eager, so the peak is one step's), then
# Diffusion U-KAN trained on CVC-ClinicDB 64x64 for what the time budget allows and 64 samples (official 1000-step
# ancestral sampling). LIMIT (seconds) bounds the whole script; results go to $OUT/results.tar.gz as they come.
set -u
LIMIT="${LIMIT:-190}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/results && mkdir -p $R
pack() { tar -C $R -czf "$OUT/results.tar.gz" .; }
export UKAN_ALLUKAN_CUDA=1

timeout 120 $U selftest --device cuda > $R/selftest.txt 2>&1
echo "selftest rc=$? left=$(left)s" >> $R/log.txt
bench() { # name, args...
  local name=$1; shift
  timeout "${BENCH_S:-25}" $U bench --device cuda --warmup 3 --runs 5 --json "$R/bench-$name.json" "$@" > "$R/bench-$name.txt" 2>&1
  echo "bench $name rc=$? left=$(left)s" >> $R/log.txt
}
BENCH_S=40 bench ukan --graphs off
bench allukan-grad-free --model allukan --graphs off
bench allukan-grad-free-recompute --model allukan --graphs off --arch-options '{"activation":{"gradient":"grad-free-recompute"}}'
bench allukan-exact --model allukan --graphs off --arch-options '{"activation":{"gradient":"exact"}}'
bench allukan-grad-free-graph --model allukan --graphs auto
bench stacked-kan --model stacked-kan --graphs off
pack

# Diffusion: stop (SIGINT: after the current epoch, checkpoint kept) so that sampling still fits.
# The schedule (warm-up, cosine) is sized to what fits at ~2.2 s/epoch (measured before), so that it completes.
train_s=$(( $(left) - 45 ))
epochs=$(( train_s * 10 / 24 ))
echo "diffusion training for ${train_s}s, $epochs epochs" >> $R/log.txt
diffusion_cvc "$epochs" "$train_s"
nvidia-smi --query-gpu=name,memory.total --format=csv >> $R/log.txt
pack
