#!/usr/bin/env bash
# After the merges of 2026-11-30, on one H200: the device checks of the whole build (selftest: official fixtures,
# device vs CPU for every architecture incl. the baselines, the data path; the CUDA kernels after their split into a
# module and two families), the first epoch with the new default (no cuDNN autotuning) on a fresh machine and with
# warm caches, the training step (bench), and `ukan bench serve` on the GPU.
# Two calls on one warm machine (app and data together pass the 64 MiB that may travel): PART=checks carries the app
# (device checks, bench, serve), PART=epochs then carries .gpu/busi256j (the first-epoch runs, with a compile cache of
# their own so that the first one starts from an empty cache). Writes $OUT/final-<PART>.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-500}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/final && mkdir -p $R
D=.gpu/busi256j
ms() { date +%s%3N; }
run() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  local t0=$(ms)
  timeout -k 10 $secs "$@" > $R/$name.txt 2>&1
  echo "$name rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
PART="${PART:-checks}"
if [ "$PART" = epochs ]; then
export UKAN_CACHE_DIR=/tmp/fresh-cache
run fresh 150 $U train --device cuda --data $D --out /tmp/runs/fresh --epochs 3 --profile async
run warm 120 $U train --device cuda --data $D --out /tmp/runs/warm --epochs 12 --profile async
run warm-autotune 120 $U train --device cuda --data $D --out /tmp/runs/warm-autotune --epochs 12 --profile async --cudnn-autotune
for f in fresh warm warm-autotune; do echo "== $f"; grep -E "^(startup|first_step|step |validation)|^epochs" $R/$f.txt; done
else
run info 60 $U info --device cuda
run selftest 200 $U selftest --device cuda
run bench 120 $U bench --device cuda --size 256 --json $R/bench.json
IMG=data/demo/kvasir-seg-48/images/$(ls data/demo/kvasir-seg-48/images | head -1)
run serve 120 $U bench serve --device cuda --image $IMG --requests 200 --concurrency 8 --json $R/serve-c8.json
fi
for r in fresh warm warm-autotune; do cp /tmp/runs/$r/profile.json $R/$r-profile.json 2>/dev/null; cp /tmp/runs/$r/metrics.csv $R/$r-metrics.csv 2>/dev/null; done
grep -cE " ok" $R/selftest.txt; grep -iE "fail|error" $R/selftest.txt | head; tail -n 4 $R/bench.txt $R/serve.txt | cut -c1-200
grep -iE "kernel|shim|nccl" $R/info.txt | cut -c1-200
tar -C $R -czf "$OUT/final-$PART.tar.gz" .
