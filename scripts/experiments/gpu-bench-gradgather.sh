#!/usr/bin/env bash
# Gradients gathered into the flat optimizer buffers after backward (docs/gpu.md, default) against accumulated into
# them during backward (UKAN_GRAD_GATHER=off): `ukan bench` training step of the U-KAN paper preset at 256², batch 8,
# under CUDA graphs (default) and eager (--graphs off, with the phase breakdown), three times each, alternating.
# `ukan selftest` first (its gathered-vs-accumulated check). Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/gradgather.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/gradgather && mkdir -p $R
# The shim (with the multi-tensor copy) builds, and gathered and accumulated steps give the same losses on CUDA.
timeout 150 $U selftest --device cuda > $R/selftest.txt 2>&1
echo "selftest rc=$?" >> $R/log.txt
grep -E "gathered vs accumulated|FAIL|fail" $R/selftest.txt | head -5
for graphs in on off; do
  extra=() && [ $graphs = off ] && extra=(--breakdown)
  for i in 1 2 3; do
    for gather in on off; do
      name=ukan-graphs-$graphs-gather-$gather-$i
      UKAN_GRAD_GATHER=$gather timeout 80 $U bench --device cuda --size 256 --batch 8 --graphs $graphs "${extra[@]}" \
        --json $R/$name.json > $R/$name.txt 2>&1
      echo "$name rc=$?" >> $R/log.txt
      sed -n '4p' $R/$name.txt | cut -c1-220
    done
  done
done
tar -C $R -czf "$OUT/gradgather.tar.gz" .
