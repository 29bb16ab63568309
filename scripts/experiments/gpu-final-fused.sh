#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) checking the release with batch norm + ReLU as one node by default:
#  `ukan selftest --device cuda`; `ukan bench` at 256² and 512² (CUDA graphs), `--precision tf32`, the eager step
#  (--graphs off --breakdown) at both sizes for its peak memory; `ukan bench kan`; two `--deterministic` trainings on
#  the demo data whose step logs must be identical, then `ukan eval` of one; then KANLinear's fused weight kernels
#  (the default) against UKAN_FUSED_KAN_WEIGHT=off, and relu(×2 upsampling) as one kernel, UKAN_FUSED_UPSAMPLE=on
#  against the default, each alternating twice, graph-replayed (and the latter eager).
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). Writes $OUT/final-fused.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-540}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/final-fused && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
run selftest 120 $U selftest --device cuda
run bench 60 $U bench --device cuda --size 256 --size 512 --json $R/bench.json
run bench-tf32 60 $U bench --device cuda --size 256 --size 512 --precision tf32 --json $R/bench-tf32.json
run eager 80 $U bench --device cuda --size 256 --size 512 --graphs off --breakdown --json $R/eager.json
run bench-kan 60 $U bench kan --device cuda --json $R/bench-kan.json
D=data/demo/kvasir-seg-48
for i in 1 2; do
  run det-$i 60 $U train --device cuda --data $D --out /tmp/runs/det-$i --epochs 5 --deterministic --log-steps $R/det-$i-steps.csv
done
cmp $R/det-1-steps.csv $R/det-2-steps.csv && echo "deterministic: step logs identical" | tee -a $R/log.txt \
  || echo "deterministic: step logs DIFFER" | tee -a $R/log.txt
run eval 60 $U eval /tmp/runs/det-1 --device cuda --json $R/eval.json
for i in 1 2; do
  run kw-off-$i 60 env UKAN_FUSED_KAN_WEIGHT=off $U bench --device cuda --size 256 --size 512 --json $R/kw-off-$i.json
  run kw-on-$i 60 $U bench --device cuda --size 256 --size 512 --json $R/kw-on-$i.json
done
for i in 1 2; do
  run up-on-$i 60 env UKAN_FUSED_UPSAMPLE=on $U bench --device cuda --size 256 --size 512 --json $R/up-on-$i.json
  run up-off-$i 60 $U bench --device cuda --size 256 --size 512 --json $R/up-off-$i.json
done
run up-on-eager 60 env UKAN_FUSED_UPSAMPLE=on $U bench --device cuda --size 256 --graphs off --json $R/up-on-eager.json
grep -h "rc=\|deterministic:" $R/log.txt
for f in $R/bench*.txt $R/eager.txt $R/kw-*.txt $R/up-*.txt; do echo "== $(basename $f .txt)"; grep '^ukan\|^|\|×' $f | cut -c60-240; done
grep -E "^done|best" $R/det-1.txt | tail -2
tail -n 4 $R/eval.txt
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|upsampl" $R/selftest.txt | cut -c1-200
tail -n 2 $R/selftest.txt
tar -C $R -czf "$OUT/final-fused.tar.gz" .
ls -la $OUT
