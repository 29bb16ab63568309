#!/usr/bin/env bash
# BUSI accuracy with this release's new fused paths (relu(max-pool), the Adam step, the BCE + Dice loss) against the
# same build with the three off (UKAN_FUSED_MAXPOOL=off UKAN_FUSED_ADAM=off UKAN_FUSED_LOSS=off): 60 epochs, the
# official split seeds 2981, 6142, 1187, all six runs at once on one H200 (device kind nvidia-h200).
# Two calls on one warm machine, as the app and the data together pass the 64 MiB that may travel: first carrying
# .gpu/ukan-gpu.tar.xz (PART=unpack: unpacks it into .gpu/u, which stays), then carrying .gpu/busi256j
# (ukan data prepare, docs/datasets.md). Writes $OUT/accuracy-$TAG.tar.gz. OFF and TAG name another comparison (the
# default against the build with OFF's switches set): OFF="UKAN_FUSED_CONV=off" TAG=conv for the 3 x 3 convolutions.
set -uo pipefail
LIMIT="${LIMIT:-420}"
source "$(dirname "$0")/../gpu-common.sh"
[ "${PART:-accuracy}" = unpack ] && { ls -la .gpu/u | head -3; exit 0; }
TAG="${TAG:-fused}"
R=/tmp/accuracy-$TAG && mkdir -p $R
nvidia-smi --query-gpu=index,name,memory.total,driver_version,clocks.max.sm --format=csv > $R/gpu.txt 2>&1
D=.gpu/busi256j
OFF="${OFF:-UKAN_FUSED_MAXPOOL=off UKAN_FUSED_ADAM=off UKAN_FUSED_LOSS=off}"
echo "off: $OFF" > $R/off.txt
for s in 2981 6142 1187; do
  run acc-fused-$s $(( $(left) - 25 )) $U train --device cuda --data $D --out /tmp/runs/acc-fused-$s --epochs 60 --data-seed $s &
  run acc-off-$s $(( $(left) - 25 )) env $OFF $U train --device cuda --data $D --out /tmp/runs/acc-off-$s --epochs 60 --data-seed $s &
done
wait
collect_runs 'acc-*'
grep -h "rc=" $R/log.txt
tar -C $R -czf "$OUT/accuracy-$TAG.tar.gz" .
