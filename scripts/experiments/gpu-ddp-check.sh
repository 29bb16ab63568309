#!/usr/bin/env bash
# Data-parallel training on a 2-GPU host (nvidia-h200-x2), in one call of about 9 minutes:
#  (a) 2 GPUs with --sync-bn and per-GPU batch 4 against 1 GPU with batch 8, same seeds and data order: the loss of
#      each of the first 50 steps (hidden --log-steps), both printed, and the largest relative difference; fp32-strict
#      (no TF32) so that the two runs differ only by the order of float sums. Run with CUDA graphs (the default) and,
#      if that run fails, again with --graphs off;
#  (b) throughput, 1 vs 2 GPUs, per-GPU batch 8: paper preset at 512², large preset at 256² (images/s from the epoch
#      times of metrics.csv, first and last epoch left out; the all-reduce cost per step is estimated as the step time
#      difference, since it does not overlap backward); Diffusion U-KAN at 64², per-GPU batch 32 (8 on the demo set);
#  (c) `ukan sweep` of 3 seeds × 2 models (ukan, mlp), 2 epochs: on 2 GPUs, 2 runs per GPU, then one at a time on one
#      GPU (as long as time is left).
# Expects: .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh); a dataset at $DATA (default .gpu/busi256j, e.g. `ukan data resize
# <BUSI> .gpu/busi256j --size 256 --jpeg-quality 95`), else the demo set data/demo/kvasir-seg-48 of the working tree.
# Writes the raw outputs to $OUT/ddp-check/ and $OUT/ddp-check.tar.gz (run folders without weights).
set -uo pipefail
LIMIT="${LIMIT:-540}"
source "$(dirname "$0")/../gpu-common.sh"
export NCCL_NVLS_ENABLE=0
R=$OUT/ddp-check && mkdir -p $R
D="${DATA:-.gpu/busi256j}"
[ -d "$D/images" ] || D=data/demo/kvasir-seg-48
echo "data: $D ($(ls $D/images | wc -l) images)" | tee $R/log.txt
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
nvidia-smi topo -m >> $R/gpu.txt 2>&1
$U info --device cuda > $R/info.txt 2>&1
ms() { date +%s%3N; }
run() { # name, seconds, command...: output and wall-clock into $R
  local name=$1 secs=$2; shift 2
  [ $(left) -gt 20 ] || { echo "$name skipped: no time left" | tee -a $R/log.txt; return 1; }
  [ $secs -gt $(( $(left) - 5 )) ] && secs=$(( $(left) - 5 ))
  local t0=$(ms)
  timeout -k 10 $secs "$@" > $R/$name.txt 2>&1
  local rc=$?
  echo "$name rc=$rc wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
  return $rc
}
# Enough epochs for 50 steps of global batch 8 on this data (the validation split takes ceil(20 %)).
N=$(ls $D/images | wc -l)
STEPS=$(( (N - (N * 2 + 9) / 10) / 8 ))
EPOCHS_A=$(( (50 + STEPS - 1) / STEPS ))
COMMON="--data $D --size 256 --precision fp32-strict --val-every 1000"

# (a) the same 50 steps on 1 and on 2 GPUs.
run a-1gpu 150 $U train --device cuda $COMMON --out /tmp/runs/a-1gpu --batch 8 --epochs $EPOCHS_A --log-steps $R/a-1gpu-steps.csv
run a-2gpu 150 $U train --gpus 2 --sync-bn $COMMON --out /tmp/runs/a-2gpu --batch 4 --epochs $EPOCHS_A --log-steps $R/a-2gpu-steps.csv \
  || run a-2gpu-nographs 150 $U train --gpus 2 --sync-bn --graphs off $COMMON --out /tmp/runs/a-2gpu-nographs --batch 4 --epochs $EPOCHS_A \
       --log-steps $R/a-2gpu-nographs-steps.csv
python3 - $R > $R/a-compare.txt 2>&1 <<'PY'
import csv, sys, os
R = sys.argv[1]
def losses(name):
    path = os.path.join(R, name)
    return [float(r["loss"]) for r in csv.DictReader(open(path))] if os.path.exists(path) else []
