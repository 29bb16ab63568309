# Shared by the scripts/gpu-train-*.sh scripts: unpack the app, and train() with one time budget for all runs.
# A run that dies (e.g. a native crash) continues from its last checkpoint, up to twice.
EPOCHS="${EPOCHS:-80}"
# The app lives in .gpu/u (ignored, so it stays on a warm machine between calls): a call may carry the bundle and a
# later one only the data, when both together would pass the 64 MiB that may travel.
U=.gpu/u/ukan
if [ -f .gpu/ukan-gpu.tar.xz ]; then mkdir -p .gpu/u && tar -xJf .gpu/ukan-gpu.tar.xz -C .gpu/u; fi
[ -x $U ] || { echo "no app: carry .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh)" >&2; exit 1; }
mkdir -p /tmp/runs
DEADLINE=$(( $(date +%s) + LIMIT ))
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
