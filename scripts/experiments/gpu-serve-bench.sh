#!/usr/bin/env bash
# ukan serve measured on the GPU: 200 requests from 8 concurrent loopback clients to POST /v1/segment (Kvasir demo
# image, 320x272), the paper preset at 256x256 (untrained weights: the same compute as trained ones), micro-batches
# of up to 8; then the same with batching off (--batch 1) and with 32 clients, to show what batching buys.
# Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh, which bundles the ASP.NET Core runtime that serve needs) and
# the repository's data/demo (travels with the working tree). Writes $OUT/serve-bench.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-400}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/serve-bench && mkdir -p $R
IMG=data/demo/kvasir-seg-48/images/cju0qkwl35piu0993l0dewei2.jpg
$U info > $R/info.txt 2>&1
timeout 150 $U bench serve --device cuda --image $IMG --requests 200 --concurrency 8 --json $R/serve-c8.json > $R/serve-c8.txt 2>&1
timeout 150 $U bench serve --device cuda --image $IMG --requests 200 --concurrency 8 --batch 1 --json $R/serve-c8-nobatch.json > $R/serve-c8-nobatch.txt 2>&1
timeout 150 $U bench serve --device cuda --image $IMG --requests 400 --concurrency 32 --batch 16 --json $R/serve-c32.json > $R/serve-c32.txt 2>&1
for f in $R/serve-*.txt; do echo "== $f"; tail -n 4 $f | cut -c1-250; done
tar -C $R -czf "$OUT/serve-bench.tar.gz" .
