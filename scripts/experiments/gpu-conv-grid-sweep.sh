#!/usr/bin/env bash
# `ukan bench` (fp32, 256² and 512²) with the small 3 x 3 convolutions' grids overridden (UKAN_CONV3X3_BLOCKS_PER_SM,
# UKAN_CONV3X3_WEIGHT_BLOCKS_PER_SM; docs/gpu.md): default first and last, each setting once. Expects
# .gpu/ukan-gpu.tar.xz; writes $OUT/conv-grid-sweep.tar.gz and prints each setting's step medians.
set -uo pipefail
LIMIT="${LIMIT:-120}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/conv-grid-sweep && mkdir -p $R
B="bench --device cuda --size 256 --size 512"
for s in default f6 f8 f12 w4 w8 w12 default2; do
  case $s in
    default*) E="";;
    f*) E="UKAN_CONV3X3_BLOCKS_PER_SM=${s#f}";;
    w*) E="UKAN_CONV3X3_WEIGHT_BLOCKS_PER_SM=${s#w}";;
  esac
  run $s 30 env $E $U $B --json $R/$s.json
done
tar -C $R -czf "$OUT/conv-grid-sweep.tar.gz" .
for f in $R/*.txt; do echo "== $(basename $f .txt): $(grep '^ukan' $f | awk '{for(i=1;i<=NF;i++) if ($i ~ /^\(/) {print $(i-1); break}}' | head -2 | tr '\n' ' ')"; done
