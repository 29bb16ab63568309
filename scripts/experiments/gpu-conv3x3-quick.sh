#!/usr/bin/env bash
# One short call on one H200: `ukan bench` (256² and 512², CUDA graphs), the default against UKAN_FUSED_CONV=off, twice
# alternating, and Nsight Compute's profile of the eager fp32 step at 512² (a tuning step of the 3 × 3 convolution
# kernels). Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/conv3x3-quick.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/conv3x3-quick && mkdir -p $R
pack() { tar -C $R -czf "$OUT/conv3x3-quick.tar.gz" .; }
B="bench --device cuda --size 256 --size 512"
for i in 1 2; do
  run fp32-$i 60 $U $B --json $R/fp32-$i.json
  run fp32-cudnn-$i 60 env UKAN_FUSED_CONV=off $U $B --json $R/fp32-cudnn-$i.json
done
pack
profile_step fp32 512
pack
for f in $R/fp32-*.txt; do echo "== $(basename $f .txt)"; grep '^ukan' $f | cut -c150-270; done
