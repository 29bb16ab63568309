#!/usr/bin/env bash
# 5-fold cross-validation on BUSI with a held-out test set (20 %), U-KAN against the MLP ablation (and more models with
# MODELS="ukan mlp unet unext" once the baselines are merged), EPOCHS (100) per fold, all models on the same splits (the
# same --data-seed, fold count and test fraction give the same splits.json), then the paired comparison of every model
# with U-KAN on the common test images (ukan compare: Wilcoxon signed-rank p-value and bootstrap 95 % CI per metric).
# The cv folders live in .gpu/cv (ignored, kept on a warm machine): each call runs until LIMIT, stops the folds with
# SIGINT (the last finished epoch is kept), and the next call continues them; call again until every cv_summary.json
# exists. Expects the app in .gpu/u (or .gpu/ukan-gpu.tar.xz) and .gpu/busi256j (DATA). Writes $OUT/busi-cv.tar.gz.
# On a host with several GPUs, MODELS entries may name one: "unet:0 ukan:1 mlp:1" (CUDA_VISIBLE_DEVICES per cv).
set -uo pipefail
LIMIT="${LIMIT:-540}"
EPOCHS="${EPOCHS:-100}"
MODELS="${MODELS:-ukan mlp}"
source "$(dirname "$0")/../gpu-common.sh"
CV="${CV:-.gpu/cv}"   # one folder per dataset (e.g. CV=.gpu/cv-cvc DATA=.gpu/cvc256j)
mkdir -p $CV
# PRIOR: a folder of finished cv folders from an earlier machine (their saved per-image scores, no weights), copied in
# so that this call's models are compared with them, e.g. PRIOR=docs/runs/busi-cv-h200x2.
for d in ${PRIOR:+$PRIOR/*/}; do
  d=${d%/}; n=$(basename $d)
  [ -f $d/cv_summary.json ] && ! [ -e $CV/$n ] && cp -r $d $CV/$n
done
model_args() { case $1 in ukan) ;; mlp) echo --mlp ;; *) echo --model "$1" ;; esac; }
DATA="${DATA:-.gpu/busi256j}"
ENTRIES="$MODELS"
MODELS=""
for e in $ENTRIES; do
  m=${e%%:*}; gpu=${e#*:}; [ "$gpu" = "$e" ] && gpu=0
  MODELS="$MODELS $m"
  CUDA_VISIBLE_DEVICES=$gpu timeout -s INT -k 60 $(( $(left) - 60 )) $U cv --device cuda --data $DATA --out $CV/$m --folds 5 \
    --test-fraction 0.2 --data-seed 2981 --epochs "$EPOCHS" $(model_args $m) >> $CV/$m.log 2>&1 &
done
wait
for m in $MODELS; do echo "$m: $(tail -1 $CV/$m.log)"; done
# Every finished cv folder on this machine, those of earlier calls too; U-KAN first (compare pairs every other model
# with the first one given).
done_models=""
[ -f $CV/ukan/cv_summary.json ] && done_models="$CV/ukan"
for d in $CV/*/; do d=${d%/}; [ "$d" != $CV/ukan ] && [ -f $d/cv_summary.json ] && done_models="$done_models $d"; done
if [ "$(echo $done_models | wc -w)" -ge 2 ]; then
  $U compare $done_models --device cuda --out $CV/compare --overwrite > $CV/compare.txt 2>&1
  cat $CV/compare.txt
fi
# Only the small text files: an archive with pictures (tens of MB) may not come back from the device machine.
(cd $CV && find . -type f \( -name '*.json' -o -name '*.csv' -o -name '*.md' -o -name '*.log' -o -name '*.txt' -o -name .ukan-run \) \
  -print0 | tar --null -czf "$OUT/$(basename $CV).tar.gz" -T -)
ls -la "$OUT"
