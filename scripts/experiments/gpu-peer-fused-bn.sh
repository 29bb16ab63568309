#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200): the fused training-mode batch norm + ReLU after its merge kernels
# became a block per channel and our custom autograd functions stopped leaving tensors to the garbage collector
# (incoming gradients, TorchSharp's output templates), and the peer harness in the same call:
#  `ukan selftest --device cuda`; `ukan bench` (U-KAN paper, batch 8, CUDA graphs) with UKAN_FUSED_BN_RELU=on and
#  without, alternating, three times at 256² and twice at 512²; the eager step (--graphs off --breakdown) both ways
#  for its peak memory; Nsight Compute's kernel families of one eager step at 256² with the fused node; then the
#  official U-KAN under PyTorch eager and torch.compile(mode="reduce-overhead") with Adam(fused=True)
#  (scripts/official_bench.py), the peer of the README's table.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/official (Seg_UKAN sources). Writes $OUT/peer-fused-bn.tar.gz.
# When the bundle and the tracked files leave no room under 64 MiB for .gpu/official: a first call with PART=selftest
# carrying the bundle (unpacked into .gpu/u, kept on the warm machine), then this one carrying .gpu/official only.
set -uo pipefail
LIMIT="${LIMIT:-570}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/peer-fused-bn && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
[ -f $R/selftest.txt ] || run selftest 120 $U selftest --device cuda
[ "${PART:-all}" = selftest ] && { tail -n 3 $R/selftest.txt; exit 0; }
grep -E "batch norm|fused batch" $R/selftest.txt | cut -c1-200
for i in 1 2 3; do
  run bench-fused-$i 40 env UKAN_FUSED_BN_RELU=on $U bench --device cuda --size 256 --json $R/bench-fused-$i.json
  run bench-modules-$i 40 $U bench --device cuda --size 256 --json $R/bench-modules-$i.json
done
for i in 1 2; do
  run bench512-fused-$i 50 env UKAN_FUSED_BN_RELU=on $U bench --device cuda --size 512 --json $R/bench512-fused-$i.json
  run bench512-modules-$i 50 $U bench --device cuda --size 512 --json $R/bench512-modules-$i.json
done
run eager-fused 40 env UKAN_FUSED_BN_RELU=on $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-fused.json
run eager-modules 40 $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-modules.json
run ncu-fp32-256 120 env UKAN_FUSED_BN_RELU=on ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 1500 --launch-count 2600 \
  --log-file $R/ncu-fp32-256.csv $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 8
python3 scripts/kernel_families.py $R/ncu-fp32-256.csv > $R/kernel-families-fp32-256.txt 2>&1
gzip -f $R/ncu-fp32-256.csv
run official-eager 60 python3 scripts/official_bench.py --official .gpu/official --size 256 512 --kan --fused-adam --modes eager --json $R/official-eager.json
run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 512 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
grep -h "rc=" $R/log.txt
for f in $R/bench*.txt $R/eager-*.txt; do echo "$(basename $f .txt): $(grep -m2 '^ukan\|^|' $f | cut -c60-230 | tr '\n' ' ')"; done
tail -n 12 $R/kernel-families-fp32-256.txt | cut -c1-200
grep -h "^|" $R/official-*.txt | cut -c1-220
tail -n 3 $R/selftest.txt
tar -C $R -czf "$OUT/peer-fused-bn.tar.gz" .
ls -la $OUT
