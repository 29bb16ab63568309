#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) checking the release with our 3 × 3 convolution kernels (few-channel
# layers in TF32 on the tensor cores, depthwise layers in float32): `ukan selftest --device cuda`; `ukan bench` (256²
# and 512², CUDA graphs) three times, alternating the default with $PREVIOUS (default UKAN_FUSED_CONV=off: the previous
# release's paths);
# bf16; the eager steps (peak memory); `--precision tf32`; `ukan bench kan` (also under $PREVIOUS; KAN_NCU=1 adds its
# kernels' profile at 8,192 x 256); two `--deterministic` demo trainings whose
# step logs must be identical; Nsight Compute's per-kernel profile of the eager fp32 step at 256² and 512²; then the
# peer in the same call: the official U-KAN at 256², eager and under torch.compile(mode="reduce-overhead"),
# Adam(fused=True) (scripts/official_bench.py). Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/official.
# Writes $OUT/release-conv.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-575}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/release-conv && mkdir -p $R
echo "previous: ${PREVIOUS:-UKAN_FUSED_CONV=off}" > $R/previous.txt
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
pack() { tar -C $R -czf "$OUT/release-conv.tar.gz" .; }
run selftest 120 $U selftest --device cuda
pack
B="bench --device cuda --size 256 --size 512"
for i in 1 2 3; do
  run fp32-$i 60 $U $B --json $R/fp32-$i.json
  run fp32-previous-$i 60 env ${PREVIOUS:-UKAN_FUSED_CONV=off} $U $B --json $R/fp32-previous-$i.json
done
run bf16 60 $U $B --precision bf16 --json $R/bf16.json
run eager 60 $U $B --graphs off --breakdown --json $R/eager.json
run tf32 60 $U $B --precision tf32 --json $R/tf32.json
run bench-kan 40 $U bench kan --device cuda --json $R/bench-kan.json
run bench-kan-previous 40 env ${PREVIOUS:-UKAN_FUSED_CONV=off} $U bench kan --device cuda --json $R/bench-kan-previous.json
# KAN_NCU=1: Nsight Compute's duration of every kernel of the eager KANLinear 8,192 x 256 forward + backward.
[ "${KAN_NCU:-0}" = 1 ] && run ncu-kan 90 ncu --clock-control none --csv --metrics gpu__time_duration.sum --log-file $R/ncu-kan.csv \
  $U bench kan --device cuda --rows 8192 --dim 256 --graphs off --warmup 1 --runs 2
pack
deterministic_pair
profile_step fp32 256 512
pack
run official-eager 40 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes eager --json $R/official-eager.json
run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
pack
grep -h "rc=\|deterministic:" $R/log.txt
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail" $R/selftest.txt | cut -c1-200; tail -n 1 $R/selftest.txt | cut -c1-100
for f in $R/fp32-*.txt $R/bf16.txt $R/eager.txt $R/tf32.txt; do
  echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-270
done
grep -h "×" $R/bench-kan.txt $R/bench-kan-previous.txt | head -8
for p in fp32-256 fp32-512; do head -8 $R/kernel-families-$p.txt | cut -c1-110; done
grep -h "^| paper" $R/official-*.txt | cut -c1-220
ls -la $OUT
