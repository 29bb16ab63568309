#!/usr/bin/env bash
# Diffusion U-KAN data-parallel scaling on a 2-GPU host (nvidia-h200-x2), from the profiled step time instead of the
# epoch wall-clock (whose fixed costs dominate on a small set): `ukan diffusion train --profile` (each phase ends with a
# device synchronisation) for 3 epochs on a 640-image 64×64 set, 1 GPU with batch 32 (20 steps per epoch) and 2 GPUs
# with batch 32 each (global 64, 10 steps per epoch); sampling is reduced to one 1-step grid of one image at the end.
# Prints images/s from the profile's "step" phase (forward, loss, backward, all-reduce, clipping, AdamW; the process's
# first step is its own phase and left out) and the speed-up, plus the same from the steady epoch for comparison.
# The set: the 48 demo images made 64×64 by `ukan diffusion prepare --dataset generic`, copied under new names to 640.
# Expects: .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). About 1-2 minutes of GPU time (LIMIT caps it).
# Writes the logs and profile.json files to $OUT/diffusion-scaling.tar.gz; prints the phase tables, then the summary.
set -uo pipefail
LIMIT="${LIMIT:-115}"
IMAGES="${IMAGES:-640}"   # copies of the 48 demo images (more images: more steps per epoch, a steadier step time)
EPOCHS="${EPOCHS:-3}"
source "$(dirname "$0")/../gpu-common.sh"
export NCCL_NVLS_ENABLE=0
R=/tmp/diffusion-scaling && rm -rf $R && mkdir -p $R
D=/tmp/diffusion640
rm -rf $D /tmp/d64 /tmp/runs/scaling-*
$U diffusion prepare --data data/demo/kvasir-seg-48 --dataset generic --out /tmp/d64 > $R/prepare.txt 2>&1 \
  || { cat $R/prepare.txt; exit 1; }
mkdir -p $D/images
n=0
for k in $(seq 0 999); do
  for f in /tmp/d64/*.png; do
    [ $n -lt $IMAGES ] || break 2
    cp "$f" "$D/images/c${k}-$(basename "$f")"
    n=$((n + 1))
  done
done
echo "data: $D ($(ls $D/images | wc -l) images)" | tee $R/log.txt
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
nvidia-smi topo -m >> $R/gpu.txt 2>&1   # which path NCCL can take between the GPUs (NVLink or PCIe)
COMMON="--data $D --dataset generic --batch 32 --epochs $EPOCHS --sample-every 1000 --sample-count 1 --sample-ddim-steps 1 --profile"
for g in 1 2; do
  [ $(left) -gt 15 ] || { echo "${g}gpu skipped: no time left" | tee -a $R/log.txt; continue; }
  if [ $g = 1 ]; then dev="--device cuda"; else dev="--gpus 2"; fi
  # NCCL_DEBUG=INFO: the transport NCCL chose (P2P/NVLink, SHM, ...) goes into the log.
  NCCL_DEBUG=INFO timeout -k 10 $(( $(left) - 5 )) $U diffusion train $dev $COMMON --out /tmp/runs/scaling-${g}gpu > $R/${g}gpu.txt 2>&1
  echo "${g}gpu rc=$? left=$(left)s" | tee -a $R/log.txt
  cp /tmp/runs/scaling-${g}gpu/profile.json $R/profile-${g}gpu.json 2>/dev/null
  cp /tmp/runs/scaling-${g}gpu/metrics.csv $R/metrics-${g}gpu.csv 2>/dev/null
done
python3 - $R $IMAGES $EPOCHS > $R/summary.txt 2>&1 <<'PY'
import json, os, sys
R, images, batch, epochs = sys.argv[1], int(sys.argv[2]), 32, int(sys.argv[3])
def rate(g):
    path = os.path.join(R, f"profile-{g}gpu.json")
    if not os.path.exists(path): return None
    p = json.load(open(path))
    ph = {x["name"]: x for x in p["phases"]}
    glob = batch * g
    per_epoch = images // glob
    # "step" holds every step but the process's first (its own phase), plus one epoch-end read of the loss per epoch.
    steps = epochs * per_epoch - ph["first_step"]["calls"]
    ms = 1000 * ph["step"]["seconds"] / steps
    steady = p["steady_epoch_seconds"]
    return glob * 1000 / ms, ms, per_epoch * glob / steady, steady
res = {g: rate(g) for g in (1, 2)}
for g, r in res.items():
    if r is None: print(f"{g} GPU(s): no profile.json (see {g}gpu.txt)"); continue
    print(f"{g} GPU(s), global batch {32 * g}: step {r[1]:.2f} ms -> {r[0]:.1f} img/s; steady epoch {r[3]:.3f} s -> {r[2]:.1f} img/s")
if res[1] and res[2]:
    print(f"speed-up 2 vs 1 GPU: {res[2][0] / res[1][0]:.2f}x from the step phase, {res[2][2] / res[1][2]:.2f}x from the steady epoch")
PY
grep -h "via \|P2P is\|NCCL version" $R/2gpu.txt | sed -e 's/^.*NCCL INFO //' -e 's/Channel [0-9]*\/[0-9]* : //' | sort | uniq -c | sort -rn | head -8 >> $R/summary.txt
cat $R/summary.txt >> $R/log.txt
tar -C $R -czf "$OUT/diffusion-scaling.tar.gz" .
for g in 1 2; do echo "== ${g} GPU(s)"; grep -A16 "^phase " $R/${g}gpu.txt; done
cat $R/log.txt
