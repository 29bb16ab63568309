#!/usr/bin/env bash
# One short call on one H200: `ukan selftest --device cuda` and `ukan bench` at 256² and SIZE2 (default 256; the
# default, then UKAN_FUSED_CONV=off, twice): a check that the fused program still compiles, loads and matches after a change that no GPU
# has seen. Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/selftest-quick.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-200}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/selftest-quick && mkdir -p $R
run selftest 120 $U selftest --device cuda
B="bench --device cuda --size 256 --size ${SIZE2:-256}"
for i in 1 2; do
  run fp32-$i 40 $U $B --json $R/fp32-$i.json
  run fp32-cudnn-$i 40 env UKAN_FUSED_CONV=off $U $B --json $R/fp32-cudnn-$i.json
done
tar -C $R -czf "$OUT/selftest-quick.tar.gz" .
grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|problem|fused kernels" $R/selftest.txt | cut -c1-200 | head; tail -n 1 $R/selftest.txt | cut -c1-100
for f in $R/fp32*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-270; done
