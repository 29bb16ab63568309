#!/usr/bin/env bash
# The speed and memory targets of docs/results.md §2a on whatever GPU the device machine has: `ukan bench` (paper preset at 256 and 512, eager phases and
# CUDA graphs, fp32 = TF32 convolutions, and tf32; large preset at 256; KANLinear against Linear) and, on the same GPU
# in the same call, the official PyTorch code timed by scripts/official_bench.py. The official Seg_UKAN sources are
# not part of this project: put archs.py, kan.py and utils.py of github.com/CUHK-AIM-Group/U-KAN in .gpu/official
# (ignored) and carry that folder. Expects .gpu/ukan-gpu.tar.xz (scripts/pack-gpu.sh). Writes $OUT/same-gpu.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-500}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/same-gpu && mkdir -p $R
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
timeout 60 $U info --device cuda > $R/info.txt 2>&1
bench() { # name, seconds, args...
  local name=$1 secs=$2; shift 2
  timeout $secs $U bench --device cuda --json "$R/$name.json" "$@" > "$R/$name.txt" 2>&1
  echo "$name rc=$?" >> $R/log.txt
}
for prec in fp32 tf32; do
  bench ukan-$prec 150 --size 256 --size 512 --precision $prec --breakdown
  timeout 60 $U bench kan --device cuda --precision $prec --json $R/kan-$prec.json > $R/kan-$prec.txt 2>&1
  echo "kan-$prec rc=$?" >> $R/log.txt
done
bench ukan-large 60 --preset large
if [ -f .gpu/official/archs.py ]; then
  timeout 200 python3 scripts/official_bench.py --official .gpu/official --preset paper large --size 256 512 \
    --json $R/official.json > $R/official.txt 2>&1
  echo "official rc=$?" >> $R/log.txt
fi
cat $R/gpu.txt $R/log.txt; cat $R/official.txt 2>/dev/null | tail -12
for f in $R/ukan-*.txt $R/kan-*.txt; do echo "== $f"; tail -n 12 $f | cut -c1-220; done
tar -C $R -czf "$OUT/same-gpu.tar.gz" .
