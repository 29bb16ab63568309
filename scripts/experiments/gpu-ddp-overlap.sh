#!/usr/bin/env bash
# The gradient all-reduce overlapped with backward (GradientReducer, OverlappedReduction) on a 2-GPU host
# (nvidia-h200-x2), from the profiled step time (`--profile`: each phase ends with a device synchronisation):
#  (a) Diffusion U-KAN at 64², per-GPU batch 32, 3 epochs on a 640-image set (as gpu-diffusion-scaling.sh): 1 GPU;
#      2 GPUs with the overlap (NCCL_DEBUG=INFO: the transport NCCL chose, "via P2P/..." or "via SHM", is grepped
#      into transport.txt); 2 GPUs with UKAN_DDP_OVERLAP=off (the all-reduce after backward);
#  (b) segmentation, paper preset at 512², per-GPU batch 8, 3 epochs on 320 copies of the demo images: 1 GPU and 2 GPUs
#      with the overlap (then 2 GPUs with UKAN_DDP_OVERLAP=off if time is left);
#  (c) correctness: 2 GPUs under --deterministic (fp32-strict, CUDA graphs on, 13 epochs of the demo set at 256²,
#      per-GPU batch 4), with the overlap and with UKAN_DDP_OVERLAP=off: every step's loss (--log-steps) must be the
#      same bit for bit (with two workers the average of each gradient element is one exact sum, however the
#      buffers are cut into buckets), a gradient read before it was complete or before it was averaged would show.
# Prints `nvidia-smi topo -m`, each run's "data parallel:" line (which path the gradients took), the step times and
# the speed-ups. Expects: .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). About 4 minutes (LIMIT caps it; a fresh machine
# also compiles the libtorch shims once, in the first 1-GPU and the first 2-GPU run).
# RUN_EPOCHS (default 3) sets the epochs of every run (more: less noisy step times, longer calls).
# RUNS="name ..." runs only those of the runs below (e.g. RUNS="diffusion-2gpu-overlap seg-2gpu-overlap" to check the path).
# Writes $OUT/summary.txt, $OUT/transport.txt and $OUT/ddp-overlap.tar.gz (logs, profile.json files).
set -uo pipefail
LIMIT="${LIMIT:-250}"
E="${RUN_EPOCHS:-3}"
source "$(dirname "$0")/../gpu-common.sh"
export NCCL_NVLS_ENABLE=0
R=/tmp/ddp-overlap && rm -rf $R && mkdir -p $R
rm -rf /tmp/d64 /tmp/diffusion640 /tmp/seg320 /tmp/runs/ovl-*
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
nvidia-smi topo -m >> $R/gpu.txt 2>&1
cat $R/gpu.txt
copies() { # source folder of images, destination, count [, masks folder (U-KAN layout: masks/0/<id>.png)]
  mkdir -p $2/images; [ -n "${4:-}" ] && mkdir -p $2/masks/0
  local n=0
  for k in $(seq 0 99); do
    for f in $1/*.png $1/*.jpg; do
      [ -f "$f" ] || continue
      [ $n -lt $3 ] || return 0
      local b=$(basename "$f")
      cp "$f" "$2/images/c${k}-$b"
      [ -n "${4:-}" ] && cp "$4/0/${b%.*}.png" "$2/masks/0/c${k}-${b%.*}.png"
      n=$((n + 1))
    done
  done
}
$U diffusion prepare --data data/demo/kvasir-seg-48 --dataset generic --out /tmp/d64 > $R/prepare.txt 2>&1 || { cat $R/prepare.txt; exit 1; }
copies /tmp/d64 /tmp/diffusion640 640
copies data/demo/kvasir-seg-48/images /tmp/seg320 320 data/demo/kvasir-seg-48/masks
echo "data: $(ls /tmp/diffusion640/images | wc -l) diffusion images, $(ls /tmp/seg320/images | wc -l) segmentation images" | tee $R/log.txt
go() { # name, env assignments ("" for none), arguments...
  local name=$1 envs=$2; shift 2
  [ -z "${RUNS:-}" ] || [[ " $RUNS " == *" $name "* ]] || return 0
  [ $(left) -gt 25 ] || { echo "$name skipped: no time left" | tee -a $R/log.txt; return; }
  env $envs timeout -k 10 $(( $(left) - 5 )) $U "$@" --profile --out /tmp/runs/ovl-$name > $R/$name.txt 2>&1
  echo "$name rc=$? left=$(left)s $(grep -m1 'data parallel:' $R/$name.txt)" | tee -a $R/log.txt
  cp /tmp/runs/ovl-$name/profile.json $R/profile-$name.json 2>/dev/null
}
DIFF="diffusion train --data /tmp/diffusion640 --dataset generic --batch 32 --epochs $E --sample-every 1000 --sample-count 1 --sample-ddim-steps 1"
go diffusion-1gpu "" $DIFF --device cuda
go diffusion-2gpu-overlap "NCCL_DEBUG=INFO" $DIFF --gpus 2
go diffusion-2gpu-off "UKAN_DDP_OVERLAP=off" $DIFF --gpus 2
SEG="train --data /tmp/seg320 --preset paper --size 512 --batch 8 --epochs $E --val-every 1000"
go seg-1gpu "" $SEG --device cuda
go seg-2gpu-overlap "" $SEG --gpus 2
[ $(left) -gt 60 ] && go seg-2gpu-off "UKAN_DDP_OVERLAP=off" $SEG --gpus 2
CHK="train --data data/demo/kvasir-seg-48 --size 256 --precision fp32-strict --deterministic --val-every 1000 --epochs 13 --batch 4"
go check-overlap "" $CHK --gpus 2 --log-steps $R/check-overlap.csv
go check-off "UKAN_DDP_OVERLAP=off" $CHK --gpus 2 --log-steps $R/check-off.csv
python3 - $R > $R/check.txt 2>&1 <<'PY'
import csv, os, sys
R = sys.argv[1]
def losses(n):
    p = os.path.join(R, n + ".csv")
    return [r["loss"] for r in csv.DictReader(open(p))] if os.path.exists(p) else []
a, b = losses("check-overlap"), losses("check-off")
if a and b:
    n = min(len(a), len(b))
    same = sum(1 for i in range(n) if a[i] == b[i])
    worst = max(abs(float(a[i]) - float(b[i])) / abs(float(b[i])) for i in range(n))
    print(f"deterministic 2-GPU losses, overlap vs off: {same} of {n} steps identical, largest relative difference {worst:.2e}")
PY
grep -hE "via (P2P|SHM|NET|COLLNET)|NCCL INFO (Using network|comm .* nRanks)" $R/diffusion-2gpu-overlap.txt | sort | uniq -c | head -40 > $OUT/transport.txt
python3 - $R $E > $R/summary.txt 2>&1 <<'PY'
import json, os, sys
R, epochs = sys.argv[1], int(sys.argv[2])
def step_ms(name):
    # The "step" phase holds every step but the process's first one or two (phases of their own) plus one read of
    # the epoch's loss per epoch: the per-step time is its seconds over its calls less the epoch reads.
    path = os.path.join(R, f"profile-{name}.json")
    if not os.path.exists(path): return None
    ph = {x["name"]: x for x in json.load(open(path))["phases"]}
    s = ph.get("step")
    return None if s is None or s["calls"] <= epochs else 1000 * s["seconds"] / (s["calls"] - epochs)
rows = {}
for kind, batch in (("diffusion", 32), ("seg", 8)):
    for run, gpus in (("1gpu", 1), ("2gpu-overlap", 2), ("2gpu-off", 2)):
        ms = step_ms(f"{kind}-{run}")
        if ms is None: print(f"{kind}-{run}: no profile"); continue
        rows[(kind, run)] = (ms, batch * gpus * 1000 / ms)
        print(f"{kind}-{run}: step {ms:.2f} ms, {batch * gpus * 1000 / ms:.1f} images/s (global batch {batch * gpus})")
    one = rows.get((kind, "1gpu"))
    for run in ("2gpu-overlap", "2gpu-off"):
        two = rows.get((kind, run))
        if one and two:
            print(f"{kind} speed-up 2 vs 1 GPU, {run}: {two[1] / one[1]:.2f}x (step +{two[0] - one[0]:.1f} ms over 1 GPU)")
PY
cat $R/check.txt >> $R/summary.txt
cat $R/summary.txt | tee -a $R/log.txt
cp $R/summary.txt $OUT/summary.txt
for f in $R/*-2gpu-*.txt; do echo "== $(basename $f)"; grep -E "^phase |^step |first_step|second_step|overlap|error|Error|failed" $f | head -12; done
tar -C $R -czf "$OUT/ddp-overlap.tar.gz" .
