#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) for the batch norm + ReLU kernels that keep more loads in flight and
# the relu(×2 upsampling) kernels that run a thread per input value over its 3 × 3 neighbourhood:
#  `ukan selftest --device cuda`; `ukan bench` (256² and 512², CUDA graphs) alternating three times between
#  new  = this build's kernels (the default),
#  old  = the previous batch norm + ReLU source (UKAN_KERNEL_SOURCES=$OLD, a folder holding it) with the upsampling
#         on PyTorch's kernels (UKAN_FUSED_UPSAMPLE=off: the previous fused upsampling trained at the same speed),
#  up-off = this build's batch norm + ReLU with the upsampling on PyTorch's kernels;
#  the eager step's peak memory; `--precision bf16` and `tf32`; two `--deterministic` demo trainings whose step logs
#  must be identical; Nsight Compute's per-kernel profile of the eager step at 256² and 512²
#  (scripts/kernel_families.py); then the peer in the same call (official U-KAN, Adam fused, eager and
#  torch.compile(mode="reduce-overhead"), scripts/official_bench.py).
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh), .gpu/official, and OLD (default old-kernels) holding the previous
# batch_norm_relu.cu (git show <rev>:src/UKan.Core/Native/Kernels/batch_norm_relu.cu). Writes $OUT/bandwidth.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-570}"
OLD="${OLD:-old-kernels}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/bandwidth && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
ls -la $OLD >> $R/gpu.txt 2>&1
run selftest 120 $U selftest --device cuda
B="bench --device cuda --size 256 --size 512"
for i in 1 2 3; do
  run new-$i 60 $U $B --json $R/new-$i.json
  run old-$i 60 env UKAN_KERNEL_SOURCES=$OLD UKAN_FUSED_UPSAMPLE=off $U $B --json $R/old-$i.json
  run up-off-$i 60 env UKAN_FUSED_UPSAMPLE=off $U $B --json $R/up-off-$i.json
done
run eager 60 $U $B --graphs off --breakdown --json $R/eager.json
run bf16 60 $U $B --precision bf16 --json $R/bf16.json
run tf32 60 $U $B --precision tf32 --json $R/tf32.json
deterministic_pair
profile_step fp32 256 512
run official-eager 40 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes eager --json $R/official-eager.json
run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
grep -h "rc=\|deterministic:" $R/log.txt
for f in $R/new-*.txt $R/old-*.txt $R/up-off-*.txt $R/eager.txt $R/bf16.txt $R/tf32.txt; do
  echo "== $(basename $f .txt)"; grep '^ukan' $f | awk '{for(i=1;i<=NF;i++) if($i ~ /^[0-9]+×[0-9]+$/) printf "%s ", $i; print ""}'; grep '^ukan' $f | cut -c150-260
done
for size in 256 512; do head -16 $R/kernel-families-fp32-$size.txt | cut -c1-110; done
grep -h "^| paper" $R/official-*.txt | cut -c1-220
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail" $R/selftest.txt | cut -c1-200; tail -n 2 $R/selftest.txt
tar -C $R -czf "$OUT/bandwidth.tar.gz" .
ls -la $OUT
# Last, if time is left: the bf16 autocast step's kernels (a longer window: its step launches more kernels).
run ncu-bf16-256 60 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 3000 --launch-count 4000 \
  --log-file $R/ncu-bf16-256.csv $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 8 --precision bf16 \
  && python3 scripts/kernel_families.py $R/ncu-bf16-256.csv > $R/kernel-families-bf16-256.txt 2>&1 && gzip -f $R/ncu-bf16-256.csv
head -16 $R/kernel-families-bf16-256.txt 2>/dev/null | cut -c1-110
tar -C $R -czf "$OUT/bandwidth.tar.gz" .
