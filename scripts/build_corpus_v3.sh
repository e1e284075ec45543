#!/usr/bin/env bash
# Corpus v3, the shipped alm-tiny's (today's default build: `alm data build --out data/corpus-v3` gives the same
# fingerprint, bdf97630a8a659c0): corpus v2's sources plus qabcs and the named single recordings
# (instruction_data/adapters/debian/effects.py: dogs, cats, farm animals, gulls, thunder, crowds...), and the split
# rule that trains whole any class recorded in fewer than 3 source groups (so one dog recording is not drawn into
# validation). Its test_ood holds out the same sources as v2's but keeps more items: classes training now sees.
# Today's builder writes corpus v4's records (RECORDS_VERSION 2, fingerprint 3d163b53aafdc7b9: the no-speech answers
# name the sound; instruction_data/build/config.py); corpus v3's own are the build of commit f704b5c.
# Rendered audio of an existing data/corpus-v2 is hard-linked in first, so only new clips are decoded.
#
#   scripts/build_corpus_v3.sh            # -> data/corpus-v3
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
OUT=${OUT:-data/corpus-v3}
if [ -d data/corpus-v2/audio ] && [ ! -d "$OUT/audio" ]; then
  mkdir -p "$OUT" && cp -al data/corpus-v2/audio "$OUT/audio"
fi
.venv/bin/alm data build --out "$OUT" "$@"
