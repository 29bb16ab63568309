#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) with every fused path at its default (batch norm + ReLU, KANLinear's
# fused weight, relu(×2 upsampling)): `ukan bench` at 256² and 512² twice (CUDA graphs) and the eager step at both
# sizes for its peak memory; two `--deterministic` trainings on the demo data whose step logs must be identical; then
# the peer in the same call: the official U-KAN at 256² eager and under torch.compile(mode="reduce-overhead") with
# Adam(fused=True) (scripts/official_bench.py).
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh) and .gpu/official (Seg_UKAN sources). Writes $OUT/release-fused.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-540}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/release-fused && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
for i in 1 2; do run bench-$i 60 $U bench --device cuda --size 256 --size 512 --json $R/bench-$i.json; done
run eager 80 $U bench --device cuda --size 256 --size 512 --graphs off --breakdown --json $R/eager.json
D=data/demo/kvasir-seg-48
for i in 1 2; do
  run det-$i 60 $U train --device cuda --data $D --out /tmp/runs/rel-det-$i --epochs 5 --deterministic --log-steps $R/det-$i-steps.csv
done
cmp $R/det-1-steps.csv $R/det-2-steps.csv && echo "deterministic: step logs identical" | tee -a $R/log.txt \
  || echo "deterministic: step logs DIFFER" | tee -a $R/log.txt
run official-eager 60 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes eager --json $R/official-eager.json
run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
grep -h "rc=\|deterministic:" $R/log.txt
for f in $R/bench-*.txt $R/eager.txt; do echo "== $(basename $f .txt)"; grep '^ukan\|×' $f | cut -c60-240; done
grep -h "^| paper" $R/official-*.txt | cut -c1-220
tar -C $R -czf "$OUT/release-fused.tar.gz" .
ls -la $OUT
