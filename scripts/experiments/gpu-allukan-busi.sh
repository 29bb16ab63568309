#!/usr/bin/env bash
# ALL U-KAN on the GPU (docs/allukan.md): selftest (fused ψ kernels vs torch, every architecture vs the CPU), the memory and
# step-time table at batch 8, 256x256, then ALL U-KAN trained on BUSI with the official splits and the 80-epoch
# schedule of docs/results.md's U-KAN rows (seeds in SEEDS), all at once on one GPU. DATASET=cvc trains on
# CVC-ClinicDB instead (.gpu/cvc256j, docs/splits/cvc; runs named cvc-allukan-SEED; BENCH=0 skips the benchmarks,
# SELFTEST=0 the selftest).
# Expects .gpu/ukan-gpu.tar.xz and .gpu/busi256 (or .gpu/cvc256j). Writes $OUT/allukan-$DATASET.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-580}"
SEEDS="${SEEDS:-2981 6142 1187}"
DATASET="${DATASET:-busi}"
case "$DATASET" in
  busi) DATA=.gpu/busi256; RUN=allukan-official ;;
  cvc) DATA=.gpu/cvc256j; RUN=cvc-allukan ;;
  *) echo "DATASET must be busi or cvc" >&2; exit 2 ;;
esac
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/runs/bench && mkdir -p $R
[ "${SELFTEST:-1}" = 1 ] && timeout 120 $U selftest --device cuda > $R/selftest.txt 2>&1
bench() { # name, args...
  local name=$1; shift
  timeout 40 $U bench --device cuda --warmup 3 --runs 10 --json "$R/bench-$name.json" "$@" > "$R/bench-$name.txt" 2>&1
  echo "bench $name rc=$?" >> $R/log.txt
}
if [ "${BENCH:-1}" = 1 ]; then
  bench allukan-grad-free --model allukan --graphs off
  bench allukan-grad-free-unfused --model allukan --graphs off --no-fused
  bench allukan-grad-free-recompute --model allukan --graphs off --arch-options '{"activation":{"gradient":"grad-free-recompute"}}'
  bench allukan-exact --model allukan --graphs off --arch-options '{"activation":{"gradient":"exact"}}'
  bench allukan-grad-free-graph --model allukan --graphs auto
fi
for seed in $SEEDS; do train $RUN-$seed $DATA --model allukan --split docs/splits/$DATASET/official-split-$seed.json & done
wait
evaluate_and_pack allukan-$DATASET.tar.gz
