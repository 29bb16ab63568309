#!/usr/bin/env bash
# Diffusion U-KAN on CVC-ClinicDB 64x64 (docs/diffusion.md), the run of 2026-11-23 repeated with the corrected
# truncated-normal initialisation (its temb_proj layers had started constant): same recipe and length (186 epochs),
# then 64 samples with the official 1,000-step ancestral sampler. Also times the KAN products (kan_gemm_floor.py).
# Expects .gpu/ukan-gpu.tar.xz and .gpu/cvc64 (ukan diffusion prepare --data <prepared CVC> --dataset cvc --out
# .gpu/cvc64). Leaves the app in .gpu/u for a next call. Writes $OUT/diffusion.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
EPOCHS="${EPOCHS:-186}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/diffusion-out && mkdir -p $R
pack() { tar -C $R -czf "$OUT/diffusion.tar.gz" .; }
timeout 60 python3 scripts/kan_gemm_floor.py > $R/kan-gemm-floor.txt 2>&1; cat $R/kan-gemm-floor.txt
ls -la ~/.cache/torch/hub/checkpoints 2>&1 | head > $R/hub-cache.txt
diffusion_cvc "$EPOCHS" $(( $(left) - 50 ))
cat $R/log.txt; tail -n 3 $R/diffusion-train.txt $R/generate.txt
