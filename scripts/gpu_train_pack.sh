#!/usr/bin/env bash
# Pack what one training stage needs to run on the lent GPU machine with the real weights (see
# ../shared/notes/gpu.md): the stage's clips (its records', its validation records' and, for a tag-reading
# stage, the tagger's fitting clips) as Ogg/Opus at about 26 kbps in one blob, the corpus's record files (xz),
# the pinned weight-package files of the stage's bases, the init_from model, and cp312 wheels the machine lacks;
# all in one tar split into 60 MiB parts (each call carries at most 64 MiB with the tree) with SHA256SUMS.
#
#   bash scripts/gpu_train_pack.sh training/recipes/alm-tiny/stage2.yaml [KEY=VALUE ...]
#
# Then one run per part, the calls back to back (the machine stays warm 30 s after each):
#   run(command="bash scripts/gpu_train_stage.sh p00", carry=["runs/gpu-train/parts/p00",
#       "runs/gpu-train/parts/SHA256SUMS"], timeout_s=120)
#   ... the last part starts the stage in the background and waits for it (see scripts/gpu_train_stage.sh).
# The tree travels with every call: with alm-tiny's 15 MB of weights in it, parts of 60 MiB are 2 MB too big;
# the script says so and how to leave them behind for the calls.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 RECIPE.yaml [KEY=VALUE ...]" >&2; exit 2; }
OUT=runs/gpu-train
rm -rf "$OUT" && mkdir -p "$OUT/bundle/wheels" "$OUT/parts"
printf '%s\n' "$@" > "$OUT/bundle/stage-args.txt"
.venv/bin/pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$OUT/bundle/wheels" soundfile==0.14.0 cffi pycparser soxr==1.1.0 transformers==5.19.0 tokenizers==0.23.3 \
  gguf==0.19.0 peft==0.21.2 safetensors==0.8.0
HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python - "$OUT/bundle" "$@" <<'PY'
import io, json, lzma, shutil, sys, tarfile
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from alm.weights.sources import BUILTIN_BASES
from training.config import load_config
from training.data import select_eval_records, select_records
from training.engine import resolve_init
from training.tagger import balanced_subset, corpus_clips

bundle, recipe, overrides = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
c = load_config(recipe, overrides)
root = Path(c.data.root)
records = [*select_records(c.data, c.seed), *select_eval_records(c.data, c.seed)]
clips = {str(root / p) for r in records for p in r.sound}
init = resolve_init(c.model.init_from) if c.model.init_from else None
init_config = json.loads((init / "config.json").read_text()) if init else {}
if c.model.sound_tags or init_config.get("sound_tags"):  # a stage that fits the tagger, or keeps an earlier
    # stage's, reads its fitting clips too (`training.tagger.stage_tags` looks its cross-fitted tags up by them)
    fit = balanced_subset(corpus_clips(root, "train"), c.tagger.clips_per_label, c.seed,
                          by_source=c.tagger.balance == "source")
    clips |= set(fit.paths)
index, offset = [], 0  # [path inside the corpus folder, offset, bytes, samples]
with open(bundle / "audio.bin", "wb") as blob:
    for path in tqdm(sorted({str(Path(p).resolve()) for p in clips}), desc="opus", mininterval=5):
        wave, rate = sf.read(path, dtype="float32")
        data = io.BytesIO()
        sf.write(data, wave, rate, format="OGG", subtype="OPUS", compression_level=0.92)
        blob.write(data.getvalue())
        index.append([str(Path(path).relative_to(root.resolve())), offset, data.tell(), len(wave)])
        offset += data.tell()
(bundle / "audio.json").write_text(json.dumps(index))
(bundle / "corpus").mkdir()
for name in ("train.jsonl", "validation.jsonl", "clips.jsonl", "manifest.json"):
    if (root / name).is_file():
        (bundle / "corpus" / f"{name}.xz").write_bytes(lzma.compress((root / name).read_bytes(), preset=6))
(bundle / "corpus-root.txt").write_text(str(root) + "\n")
bases = {c.model.audio_base, c.model.text_base, c.model.sound_encoder}
if init:  # the earlier stage's model, unpacked there at the same path
    with tarfile.open(bundle / "init.tar", "w") as tar:
        tar.add(init, arcname=".")
    (bundle / "init-path.txt").write_text(str(init) + "\n")
    bases |= {init_config.get("audio_base"), init_config.get("text_base"), init_config.get("sound_encoder")}
for name in sorted(b for b in bases if b in BUILTIN_BASES):
    for f in BUILTIN_BASES[name].files:
        target = bundle / "wsite" / f.package.module / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f.resolve(), target)
        (bundle / "wsite" / f.package.module / "__init__.py").touch()  # find_spec locates it; never imported
    (bundle / "bases.txt").open("a").write(name + "\n")
print(f"{len(index)} clips, {offset / 1e6:.1f} MB of Opus; bases: {', '.join(sorted(b for b in bases if b in BUILTIN_BASES))}")
PY
tar -cf "$OUT/bundle.tar" -C "$OUT/bundle" .
split -b 60M -d -a 2 "$OUT/bundle.tar" "$OUT/parts/p"
rm -rf "$OUT/bundle.tar" "$OUT/bundle"
(cd "$OUT/parts" && sha256sum p?? > SHA256SUMS)
ls -la "$OUT/parts"
tree_bytes=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "the tree carries $((tree_bytes / 1000000)) MB with each call; a 60 MiB part fits beside at most 4 MB"
[ "$tree_bytes" -le 4000000 ] || echo "leave the large tracked weights behind for the calls (rm them, then git checkout -- alm/pretrained)"
