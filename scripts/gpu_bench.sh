#!/usr/bin/env bash
# The issue-12 benchmarks on a CUDA machine, with random weights of alm-tiny's shapes (speed does not depend on
# weight values). Prepare the carry folder here first (bash scripts/gpu_stage.sh), then on the device:
#   run(command="bash scripts/gpu_bench.sh", carry=["runs/gpu-carry"], timeout_s=540)
# Each part writes its JSON to $OUT as soon as it ends, so a timeout keeps the parts that finished.
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=runs/gpu-carry
OUT="${OUT:-runs/gpu-out}"; mkdir -p "$OUT"
pip install --quiet --no-index --no-deps --target /tmp/site "$CARRY"/wheels/*.whl 2>&1 | tail -2
export PYTHONPATH="/tmp/site:$PWD" HF_HUB_OFFLINE=1 ALM_HOME=/tmp/alm-home TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
python - "$CARRY" <<'PY'
# Random-weight bases where alm's built-in names resolve ($ALM_HOME/bases/<name> + the marker of its pins).
import json, shutil, sys
from pathlib import Path
import torch
from transformers import AutoConfig, AutoModelForCausalLM, WhisperConfig, WhisperForConditionalGeneration
from alm.weights.cache import MARKER
from alm.weights.sources import BUILTIN_BASES
carry, home = Path(sys.argv[1]), Path("/tmp/alm-home/bases")
for name, build in (("whisper-base", lambda d: WhisperForConditionalGeneration(WhisperConfig.from_pretrained(d))),
                    ("smollm2-135m-instruct", lambda d: AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(d)))):
    target = home / name
    if (target / MARKER).is_file():
        continue
    shutil.copytree(carry / "bases" / name, target, dirs_exist_ok=True)
    torch.manual_seed(0)
    build(target).save_pretrained(target)
    (target / MARKER).write_text(json.dumps(BUILTIN_BASES[f"builtin:{name}"].pins(), indent=2, sort_keys=True) + "\n")
print("bases ready")
PY
# 1. answers: reference (fp32 peft + generate) vs fast (bf16, merged, static cache + compiled decode)
timeout 200 python -m alm bench answer --device cuda --clip chord --reps 5 --decode-tokens 64 --out "$OUT" 2>&1 | tail -25
# 2. training input pipeline: full per-step collation vs stored ids + workers + pinned memory, batch 64
timeout 200 python -m alm bench train --device cuda --corpus "$CARRY/corpus" --batch-size 64 --steps 8 --out "$OUT" 2>&1 | tail -8
ls -la "$OUT"
