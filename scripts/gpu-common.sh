# Shared by the scripts/experiments/gpu-*.sh scripts: unpack the app, and train() with one time budget for all runs.
# A run that dies (e.g. a native crash) continues from its last checkpoint, up to twice.
EPOCHS="${EPOCHS:-80}"
# The app lives in .gpu/u (ignored, so it stays on a warm machine between calls): a call may carry the bundle and a
# later one only the data, when both together would pass the 64 MiB that may travel.
U=.gpu/u/ukan
# Unpacked once per bundle: a script that calls another (or a second call carrying the same bundle) skips it.
if [ -f .gpu/ukan-gpu.tar.xz ] && ! [ .gpu/u/.unpacked -nt .gpu/ukan-gpu.tar.xz ]; then
  mkdir -p .gpu/u && tar -xJf .gpu/ukan-gpu.tar.xz -C .gpu/u && touch .gpu/u/.unpacked
fi
# NO_APP=1: a script that runs without the app (its python tools only) uses the rest.
[ -x $U ] || [ "${NO_APP:-0}" = 1 ] || { echo "no app: carry .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh)" >&2; exit 1; }
mkdir -p /tmp/runs
DEADLINE=$(( $(date +%s) + LIMIT ))
left() { echo $(( DEADLINE - $(date +%s) )); }
train() { # name, data, extra args...
  local name=$1 data=$2; shift 2
  timeout $(( DEADLINE - $(date +%s) )) $U train --device cuda --data "$data" --out /tmp/runs/$name --epochs "$EPOCHS" "$@" > /tmp/runs/$name.log 2>&1
  for attempt in 1 2; do
    grep -q "^done:" /tmp/runs/$name.log && return
    [ -f /tmp/runs/$name/checkpoints/last.safetensors ] || return
    [ $(( DEADLINE - $(date +%s) )) -gt 20 ] || return
    echo "resuming $name (attempt $attempt)" >> /tmp/runs/$name.log
    timeout $(( DEADLINE - $(date +%s) )) $U train --device cuda --resume /tmp/runs/$name >> /tmp/runs/$name.log 2>&1
  done
}
# Evaluates every finished run (official and per-image metrics, eval.json) and packs the small files into $OUT/$1.
evaluate_and_pack() {
  for r in /tmp/runs/*/; do
    [ -f "$r/model.safetensors" ] && $U eval "$r" --device cuda --json "$r/eval.json" > "$r/eval.txt" 2>&1
    tail -2 "/tmp/runs/$(basename "$r").log"
  done
  tar -C /tmp/runs -czf "$OUT/$1" --exclude='*.safetensors' --exclude='events' .
  ls -la "$OUT"
}
# Diffusion U-KAN on .gpu/cvc64 (ukan diffusion prepare --dataset cvc) for $1 epochs, stopped after the current epoch
# (SIGINT; checkpoint kept) once $2 seconds have passed, then 64 samples with the official 1,000-step ancestral sampler.
# Log, metrics, config and the grid go to $R; the caller's pack() runs after training and after sampling.
diffusion_cvc() {
  timeout -s INT -k 20 "$2" $U diffusion train --device cuda --data .gpu/cvc64 --dataset generic --out /tmp/diff \
    --epochs "$1" --sample-every 1000 > $R/diffusion-train.txt 2>&1
  echo "train rc=$? left=$(left)s" >> $R/log.txt
  cp /tmp/diff/metrics.csv /tmp/diff/config.json $R/ 2>/dev/null
  pack
  timeout $(( $(left) - 3 )) $U diffusion generate --device cuda --weights /tmp/diff --count 64 --out /tmp/gens > $R/generate.txt 2>&1
  echo "generate rc=$? left=$(left)s" >> $R/log.txt
  cp /tmp/gens/grid.png $R/diffusion-cvc-grid.png 2>/dev/null
  pack
}
# run NAME SECONDS COMMAND...: COMMAND's output into $R/NAME.txt (the caller sets R), cut to the time left, and its exit
# status and wall-clock appended to $R/log.txt; skipped when less than 15 s are left. (Some scripts define their own.)
ms() { date +%s%3N; }
run() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  [ $(left) -gt 15 ] || { echo "$name skipped: no time left" | tee -a $R/log.txt; return 1; }
  [ $secs -gt $(( $(left) - 5 )) ] && secs=$(( $(left) - 5 ))
  local t0=$(ms)
  timeout -k 10 $secs "$@" > $R/$name.txt 2>&1
  echo "$name rc=$? wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
}
# Two `--deterministic` trainings of 5 epochs on the demo data; appends to $R/log.txt whether their step logs are
# identical.
deterministic_pair() {
  local data=data/demo/kvasir-seg-48
  for i in 1 2; do
    run det-$i 60 $U train --device cuda --data $data --out /tmp/runs/det-$i --epochs 5 --deterministic --log-steps $R/det-$i-steps.csv
  done
  cmp $R/det-1-steps.csv $R/det-2-steps.csv && echo "deterministic: step logs identical" | tee -a $R/log.txt \
    || echo "deterministic: step logs DIFFER" | tee -a $R/log.txt
}
# profile_step PRECISION SIZE...: Nsight Compute's duration of every kernel of the eager training step at each size
# (a window of launches after the warm-up and after the first step's timing of the KAN products' plans,
# Layers/SplitReduction.cs: timed on the GPU, ten products and a wait kernel per plan and round, more than 6,600
# launches at 256²; PROFILE_SKIP overrides the 12,000 skipped; that timing runs under the
# profiler too, so the plans it keeps may differ from an unprofiled run's: ncu-*.txt has bench's line naming them), grouped into one step's
# families by scripts/kernel_families.py, into $R/ncu-PRECISION-SIZE.csv.gz and $R/kernel-families-PRECISION-SIZE.txt.
profile_step() {
  local precision=$1; shift
  for size in "$@"; do
    run ncu-$precision-$size 80 ncu --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip ${PROFILE_SKIP:-12000} --launch-count 2600 \
      --log-file $R/ncu-$precision-$size.csv $U bench --device cuda --size $size --graphs off --warmup 0 --runs 40 --precision $precision
    python3 scripts/kernel_families.py $R/ncu-$precision-$size.csv > $R/kernel-families-$precision-$size.txt 2>&1
    gzip -f $R/ncu-$precision-$size.csv
  done
}
# collect_runs PATTERN: each /tmp/runs/PATTERN run's metrics.csv and config.json into $R (as NAME-metrics.csv,
# NAME-config.json), and its `done:` line printed.
collect_runs() {
  for r in /tmp/runs/$1; do
    local n=$(basename $r)
    cp $r/metrics.csv $R/$n-metrics.csv 2>/dev/null; cp $r/config.json $R/$n-config.json 2>/dev/null
    echo "$n: $(grep -m1 '^done' $R/$n.txt | cut -c1-200)"
  done
}
