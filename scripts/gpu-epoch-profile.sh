#!/usr/bin/env bash
# Epoch-level speed on one GPU, all in one call so that the figures share a machine: `ukan train --profile` on a
# BUSI-sized set (first run on a fresh machine, then with warm caches), the previous release on the same data, the
# official training loop (scripts/official_epoch.py), three of our runs sharing the GPU, and the step benchmarks of
# both (ukan bench, scripts/official_bench.py). Device numerics (ukan selftest, with the data-path check) first.
# Expects (all under the ignored .gpu/): ukan-gpu.tar.xz (scripts/pack-gpu.sh), busi256j (ukan data resize <BUSI>
# .gpu/busi256j --size 256 --jpeg-quality 95), official/ (archs.py, kan.py, utils.py, losses.py, dataset.py,
# metrics.py of CUHK-AIM-Group/U-KAN Seg_UKAN @ b20bf63), optionally old-app.tar.xz (app/ of an earlier pack-gpu.sh).
# Writes $OUT/epoch-profile.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
source "$(dirname "$0")/gpu-common.sh"
R=/tmp/epoch && mkdir -p $R
D=.gpu/busi256j
if [ -f .gpu/old-app.tar.xz ]; then mkdir -p .gpu/old && tar -xJf .gpu/old-app.tar.xz -C .gpu/old; fi
old() { DOTNET_ROOT=$PWD/.gpu/u/dotnet GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=68719476736 .gpu/old/app/ukan "$@"; }
stamp() { date +%s.%N; }
run() { # name, timeout, command...: wall-clock of the whole process into $R/name.txt
  local name=$1 secs=$2; shift 2
  local t0=$(stamp)
  timeout $secs "$@" > $R/$name.txt 2>&1
  local rc=$?
  echo "$name rc=$rc wall=$(echo "$(stamp) - $t0" | bc) s" | tee -a $R/log.txt
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
nproc >> $R/gpu.txt
run new-fresh 120 $U train --device cuda --data $D --out /tmp/runs/new-fresh --epochs 12 --profile
run info 60 $U info --device cuda
run selftest 120 $U selftest --device cuda
run new-warm 120 $U train --device cuda --data $D --out /tmp/runs/new-warm --epochs 30 --profile
[ -x .gpu/old/app/ukan ] && run old-warm 120 old train --device cuda --data $D --out /tmp/runs/old-warm --epochs 12
run official-epoch 150 python3 scripts/official_epoch.py --official .gpu/official --data $D --epochs 6 --json $R/official-epoch.json
t0=$(stamp)
for s in 2981 6142 1187; do
  run three-$s 200 $U train --device cuda --data $D --out /tmp/runs/three-$s --epochs 30 --data-seed $s --profile &
done
wait
echo "three at once: wall=$(echo "$(stamp) - $t0" | bc) s" | tee -a $R/log.txt
run bench 120 $U bench --device cuda --size 256 --json $R/bench.json
run official-bench 150 python3 scripts/official_bench.py --official .gpu/official --preset paper --size 256 --kan --json $R/official-bench.json
for r in /tmp/runs/*/; do n=$(basename $r); cp $r/metrics.csv $R/$n-metrics.csv 2>/dev/null; cp $r/profile.json $R/$n-profile.json 2>/dev/null; done
cat $R/log.txt
for f in new-fresh new-warm three-2981; do echo "== $f"; tail -n 18 $R/$f.txt; done
echo "== old-warm"; tail -n 4 $R/old-warm.txt; echo "== official"; tail -n 3 $R/official-epoch.txt; tail -n 4 $R/official-bench.txt
grep -E "FAILED|data path" $R/selftest.txt; tail -n 6 $R/bench.txt
tar -C $R -czf "$OUT/epoch-profile.tar.gz" .
