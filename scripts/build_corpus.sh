#!/usr/bin/env bash
# The shipped alm-tiny's corpus, corpus v4 (today's default build: `alm data build --out data/corpus-v4` gives the same
# fingerprint, 3d163b53aafdc7b9): corpus v2's sources plus qabcs and the named single recordings
# (instruction_data/adapters/debian/effects.py: dogs, cats, farm animals, gulls, thunder, crowds...), the split rule
# that trains whole any class recorded in fewer than 3 source groups (so one dog recording is not drawn into
# validation), and no-speech answers that name the sound (RECORDS_VERSION 2 in instruction_data/build/config.py).
# Corpus v3 (fingerprint bdf97630a8a659c0; the alm-tiny before it) is the same clips and questions with the older
# no-speech answers: the build of commit f704b5c. Their test_ood splits hold the same records but for 53 answers about
# clips without speech.
# Rendered audio of an existing earlier corpus (data/corpus-v4, v3, else v2; not the folder being built) is hard-linked
# in first, so only new clips are decoded. Corpus v5 (`OUT=data/corpus-v5 scripts/build_corpus.sh --passages 500
# --phone-speech 600 --whole-speech`) is v4 with what `scripts/retrain_alm_tiny.sh`'s CORPUS_V5 trains on.
#
#   scripts/build_corpus.sh                        # -> data/corpus-v4
#   OUT=data/mine scripts/build_corpus.sh --seed 1  # elsewhere, with `alm data build` options
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
OUT=${OUT:-data/corpus-v4}
for earlier in data/corpus-v4 data/corpus-v3 data/corpus-v2; do
  if [ -d "$earlier/audio" ] && [ ! -d "$OUT/audio" ] && [ "$earlier" != "$OUT" ]; then
    mkdir -p "$OUT" && cp -al "$earlier/audio" "$OUT/audio"
  fi
done
.venv/bin/alm data build --out "$OUT" "$@"
