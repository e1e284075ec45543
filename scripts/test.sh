#!/usr/bin/env bash
# Sets up alm with its test extras (and the separate vLLM venv for the vLLM tests), then runs the
# whole test suite (unit + integration). Extra arguments go to pytest, e.g.
#   scripts/test.sh -m "not integration"     the fast unit tests only
# Set ALM_SKIP_VLLM=1 to skip building .venv-vllm (its tests then skip with a reason).
set -euo pipefail
cd "$(dirname "$0")/.."
./setup.sh test
if [ -z "${ALM_SKIP_VLLM:-}" ]; then
  bash serve/vllm/setup_vllm_env.sh
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -ra "$@"
