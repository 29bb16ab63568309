#!/usr/bin/env bash
# ONNX Runtime vs TorchSharp CPU inference (docs/deploy.md, Speed) on the GPU machine's CPU, which is quiet, unlike the
# shared 2-core machine the docs' figures come from: paper preset, 256x256, batch 1 and 8, 1 thread and all cores.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh; the bundle carries ONNX Runtime's CPU library). Writes $OUT/onnx-cpu.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-500}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/onnx && mkdir -p $R
for threads in 1 "$(nproc)"; do
  for batch in 1 8; do
    timeout 200 $U bench onnx --device cpu --threads "$threads" --preset paper --size 256 --batch "$batch" --warmup 3 --runs 20 \
      --json "$R/onnx-t$threads-b$batch.json" > "$R/onnx-t$threads-b$batch.txt" 2>&1
    echo "threads $threads batch $batch rc=$? left=$(left)s" >> $R/log.txt
  done
done
lscpu > $R/lscpu.txt
tar -C $R -czf "$OUT/onnx-cpu.tar.gz" .
cat $R/*.txt
