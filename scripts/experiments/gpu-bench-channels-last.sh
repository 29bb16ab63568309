#!/usr/bin/env bash
# Layout experiment (docs/results.md §2b): channels_last (NHWC) convolutions against NCHW, U-KAN paper preset under CUDA graphs at 256 and
# 512, fp32 (TF32 convolutions) and bf16. Expects .gpu/ukan-gpu.tar.xz. Writes $OUT/channels-last.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-300}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/cl && mkdir -p $R
for prec in fp32 bf16; do
  for cl in "--layout nchw" "--layout channels-last"; do
    name=ukan-$prec-${cl#--layout }
    timeout 80 $U bench --device cuda --size 256 --size 512 --precision $prec $cl --json $R/$name.json > $R/$name.txt 2>&1
    echo "$name rc=$?" >> $R/log.txt
    sed -n '4,5p' $R/$name.txt | cut -c1-200
  done
done
timeout 60 $U bench --device cuda --model allukan --size 512 --layout channels-last --json $R/allukan-fp32-cl.json > $R/allukan-fp32-cl.txt 2>&1; sed -n '4p' $R/allukan-fp32-cl.txt | cut -c1-200
tar -C $R -czf "$OUT/channels-last.tar.gz" .
