#!/usr/bin/env bash
# One call on one H200 comparing switches in the same call: `ukan selftest --device cuda`, then `ukan bench` at 256² and
# 512² for each variant of VARIANTS (space-separated NAME or NAME:VAR=VALUE[,VAR=VALUE]; default "default"), in turn,
# ROUNDS times (default 2); then, if KERNELS is set (an ncu --kernel-name regex), Nsight Compute's duration of those
# kernels in the eager 256² step under the first two variants; and, with DET=1, two `--deterministic` trainings whose
# step logs must be identical; with EAGER=1, the eager step's memory peak of each variant at 256² and 512²; with
# KAN=1, `ukan bench kan` under each variant; with PRODUCTS=1, `ukan bench products` first (SELFTEST=0 skips the
# selftest); with PROFILE=1, the kernel families of the default's eager fp32 step at 256² and 512² (gpu-common.sh's profile_step).
# Expects .gpu/ukan-gpu.tar.xz; writes $OUT/variants.tar.gz and prints a summary.
# (docs/runs/tapshare-h200 was this call with VARIANTS="default rowoff:UKAN_CONV3X3_ROW_WARPS=off
# fwd8:UKAN_CONV3X3_FORWARD_WARPS=8" and KERNELS='regex:^conv3x3_weight_(rows|partial)_' in its first form.)
set -uo pipefail
LIMIT="${LIMIT:-420}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/variants && mkdir -p $R
VARIANTS="${VARIANTS:-default}"
echo "$VARIANTS" > $R/variants.txt
envs() { local spec=$1; [[ $spec == *:* ]] && echo "${spec#*:}" | tr ',' ' '; }
[ "${SELFTEST:-1}" = 1 ] && run selftest 120 $U selftest --device cuda
[ "${PRODUCTS:-0}" = 1 ] && run products 90 $U bench products --device cuda --json $R/products.json
B="bench --device cuda --size 256 --size 512"
for i in $(seq 1 ${ROUNDS:-2}); do
  for v in $VARIANTS; do
    run ${v%%:*}-$i 40 env $(envs $v) $U $B --json $R/${v%%:*}-$i.json
  done
done
if [ -n "${KERNELS:-}" ]; then
  D="--clock-control none --kernel-name $KERNELS --launch-skip 20 --launch-count ${COUNT:-12} --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats"
  for v in $(echo $VARIANTS | cut -d' ' -f1-2); do
    run detail-${v%%:*} 60 env $(envs $v) ncu $D $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 4
  done
fi
if [ "${EAGER:-0}" = 1 ]; then
  for v in $VARIANTS; do run eager-${v%%:*} 60 env $(envs $v) $U $B --graphs off --json $R/eager-${v%%:*}.json; done
fi
if [ "${KAN:-0}" = 1 ]; then
  for v in $VARIANTS; do run kan-${v%%:*} 60 env $(envs $v) $U bench kan --device cuda --json $R/kan-${v%%:*}.json; done
fi
[ "${PROFILE:-0}" = 1 ] && profile_step fp32 256 512
[ "${DET:-0}" = 1 ] && deterministic_pair
tar -C $R -czf "$OUT/variants.tar.gz" .
[ -f $R/products.txt ] && cut -c1-250 $R/products.txt
[ -f $R/selftest.txt ] && grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|problem|fused kernels" $R/selftest.txt | cut -c1-160 | head -5
for v in $VARIANTS; do for f in $R/${v%%:*}-[0-9]*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c195-240; done; done
for f in $R/detail-*.txt; do [ -f $f ] || continue; echo "== $(basename $f .txt)"; grep -E "^  [a-z_0-9]+|Duration" $f | paste - - | awk '{print $1, $(NF-1), $NF}' | sort | uniq -c | head -24; done
for f in $R/eager-*.txt; do [ -f $f ] || continue; echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c195-300; done
for f in $R/kan-*.txt; do [ -f $f ] || continue; echo "== $(basename $f .txt)"; grep -iE "^kan|^linear|×" $f | head -8; done
for f in $R/kernel-families-*.txt; do [ -f $f ] || continue; echo "== $(basename $f .txt)"; head -1 $f; grep "^| " $f | cut -d'|' -f2-5 | head -12; done
grep deterministic $R/log.txt
