#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) checking the release with every fused path at its default (batch norm
# + ReLU, KANLinear's weight, relu(×2 upsampling), relu(2×2 max-pool), the Adam step, the BCE + Dice loss):
# `ukan selftest --device cuda`; `ukan bench` (256² and 512², CUDA graphs) three times, alternating with
# UKAN_FUSED_MAXPOOL=off and UKAN_FUSED_ADAM=off; the eager step (peak memory, phases); `--precision tf32` and `bf16`;
# `ukan bench kan`; two `--deterministic` demo trainings whose step logs must be identical; Nsight Compute's per-kernel
# profile of the eager step at 256² and 512²; then the peer in the same call: the official U-KAN at 256², eager and
# under torch.compile(mode="reduce-overhead"), Adam(fused=True) (scripts/official_bench.py).
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/official. Writes $OUT/release-final.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-570}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/release-final && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
run selftest 120 $U selftest --device cuda
B="bench --device cuda --size 256 --size 512"
for i in 1 2 3; do
  run new-$i 60 $U $B --json $R/new-$i.json
  run maxpool-off-$i 60 env UKAN_FUSED_MAXPOOL=off $U $B --json $R/maxpool-off-$i.json
  run adam-off-$i 60 env UKAN_FUSED_ADAM=off $U $B --json $R/adam-off-$i.json
done
run eager 60 $U $B --graphs off --breakdown --json $R/eager.json
run tf32 60 $U $B --precision tf32 --json $R/tf32.json
run bf16 60 $U $B --precision bf16 --json $R/bf16.json
run bench-kan 40 $U bench kan --device cuda --json $R/bench-kan.json
deterministic_pair
profile_step fp32 256 512
tar -C $R -czf "$OUT/release-final.tar.gz" .
run official-eager 40 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes eager --json $R/official-eager.json
run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
grep -h "rc=\|deterministic:" $R/log.txt
for f in $R/new-*.txt $R/maxpool-off-*.txt $R/adam-off-*.txt $R/eager.txt $R/tf32.txt $R/bf16.txt; do
  echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-260
done
grep -i "optimizer\|forward\|backward" $R/eager.txt | cut -c1-100
grep -h "×" $R/bench-kan.txt | head -4
for size in 256 512; do head -18 $R/kernel-families-fp32-$size.txt | cut -c1-110; done
grep -h "^| paper" $R/official-*.txt | cut -c1-220
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail" $R/selftest.txt | cut -c1-200; tail -n 2 $R/selftest.txt
tar -C $R -czf "$OUT/release-final.tar.gz" .
ls -la $OUT
