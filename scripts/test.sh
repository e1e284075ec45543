#!/usr/bin/env bash
# Sets up alm with its test extras, then runs the whole test suite (unit + integration).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not integration" for the fast unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./setup.sh test
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -ra "$@"
