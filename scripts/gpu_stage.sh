#!/usr/bin/env bash
# Prepare what a GPU benchmark run needs beside the tree (see scripts/gpu_bench.sh and ../shared/notes/gpu.md):
# cp312 wheels the GPU machine lacks, alm-tiny's base configs and tokenizers (weights are made random there) and
# a ~130-clip slice of the offline corpus. Result: runs/gpu-carry (well under the 64 MiB that travels).
# Then: run(command="bash scripts/gpu_bench.sh", carry=["runs/gpu-carry"], timeout_s=540).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/gpu-carry
rm -rf "$OUT" && mkdir -p "$OUT/wheels" "$OUT/bases/whisper-base" "$OUT/bases/smollm2-135m-instruct"
.venv/bin/pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 -d "$OUT/wheels" \
  soundfile==0.14.0 cffi pycparser soxr==1.1.0 transformers==5.19.0 tokenizers==0.23.3
HOME_BASES="${ALM_HOME:-$HOME/.cache/alm}/bases"
for b in whisper-base smollm2-135m-instruct; do
  (cd "$HOME_BASES/$b" && cp -- *.json *.jinja "$OLDPWD/$OUT/bases/$b/" 2>/dev/null || true)
done
.venv/bin/python - "$OUT" <<'PY'
import json, random, shutil, sys
from pathlib import Path
out = Path(sys.argv[1]) / "corpus"
src = Path("data/offline-corpus")
(out / "audio").mkdir(parents=True)
shutil.copy(src / "manifest.json", out / "manifest.json")
random.seed(0)
rows = [json.loads(l) for l in (src / "train.jsonl").read_text().splitlines() if l]
rows = [r for r in rows if r["task"] in ("classification", "caption") and len(r["sound"]) == 1]
keep = random.sample(rows, 400)
clips = sorted({r["sound"][0] for r in keep})[:130]
keep = [r for r in keep if r["sound"][0] in clips]
for c in clips:
    (out / c).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / c, out / c)
(out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
(out / "validation.jsonl").write_text("")
(out / "test.jsonl").write_text("")
print(f"{len(clips)} clips, {len(keep)} records")
PY
du -sh "$OUT"
