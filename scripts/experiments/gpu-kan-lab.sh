#!/usr/bin/env bash
# One call on one H200 for KANLinear's products: scripts/experiments/kan_tc_lab.py (the compile-time variants of
# kan_product_tf32x3.cu against cuBLAS's float32 at `ukan bench kan`'s shapes, outside the app), then, with the app
# (.gpu/ukan-gpu.tar.xz, the default variant): `ukan selftest --device cuda` (SELFTEST=0 skips it), `ukan bench kan`
# under the default and UKAN_KAN_TF32X3=off, and with NCU=1 Nsight Compute's duration of every kernel of the eager
# KANLinear 8,192 x 256 forward + backward (all launches of `bench kan --graphs off`: the Linear's steps first, then
# the KAN layer's with its first-use plan timing; the last step's launches are its profile). LAB_ARGS go to the lab.
# SASS: see below. APP=0: the lab alone (no bundle needed); LAB_NCU=1: Nsight Compute's detailed sections of the lab's forward tile
# (128x64, nt), its dW tile (64x128 in 8, tn) and the dL/dx kernel under the variant LAB_NCU_VARIANT.
# Writes $OUT/kan-lab.tar.gz and prints a summary.
set -uo pipefail
LIMIT="${LIMIT:-560}"
R=/tmp/kan-lab && mkdir -p $R
[ "${APP:-1}" = 1 ] || NO_APP=1
source "$(dirname "$0")/../gpu-common.sh"
run lab 240 python3 scripts/experiments/kan_tc_lab.py --json $R/lab.json ${LAB_ARGS:-}
# SASS="VARIANT:KERNEL ...": the machine code of those kernels of the lab's variants (cuobjdump), into $R/sass-*.txt.
for vk in ${SASS:-}; do cuobjdump -sass -fun "${vk#*:}" "/tmp/kan_tc_${vk%%:*}.cubin" > "$R/sass-${vk%%:*}-${vk#*:}.txt" 2>&1; done
if [ "${LAB_NCU:-0}" = 1 ]; then
  L="python3 scripts/experiments/kan_tc_lab.py --variants ${LAB_NCU_VARIANT:-int-ldm-256=KAN_TC_SM_THREADS=256} --shapes 8192x256 --runs 3"
  N="ncu --clock-control none --set detailed --launch-skip 1 --launch-count 1 --kernel-name"
  run ncu-fwd 90 $N kan_product_tf32x3_128x64_nt $L --tiles 128x64 --splits 1 --products y=F.Wt
  run ncu-dw 90 $N kan_product_tf32x3_64x128_tn $L --tiles 64x128 --splits 8 --products dW=dyt.F
  run ncu-dx 90 $N kan_product_input_grad_tf32x3_9 $L --products dx
fi
[ "${APP:-1}" = 1 ] || { tar -C $R -czf "$OUT/kan-lab.tar.gz" .; grep -vE "^ *$" $R/lab.txt | cut -c1-200 | head -60; cat $R/log.txt; exit 0; }
[ "${SELFTEST:-1}" = 1 ] && run selftest 120 $U selftest --device cuda
run kan-default 60 $U bench kan --device cuda --json $R/kan-default.json
run kan-tcoff 60 env UKAN_KAN_TF32X3=off $U bench kan --device cuda --json $R/kan-tcoff.json
if [ "${NCU:-0}" = 1 ]; then
  run ncu-kan 150 ncu --clock-control none --csv --metrics gpu__time_duration.sum --log-file $R/ncu-kan.csv \
    $U bench kan --device cuda --rows 8192 --dim 256 --graphs off --warmup 1 --runs 2
  gzip -kf $R/ncu-kan.csv
fi
tar -C $R -czf "$OUT/kan-lab.tar.gz" .
grep -vE "^ *$" $R/lab.txt | cut -c1-200 | head -80
[ -f $R/selftest.txt ] && grep -ciE " ok *$" $R/selftest.txt; grep -iE "fail|problem|tf32x3|3xTF32" $R/selftest.txt | cut -c1-200 | head -12
for f in $R/kan-*.txt; do echo "== $(basename $f .txt)"; grep -E "×|path" $f | head -5; done
cat $R/log.txt
