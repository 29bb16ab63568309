#!/usr/bin/env bash
# Diffusion U-KAN on CVC-ClinicDB 64x64 (docs/diffusion.md), the run of 2026-11-23 repeated with the corrected
# truncated-normal initialisation (its temb_proj layers had started constant): same recipe and length (186 epochs),
# then 64 samples with the official 1,000-step ancestral sampler. Also times the KAN products (kan_gemm_floor.py).
# Expects .gpu/ukan-gpu.tar.xz and .gpu/cvc64 (ukan diffusion prepare --data <prepared CVC> --dataset cvc --out
# .gpu/cvc64). Leaves the app in .gpu/u for a next call. Writes $OUT/diffusion.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
EPOCHS="${EPOCHS:-186}"
source "$(dirname "$0")/gpu-common.sh"
R=/tmp/diffusion-out && mkdir -p $R
left() { echo $(( DEADLINE - $(date +%s) )); }
pack() { tar -C $R -czf "$OUT/diffusion.tar.gz" .; }
timeout 60 python3 scripts/kan_gemm_floor.py > $R/kan-gemm-floor.txt 2>&1; cat $R/kan-gemm-floor.txt
ls -la ~/.cache/torch/hub/checkpoints 2>&1 | head > $R/hub-cache.txt
# SIGINT stops after the current epoch with the checkpoint kept, so that sampling still fits.
timeout -s INT -k 20 $(( $(left) - 50 )) $U diffusion train --device cuda --data .gpu/cvc64 --dataset generic \
  --out /tmp/diff --epochs $EPOCHS --sample-every 1000 > $R/diffusion-train.txt 2>&1
echo "train rc=$? left=$(left)s" >> $R/log.txt
cp /tmp/diff/metrics.csv /tmp/diff/config.json $R/ 2>/dev/null
pack
timeout $(( $(left) - 3 )) $U diffusion generate --device cuda --weights /tmp/diff --count 64 --out /tmp/gens > $R/generate.txt 2>&1
echo "generate rc=$? left=$(left)s" >> $R/log.txt
cp /tmp/gens/grid.png $R/diffusion-cvc-grid.png 2>/dev/null
cat $R/log.txt; tail -n 3 $R/diffusion-train.txt $R/generate.txt
pack
