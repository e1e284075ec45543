#!/usr/bin/env bash
# The v3 candidate from scratch and the figures issue 11 asks of it, resumable: run it again after an interruption
# and every finished step is skipped (corpora with a .done mark, stages through `alm train --resume`, answers
# through each eval folder's cache). About 2 h 20 min of training on a 2-core CPU with native bfloat16 (AMX), about
# five hours on an AVX2-only one (training/README.md, "v3's three stages from scratch"), then ~40 min of evals.
#
#   scripts/v3_retrain_and_eval.sh [MODEL_OUT]      # MODEL_OUT: the eval folder (default runs/eval-v3)
#
# runs/ and data/ may be links to a disk that outlives the machine (e.g. ~/.cache/alm/persist/{runs,data}).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
ALM=.venv/bin/alm
EVALS=${1:-runs/eval-v3}
MODEL=runs/alm-tiny-v3/stage3/model
FIRST_BUILD=32f4a46  # the commit whose builder made the first offline corpus (fingerprint e10e82b245968455)
log() { echo "[$(date +%H:%M:%S)] $*"; }

if [ ! -f data/corpus-v2/.done ]; then
  log "corpus v2"; $ALM data build --out data/corpus-v2; touch data/corpus-v2/.done
fi
log "stages 1-3"; $ALM train training/recipes/alm-tiny-v3 --resume --quiet
if [ ! -f data/offline-corpus/.done ]; then
  log "the first offline corpus, from its commit's builder"
  tree=$(mktemp -d)/alm-first-build
  git worktree add --detach "$tree" "$FIRST_BUILD"
  (cd "$tree" && "$OLDPWD/.venv/bin/python" -m alm data build --out "$OLDPWD/data/offline-corpus")
  git worktree remove --force "$tree"
  touch data/offline-corpus/.done
fi
OPTS=(--model "$MODEL" --no-meteor --no-probe --no-progress)
for b in offline-classification offline-captioning offline-hallucination offline-speech; do
  log "eval $b (first split, 40 items)"
  $ALM eval --benchmark "$b" --corpus data/offline-corpus --limit 40 "${OPTS[@]}" --out "$EVALS/$b"
done
log "eval held-out sources"
$ALM eval --benchmark offline-classification-ood --corpus data/corpus-v2 "${OPTS[@]}" --out "$EVALS/class-ood"
$ALM eval --benchmark offline-hallucination-ood --corpus data/corpus-v2 --limit 240 "${OPTS[@]}" \
  --out "$EVALS/halluc-ood"
$ALM eval --benchmark offline-speech-ood --corpus data/corpus-v2 --limit 60 "${OPTS[@]}" --out "$EVALS/speech-ood"
log "done: $EVALS/*/report.md"
