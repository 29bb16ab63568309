#!/usr/bin/env bash
# One call on one H200: Nsight Compute's per-kernel profile of the eager fp32 training step at 256² and 512²
# (gpu-common.sh's profile_step), grouped into families. Expects .gpu/ukan-gpu.tar.xz; writes $OUT/profile.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-200}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/profile && mkdir -p $R
profile_step fp32 256 512
tar -C $R -czf "$OUT/profile.tar.gz" .
for p in fp32-256 fp32-512; do head -20 $R/kernel-families-$p.txt | cut -c1-120; done
