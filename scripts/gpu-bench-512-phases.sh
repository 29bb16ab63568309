#!/usr/bin/env bash
# Issue 6, the 512x512 step (25.0 ms against a 24 ms target): where the eager step's time goes (forward + loss,
# backward, optimizer; `ukan bench --breakdown`) at 256 and 512 for fp32 (TF32 convolutions) and tf32, next to the
# graph-replayed step, and KANLinear against Linear at the same precisions. Expects .gpu/ukan-gpu.tar.xz.
# Writes $OUT/phases.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/gpu-common.sh"
R=/tmp/phases && mkdir -p $R
for prec in fp32 tf32; do
  timeout 120 $U bench --device cuda --size 256 --size 512 --precision $prec --breakdown --json $R/ukan-$prec.json > $R/ukan-$prec.txt 2>&1
  echo "ukan-$prec rc=$?" >> $R/log.txt
  tail -n 9 $R/ukan-$prec.txt | cut -c1-200
  timeout 60 $U bench kan --device cuda --precision $prec --json $R/kan-$prec.json > $R/kan-$prec.txt 2>&1
  tail -n 5 $R/kan-$prec.txt
done
tar -C $R -czf "$OUT/phases.tar.gz" .
