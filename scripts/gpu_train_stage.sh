#!/usr/bin/env bash
# Device side of scripts/gpu_train_pack.sh: stage one part per call, and once every part is there, check them,
# unpack, and train the packed stage in the background (it outlives the call; the machine stays while calls
# follow within 30 s), waiting up to WAIT_S seconds. A finished stage's model comes back under $OUT/model
# (aligner, LoRA and tagger weights apart, the rest in rest.tar; its log beside them).
#
#   run(command="bash scripts/gpu_train_stage.sh p00", carry=["runs/gpu-train/parts/p00",
#       "runs/gpu-train/parts/SHA256SUMS"], timeout_s=120)            # one call per part, back to back
#   run(command="bash scripts/gpu_train_stage.sh wait 540", timeout_s=560)   # until the stage ends
# Back here, with F the reply's files_at and M the stage's model folder:
#   mkdir -p M/lora && tar -xf F/model/rest.tar -C M && cp F/model/adapter_model.safetensors M/lora/ &&
#   cp F/model/aligner.safetensors F/model/tagger.safetensors M/      (tagger: only for a tag-reading stage)
# Checked on CPU here end to end (SKIP_WHEELS=1, python3 = the venv's, a 2-step stage 1): pack, five parts,
# weights prepared from the packaged files, audio decoded, the stage trained, its files collected.
set -uo pipefail
cd "$(dirname "$0")/.."
PART=${1:?usage: gpu_train_stage.sh PART|wait [WAIT_S]}
WAIT_S=${2:-420}
STAGE=/tmp/alm-stage RUN=/tmp/alm-run
mkdir -p "$STAGE" "$RUN"
if [ "$PART" != wait ]; then
  cp "runs/gpu-train/parts/$PART" runs/gpu-train/parts/SHA256SUMS "$STAGE/" || exit 1
fi
have=$(cd "$STAGE" && ls p?? 2>/dev/null | wc -l); need=$(wc -l < "$STAGE/SHA256SUMS")
echo "parts here: $have of $need"
[ "$have" -lt "$need" ] && exit 0

if [ ! -f "$RUN/started" ]; then
  (cd "$STAGE" && sha256sum -c --quiet SHA256SUMS) || { echo "a part does not match SHA256SUMS"; exit 1; }
  rm -rf "$RUN"/* && mkdir -p "$RUN/b" "$RUN/repo"
  cp -r alm instruction_data training eval serve alm_cli.py pyproject.toml "$RUN/repo/"
  cat "$STAGE"/p?? | tar -xf - -C "$RUN/b" || { echo "the bundle does not unpack"; exit 1; }
  touch "$RUN/started"
  setsid nohup bash -c '
    set -uo pipefail
    RUN='"$RUN"'; B=$RUN/b; cd $RUN/repo
    step() { echo "$(date +%T) $*" >> $RUN/steps.log; }
    fail() { step "FAILED: $*"; echo 1 > $RUN/done; exit 1; }
    [ "${SKIP_WHEELS:-0}" = 1 ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --upgrade --target /tmp/site $B/wheels/*.whl > $RUN/pip.log 2>&1 || fail pip  # SKIP_WHEELS=1: a local dry run
    export PYTHONPATH=/tmp/site:$B/wsite:$RUN/repo HF_HUB_OFFLINE=1 ALM_HOME=/tmp/alm-home PYTHONUNBUFFERED=1 \
      TOKENIZERS_PARALLELISM=false
    step weights; python3 -m alm weights prepare $(cat $B/bases.txt) > $RUN/weights.log 2>&1 || fail weights
    step corpus; root=$(cat $B/corpus-root.txt); mkdir -p $root
    for f in $B/corpus/*.xz; do xz -dc $f > $root/$(basename $f .xz) || fail "xz $f"; done
    python3 - $B $root > $RUN/audio.log 2>&1 <<"PY" || fail audio
import io, json, sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import soundfile as sf
blob, root = Path(sys.argv[1]) / "audio.bin", Path(sys.argv[2])
def decode(entry):
    path, offset, size, frames = entry  # path inside the corpus folder
    with open(blob, "rb") as fh:
        fh.seek(offset)
        wave, rate = sf.read(io.BytesIO(fh.read(size)), dtype="float32")
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(root / path, wave[:frames], rate, subtype="PCM_16")
    return len(wave) >= frames
entries = json.loads((Path(sys.argv[1]) / "audio.json").read_text())
with ProcessPoolExecutor(12) as pool:
    whole = sum(pool.map(decode, entries, chunksize=64))
print(f"{len(entries)} clips decoded, {whole} at their full length")
PY
    if [ -f $B/init.tar ]; then init=$(cat $B/init-path.txt); mkdir -p $init && tar -xf $B/init.tar -C $init || fail init; fi
    step train; mapfile -t args < $B/stage-args.txt
    recipe=${args[0]}; sets=(); for kv in "${args[@]:1}"; do sets+=(--set "$kv"); done
    python3 -m alm train "$recipe" "${sets[@]}" > $RUN/stage.log 2>&1 || fail train
    python3 -c "import sys; from training.config import load_config; print(load_config(sys.argv[1], sys.argv[2:]).model_dir)" \
      "$recipe" "${args[@]:1}" > $RUN/model-dir.txt || fail model-dir
    step done; echo 0 > $RUN/done
  ' > "$RUN/background.log" 2>&1 < /dev/null &
fi

for _ in $(seq 1 $((WAIT_S / 10))); do [ -f "$RUN/done" ] && break; sleep 10; done
cat "$RUN/steps.log" 2>/dev/null; tail -c 1500 "$RUN/stage.log" 2>/dev/null; echo
if [ -f "$RUN/done" ] && [ "$(cat "$RUN/done")" = 0 ] && [ -n "${OUT:-}" ]; then
  model=$(cat "$RUN/model-dir.txt"); [[ $model = /* ]] || model="$RUN/repo/$model"
  mkdir -p "$OUT/model"
  cp "$model/aligner.safetensors" "$RUN/stage.log" "$OUT/model/"
  [ -f "$model/lora/adapter_model.safetensors" ] && cp "$model/lora/adapter_model.safetensors" "$OUT/model/"
  [ -f "$model/tagger.safetensors" ] && cp "$model/tagger.safetensors" "$OUT/model/"
  tar -cf "$OUT/model/rest.tar" -C "$model" --exclude=./aligner.safetensors --exclude=./lora/adapter_model.safetensors \
    --exclude=./tagger.safetensors .
  ls -la "$OUT/model"
elif [ -f "$RUN/done" ]; then
  tail -n 30 "$RUN"/*.log
fi
