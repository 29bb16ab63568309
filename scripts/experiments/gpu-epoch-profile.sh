#!/usr/bin/env bash
# Epoch-level speed on one GPU, all in one call so that the figures share a machine: `ukan train --profile` on a
# BUSI-sized set (first run on a fresh machine, then with warm caches, synchronised and not), the previous release on
# the same data, the official training loop (scripts/official_epoch.py), three of our runs sharing the GPU, device
# numerics (ukan selftest, with the data-path check), then 60-epoch runs of three seeds with both releases (ACCURACY=0
# skips them).
# Expects (all under the ignored .gpu/): ukan-gpu.tar.xz (scripts/pack-gpu.sh), busi256j (ukan data resize <BUSI>
# .gpu/busi256j --size 256 --jpeg-quality 95), official/ (archs.py, kan.py, utils.py, losses.py, dataset.py,
# metrics.py of CUHK-AIM-Group/U-KAN Seg_UKAN @ b20bf63), optionally old-app.tar.xz (app/ of an earlier pack-gpu.sh).
# Writes $OUT/epoch-profile.tar.gz.
set -uo pipefail
LIMIT="${LIMIT:-560}"
source "$(dirname "$0")/../gpu-common.sh"
R=/tmp/epoch && mkdir -p $R
D=.gpu/busi256j
# The earlier release runs on the runtime of the new bundle (its own bundle would not fit the transfer beside it).
OLD=.gpu/old/ukan
if [ -f .gpu/old-app.tar.xz ]; then
  mkdir -p .gpu/old && tar -xJf .gpu/old-app.tar.xz -C .gpu/old
  printf '#!/usr/bin/env bash\nexport DOTNET_ROOT=%s GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=68719476736\nexec %s "$@"\n' \
    "$PWD/.gpu/u/dotnet" "$PWD/.gpu/old/app/ukan" > $OLD && chmod +x $OLD
fi
ms() { date +%s%3N; }
run() { # name, timeout, command...: wall-clock of the whole process into $R/name.txt
  local name=$1 secs=$2; shift 2
  local t0=$(ms)
  timeout $secs "$@" > $R/$name.txt 2>&1
  local rc=$?
  echo "$name rc=$rc wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $R/gpu.txt 2>&1
nproc >> $R/gpu.txt
run new-fresh 120 $U train --device cuda --data $D --out /tmp/runs/new-fresh --epochs 12 --profile
run new-warm 120 $U train --device cuda --data $D --out /tmp/runs/new-warm --epochs 30 --profile
run new-async 120 $U train --device cuda --data $D --out /tmp/runs/new-async --epochs 30 --profile async
[ "${OLD_RUN:-1}" = 1 ] && [ -x $OLD ] && run old-warm 120 $OLD train --device cuda --data $D --out /tmp/runs/old-warm --epochs 12
run official-epoch 120 python3 scripts/official_epoch.py --official .gpu/official --data $D --epochs 6 --no-medpy --json $R/official-epoch.json
t0=$(ms)
for s in 2981 6142 1187; do
  run three-$s 200 $U train --device cuda --data $D --out /tmp/runs/three-$s --epochs 30 --data-seed $s --profile async &
done
wait
echo "three at once: wall=$(( $(ms) - t0 )) ms" | tee -a $R/log.txt
# Another build's app (NAT: app/ of scripts/pack-gpu.sh, on this bundle's runtime): three runs starting together on
# an empty compile cache (one compile expected, the others wait for it), then its device checks.
if [ -f .gpu/nat-app.tar.xz ]; then
  mkdir -p .gpu/nat && tar -xJf .gpu/nat-app.tar.xz -C .gpu/nat
  NAT=.gpu/nat/ukan
  printf '#!/usr/bin/env bash\nexport DOTNET_ROOT=%s\nexec %s "$@"\n' "$PWD/.gpu/u/dotnet" "$PWD/.gpu/nat/app/ukan" > $NAT && chmod +x $NAT
  export UKAN_CACHE_DIR=/tmp/nat-cache
  for s in 1 2 3; do run nat-three-$s 120 $NAT train --device cuda --data $D --out /tmp/runs/nat-$s --epochs 3 --profile &
  done
  wait
  run nat-info 60 $NAT info --device cuda
  run nat-selftest 120 $NAT selftest --device cuda
  unset UKAN_CACHE_DIR
fi
# The training result unchanged: 60 epochs, three official seeds, the earlier release beside this one (all at once:
# accuracy only, their timings are not used).
if [ "${ACCURACY:-1}" = 1 ]; then
  for s in 2981 6142 1187; do
    run acc-new-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-new-$s --epochs 60 --data-seed $s &
    [ -x $OLD ] && run acc-old-$s $(( $(left) - 25 )) $OLD train --device cuda --data $D --out /tmp/runs/acc-old-$s --epochs 60 --data-seed $s &
  done
  wait
fi
for r in /tmp/runs/*/; do n=$(basename $r); cp $r/metrics.csv $R/$n-metrics.csv 2>/dev/null; cp $r/profile.json $R/$n-profile.json 2>/dev/null; done
cat $R/log.txt
for f in new-fresh new-warm new-async three-2981 nat-three-1; do echo "== $f"; tail -n 19 $R/$f.txt | cut -c1-150; done
grep -iE "shim|kernel|onednn|gc" $R/nat-info.txt | cut -c1-200; grep -cE " ok" $R/nat-selftest.txt; grep -E "FAILED" $R/nat-selftest.txt
echo "== old-warm"; tail -n 3 $R/old-warm.txt | cut -c1-150; echo "== official"; tail -n 3 $R/official-epoch.txt | cut -c1-300
grep -E "FAILED|data path" $R/selftest.txt
for f in $R/acc-*.txt; do echo "$(basename $f): $(tail -n 1 $f | cut -c1-100)"; done
tar -C $R -czf "$OUT/epoch-profile.tar.gz" .
