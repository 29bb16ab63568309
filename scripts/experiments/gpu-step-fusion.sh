#!/usr/bin/env bash
# The training step's fusions against their switches, on a host with two H200 (nvidia-h200-x2), in one call:
#  GPU 0: `ukan selftest` (parity of every path on the GPU), then `ukan bench` (U-KAN paper, 256², batch 8, graphs)
#         in four variants, alternating, ROUNDS times: everything on (default); UKAN_GRAD_GATHER=off (the flat
#         gradient buffer filled by one accumulate kernel per parameter); UKAN_BIAS_BEFORE_BN=official (the bias add
#         and bias-gradient reduction of every convolution before a training-mode batch norm); both off and
#         UKAN_FOLD_BN=off (the release before these changes); then the eager step (--graphs off --breakdown) for its
#         peak memory and phases, and `bench kan` (KANLinear against Linear at 8192×256).
#  Then both GPUs: the data-parallel check of gpu-ddp-overlap.sh (its runs check-overlap and check-off).
#  GPU 1, at the same time as GPU 0's part: the official U-KAN under PyTorch eager and torch.compile(mode="reduce-overhead") with
#         Adam(fused=True) at 256² (scripts/official_bench.py), the peer of the step figures.
# PART=accuracy instead (a second call carrying .gpu/busi256j on the same warm machine): BUSI, 60 epochs, the three
# official split seeds, with the defaults and with UKAN_BIAS_BEFORE_BN=official, three runs per GPU at once.
# Expects .gpu/ukan-gpu.tar.xz (or .gpu/u from an earlier call) and .gpu/official (Seg_UKAN sources).
# Writes $OUT/fusion.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-420}"
PART="${PART:-bench}"
ROUNDS="${ROUNDS:-3}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/fusion && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
if [ "$PART" = bench ]; then
  (
    export CUDA_VISIBLE_DEVICES=1
    run official-eager 60 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes eager --json $R/official-eager.json
    run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
  ) &
  export CUDA_VISIBLE_DEVICES=0
  run selftest 120 $U selftest --device cuda
  for i in $(seq 1 $ROUNDS); do
    run bench-default-$i 40 $U bench --device cuda --size 256 --json $R/bench-default-$i.json
    run bench-no-gather-$i 40 env UKAN_GRAD_GATHER=off $U bench --device cuda --size 256 --json $R/bench-no-gather-$i.json
    run bench-official-bias-$i 40 env UKAN_BIAS_BEFORE_BN=official $U bench --device cuda --size 256 --json $R/bench-official-bias-$i.json
    run bench-before-$i 40 env UKAN_GRAD_GATHER=off UKAN_BIAS_BEFORE_BN=official UKAN_FOLD_BN=off $U bench --device cuda --size 256 --json $R/bench-before-$i.json
  done
  run eager-default 40 $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-default.json
  run eager-before 40 env UKAN_GRAD_GATHER=off UKAN_BIAS_BEFORE_BN=official $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager-before.json
  run bench-512 60 $U bench --device cuda --size 512 --json $R/bench-512.json
  run kan 40 $U bench kan --device cuda --json $R/kan.json
  wait
  # The overlapped all-reduce now treats parameters without gradient (the biases above) as complete: 2 GPUs under
  # --deterministic with and without the overlap must give the same losses bit for bit, and a run must finish.
  unset CUDA_VISIBLE_DEVICES
  LIMIT=$(( $(left) - 10 )) RUNS="check-overlap check-off" bash scripts/experiments/gpu-ddp-overlap.sh > $R/ddp-check.txt 2>&1
  echo "ddp-check rc=$?" >> $R/log.txt
  grep -h "rc=" $R/log.txt
  for f in $R/bench-*.txt $R/eager-*.txt; do echo "$(basename $f .txt): $(grep -m1 '^ukan' $f | cut -c1-230)"; done
  grep -h "^|" $R/official-*.txt | cut -c1-200
  tail -n 4 $R/selftest.txt
else
  D=.gpu/busi256j
  for s in 2981 6142 1187; do
    CUDA_VISIBLE_DEVICES=0 run acc-default-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-default-$s --epochs 60 --data-seed $s &
    CUDA_VISIBLE_DEVICES=1 run acc-official-bias-$s $(( $(left) - 25 )) env UKAN_BIAS_BEFORE_BN=official $U train --device cuda --data $D --out /tmp/runs/acc-official-bias-$s --epochs 60 --data-seed $s &
  done
  wait
  for r in /tmp/runs/acc-*; do
    n=$(basename $r); cp $r/metrics.csv $R/$n-metrics.csv 2>/dev/null; cp $r/config.json $R/$n-config.json 2>/dev/null
    echo "$n: $(grep -m1 '^done' $R/$n.txt | cut -c1-200)"
  done
fi
tar -C $R -czf "$OUT/fusion.tar.gz" .
ls -la $OUT