one = losses("a-1gpu-steps.csv")
for other in ("a-2gpu-steps.csv", "a-2gpu-nographs-steps.csv"):
    two = losses(other)
    if not two: continue
    n = min(50, len(one), len(two))
    print(f"{other}: {n} steps compared (1 GPU batch 8 vs 2 GPUs batch 4 + sync-bn)")
    worst = 0.0
    for i in range(n):
        rel = abs(two[i] - one[i]) / abs(one[i])
        worst = max(worst, rel)
        print(f"step {i+1:3d}  1gpu {one[i]:.7f}  2gpu {two[i]:.7f}  rel {rel:.2e}")
    print(f"max relative difference over {n} steps: {worst:.3e} ({'within' if worst <= 1e-3 else 'ABOVE'} 1e-3)")
PY
cat $R/a-compare.txt | tail -1 | tee -a $R/log.txt

# (b) throughput: per-GPU batch 8, 1 vs 2 GPUs.
for cfg in "paper 512" "large 256"; do
  set -- $cfg
  run b-$1-$2-1gpu 100 $U train --device cuda --data $D --preset $1 --size $2 --batch 8 --epochs 4 --val-every 1000 --out /tmp/runs/b-$1-$2-1gpu
  run b-$1-$2-2gpu 100 $U train --gpus 2 --data $D --preset $1 --size $2 --batch 8 --epochs 4 --val-every 1000 --out /tmp/runs/b-$1-$2-2gpu
done
DB=32; [ $N -ge 640 ] || DB=8   # the demo set is too small for 2 × 32
for g in 1 2; do
  run b-diffusion-64-${g}gpu 100 $U diffusion train --gpus $g --data $D --dataset generic --batch $DB --epochs 4 --sample-every 1000 \
    --sample-count 1 --sample-ddim-steps 1 --out /tmp/runs/b-diffusion-64-${g}gpu
done
python3 - $D > $R/b-throughput.txt 2>&1 <<'PY'
import csv, json, os, sys
def rate(run, gpus):
    m = f"/tmp/runs/{run}/metrics.csv"
    if not os.path.exists(m): return None
    rows = list(csv.DictReader(open(m)))
    cfg = json.load(open(f"/tmp/runs/{run}/config.json"))
    if os.path.exists(f"/tmp/runs/{run}/split.json"):
        train = len(json.load(open(f"/tmp/runs/{run}/split.json"))["train"])
    else:   # diffusion trains on every image of the folder
        train = len(os.listdir(os.path.join(sys.argv[1], "images")))
    glob = cfg["batch"] * gpus
    steps = train // glob
    mid = rows[1:-1] or rows
    sec = sum(float(r["seconds"]) for r in mid) / len(mid)
    return steps * glob / sec, sec / steps * 1000
for cfg in ("paper-512", "large-256", "diffusion-64"):
    a, b = rate(f"b-{cfg}-1gpu", 1), rate(f"b-{cfg}-2gpu", 2)
    if a is None or b is None:
        print(f"{cfg}: missing run"); continue
    print(f"{cfg}: 1 GPU {a[0]:.1f} img/s ({a[1]:.2f} ms/step), 2 GPUs {b[0]:.1f} img/s ({b[1]:.2f} ms/step), "
          f"speed-up {b[0]/a[0]:.2f}x; step time added by 2 GPUs (all-reduce, not overlapped) {b[1]-a[1]:.2f} ms")
PY
cat $R/b-throughput.txt | tee -a $R/log.txt

# (c) a sweep of 3 seeds × 2 models on 2 GPUs (2 runs per GPU), then the same grid one run at a time on one GPU.
SW="--data $D --seeds 2981,6142,1187 --models ukan,mlp --epochs 2 --val-every 1"
run c-sweep-2gpu 200 $U sweep $SW --per-gpu 2 --out /tmp/runs/sweep-2gpu
CUDA_VISIBLE_DEVICES=0 run c-sweep-sequential 250 $U sweep $SW --per-gpu 1 --out /tmp/runs/sweep-seq
cp /tmp/runs/sweep-2gpu/sweep.md $R/c-sweep-2gpu.md 2>/dev/null
cp /tmp/runs/sweep-seq/sweep.md $R/c-sweep-sequential.md 2>/dev/null
grep -h "wall=" $R/log.txt | grep c-sweep
tar -C /tmp/runs -czf "$OUT/ddp-check.tar.gz" --exclude='*.safetensors' --exclude='events' .
ls -la $OUT $R
