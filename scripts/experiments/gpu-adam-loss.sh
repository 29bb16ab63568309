#!/usr/bin/env bash
# One call on one H200 (device kind nvidia-h200) for the fused Adam step and BCE + Dice loss (and the upsampling
# backward's unmasked loads): `ukan selftest --device cuda`; `ukan bench` (256² and 512², CUDA graphs) alternating
# twice between the default, UKAN_FUSED_ADAM=off and UKAN_FUSED_LOSS=off; the eager step with --breakdown (its
# optimizer phase); two `--deterministic` demo trainings whose step logs must be identical; Nsight Compute's
# per-kernel profile of the eager 256² step.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). Writes $OUT/adam-loss.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/adam-loss && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
run selftest 120 $U selftest --device cuda
B="bench --device cuda --size 256 --size 512"
for i in 1 2; do
  run new-$i 60 $U $B --json $R/new-$i.json
  run adam-off-$i 60 env UKAN_FUSED_ADAM=off $U $B --json $R/adam-off-$i.json
  run loss-off-$i 60 env UKAN_FUSED_LOSS=off $U $B --json $R/loss-off-$i.json
done
run eager 60 $U $B --graphs off --breakdown --json $R/eager.json
run eager-adam-off 60 env UKAN_FUSED_ADAM=off $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-adam-off.json
deterministic_pair
profile_step fp32 256
grep -h "rc=\|deterministic:" $R/log.txt
for f in $R/new-*.txt $R/adam-off-*.txt $R/loss-off-*.txt $R/eager*.txt; do echo "== $(basename $f .txt)"; grep '^ukan\|optimizer\|forward' $f | cut -c150-260; done
grep -E "^done|best" $R/det-1.txt | tail -2
head -18 $R/kernel-families-fp32-256.txt | cut -c1-110
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|adam|loss" $R/selftest.txt | cut -c1-160; tail -n 2 $R/selftest.txt
tar -C $R -czf "$OUT/adam-loss.tar.gz" .
