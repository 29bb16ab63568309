#!/usr/bin/env bash
# One short call on one H200: `ukan selftest --device cuda`, `ukan bench` at 256² and SIZE2 (default 256; the default,
# then with COMPARE set (default UKAN_FUSED_CONV=off), twice) and `ukan bench kan` both ways: a check that the fused
# program still compiles, loads and matches after a change that no GPU has seen. Expects .gpu/ukan-gpu.tar.xz. Writes
# $OUT/selftest-quick.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-200}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/selftest-quick && mkdir -p $R
run selftest 120 $U selftest --device cuda
B="bench --device cuda --size 256 --size ${SIZE2:-256}"
COMPARE="${COMPARE:-UKAN_FUSED_CONV=off}"
echo "compare: $COMPARE" > $R/compare.txt
for i in 1 2; do
  run fp32-$i 40 $U $B --json $R/fp32-$i.json
  run fp32-compare-$i 40 env $COMPARE $U $B --json $R/fp32-compare-$i.json
done
run kan 40 $U bench kan --device cuda --json $R/kan.json
run kan-compare 40 env $COMPARE $U bench kan --device cuda --json $R/kan-compare.json
tar -C $R -czf "$OUT/selftest-quick.tar.gz" .
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|problem|fused kernels" $R/selftest.txt | cut -c1-200 | head; tail -n 1 $R/selftest.txt | cut -c1-100
for f in $R/fp32*.txt $R/kan*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-270; done
