#!/usr/bin/env bash
# Precision and ALL U-KAN memory figures (docs/results.md §2b, docs/allukan.md) on one GPU machine: selftest (bf16 autocast vs fp32, fused ψ vs torch), then `ukan bench` for
# U-KAN in fp32 and bf16 at 256 and 512 (CUDA graphs), ALL U-KAN in bf16, and the memory of the reference KAN
# formulation (--kan-path general: efficient-kan's Cox–de Boor through autograd) for U-KAN and the stacked KAN.
# Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/bench-precision.tar.gz (also leaves the app in .gpu/u for a next call).
set -uo pipefail
LIMIT="${LIMIT:-400}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/runs/bench && mkdir -p $R
timeout 150 $U selftest --device cuda > $R/selftest.txt 2>&1; echo "selftest rc=$?" >> $R/log.txt
bench() { # name, seconds, args...
  local name=$1 secs=$2; shift 2
  timeout $secs $U bench --device cuda --json "$R/bench-$name.json" "$@" > "$R/bench-$name.txt" 2>&1
  echo "bench $name rc=$?" >> $R/log.txt
}
bench ukan-fp32-graph 40 --size 256 --size 512
bench ukan-bf16-graph 40 --size 256 --size 512 --precision bf16
bench ukan-bf16-eager 40 --precision bf16 --graphs off
bench allukan-bf16-graph 40 --model allukan --precision bf16
bench allukan-fp32-graph-512 40 --model allukan --size 512
bench ukan-kan-general 40 --graphs off --warmup 3 --runs 5 --kan-path general
bench stacked-kan-kan-general 90 --model stacked-kan --graphs off --warmup 2 --runs 3 --kan-path general
bench stacked-kan-kan-general-b2 60 --model stacked-kan --graphs off --warmup 2 --runs 3 --kan-path general --batch 2
bench stacked-kan-b2 40 --model stacked-kan --graphs off --warmup 2 --runs 3 --batch 2
bench allukan-b2 40 --model allukan --graphs off --warmup 2 --runs 3 --batch 2
tar -C $R -czf "$OUT/bench-precision.tar.gz" .
