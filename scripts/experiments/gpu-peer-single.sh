#!/usr/bin/env bash
# The peer comparison of "beat torch.compile" on a machine with one H200 (device kind nvidia-h200), every figure
# taken one after the other on the same GPU in one call, nothing else running on it:
#  ours: `ukan bench` (U-KAN paper preset, batch 8, CUDA graphs) at 256² and 512² in fp32 (PyTorch's default: TF32
#        convolutions, fp32 products), tf32 and bf16; the eager step (--graphs off --breakdown) for its peak memory;
#        `bench kan` (KANLinear against Linear at 8192×256);
#  official: the same step under PyTorch eager and torch.compile(mode="reduce-overhead") with Adam(fused=True)
#        (scripts/official_bench.py), 256² and 512², compile time included in its output;
#  and the kernel families of one bf16 eager step (Nsight Compute, scripts/kernel_families.py): where bf16 loses.
# PART=features: selftest, ours at 256²/512² in fp32 and tf32, bench kan and the 256² kernel families (after a kernel change).
# PART=profile: Nsight Compute's kernel families of one eager step at 512² (fp32), 256² in bf16 and 256² in fp32.
# PART=autotune instead: `ukan selftest`, then the official step under torch.compile(mode="max-autotune") at 256²
# (Inductor's cache persists within the call; autotuning alone took more than 400 s in an earlier try).
# Expects .gpu/ukan-gpu.tar.xz and .gpu/official (Seg_UKAN sources). Writes $OUT/peer-single.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-570}"
PART="${PART:-bench}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/peer-single && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
nproc >> $R/gpu.txt; lscpu | grep -m1 "Model name" >> $R/gpu.txt
if [ "$PART" = bench ]; then
  for prec in fp32 tf32 bf16; do
    run bench-$prec 70 $U bench --device cuda --size 256 --size 512 --precision $prec --json $R/bench-$prec.json
  done
  run eager 40 $U bench --device cuda --size 256 --graphs off --breakdown --json $R/eager.json
  run kan 40 $U bench kan --device cuda --json $R/kan.json
  run official-eager 60 python3 scripts/official_bench.py --official .gpu/official --size 256 512 --kan --fused-adam --modes eager --json $R/official-eager.json
  run official-ro 200 python3 scripts/official_bench.py --official .gpu/official --size 256 512 --kan --fused-adam --modes reduce-overhead --json $R/official-ro.json
  # A second round of ours after the peer, so that a drift of the GPU's clocks over the call shows.
  run bench-fp32-again 40 $U bench --device cuda --size 256 --json $R/bench-fp32-again.json
  run ncu-bf16 60 ncu --clock-control none --csv --metrics gpu__time_duration.sum --log-file $R/ncu-bf16.csv \
    $U bench --device cuda --size 256 --precision bf16 --graphs off --warmup 0 --runs 3
  python3 scripts/kernel_families.py $R/ncu-bf16.csv > $R/kernel-families-bf16.txt 2>&1
  gzip -f $R/ncu-bf16.csv
elif [ "$PART" = features ]; then
  # The KAN feature kernel with a shared-memory tile (one thread per input): parity, then the step and its profile.
  run selftest 90 $U selftest --device cuda
  for prec in fp32 tf32; do
    run bench-$prec 70 $U bench --device cuda --size 256 --size 512 --precision $prec --json $R/bench-$prec.json
  done
  run kan 40 $U bench kan --device cuda --json $R/kan.json
  run ncu-fp32-256 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 1500 --launch-count 2600 \
    --log-file $R/ncu-fp32-256.csv $U bench --device cuda --size 256 --graphs off --warmup 0 --runs 8
  python3 scripts/kernel_families.py $R/ncu-fp32-256.csv > $R/kernel-families-fp32-256.txt 2>&1
  gzip -f $R/ncu-fp32-256.csv
  tail -n 14 $R/kernel-families-fp32-256.txt
elif [ "$PART" = profile ]; then
  # One eager step cut out of launches 1,501-4,100 (past start-up and the first steps), as in docs/results.md §2e.
  for v in "fp32 512" "bf16 256" "fp32 256"; do
    set -- $v
    run ncu-$1-$2 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 1500 --launch-count 2600 \
      --log-file $R/ncu-$1-$2.csv $U bench --device cuda --size $2 --precision $1 --graphs off --warmup 0 --runs 8
    python3 scripts/kernel_families.py $R/ncu-$1-$2.csv > $R/kernel-families-$1-$2.txt 2>&1
    gzip -f $R/ncu-$1-$2.csv
  done
  for f in $R/kernel-families-*.txt; do echo "== $f"; tail -n 14 $f; done
else
  run selftest 90 $U selftest --device cuda
  export TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-cache
  run official-autotune $(( $(left) - 15 )) python3 scripts/official_bench.py --official .gpu/official --size 256 --kan --fused-adam --modes max-autotune --json $R/official-autotune.json
fi
grep -h "rc=" $R/log.txt
for f in $R/bench-*.txt $R/eager.txt $R/kan.txt; do [ -f $f ] && echo "$(basename $f .txt): $(grep -m2 '^ukan\|^|' $f | cut -c1-230 | tr '\n' ' ')"; done
grep -h "^|" $R/official-*.txt 2>/dev/null | cut -c1-200
tail -n 12 $R/kernel-families-bf16.txt 2>/dev/null; tail -n 3 $R/selftest.txt 2>/dev/null
tar -C $R -czf "$OUT/peer-single.tar.gz" .
ls -la $OUT
