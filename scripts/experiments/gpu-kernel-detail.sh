#!/usr/bin/env bash
# Nsight Compute's detail (speed of light, occupancy, launch statistics, warp stall reasons) of one launch of each
# kernel whose name matches KERNELS (a regex; default: the upsampling, head and small-convolution kernels) in the eager
# fp32 training step at SIZE (default 256). Expects .gpu/ukan-gpu.tar.xz; writes $OUT/kernel-detail.tar.gz and prints a
# summary line per kernel.
set -uo pipefail
LIMIT="${LIMIT:-150}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/kernel-detail && mkdir -p $R
KERNELS="${KERNELS:-regex:^(upsample2x|conv3x3_forward_16_16|conv3x3_input_grad_16_16|conv3x3_weight_partial_16_16)}"
run detail 120 ncu --clock-control none --kernel-name "$KERNELS" --launch-skip 40 --launch-count ${COUNT:-8} \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
  $U bench --device cuda --size ${SIZE:-256} --graphs off --warmup 0 --runs 4
tar -C $R -czf "$OUT/kernel-detail.tar.gz" .
grep -E "^  [a-z_0-9]+|Duration|Achieved Occupancy|Registers Per|Memory Throughput|Compute \(SM\) Throughput|Theoretical Occupancy|Block Limit Reg|Stall" $R/detail.txt | cut -c1-150 | head -150
