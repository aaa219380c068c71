#!/usr/bin/env bash
# Makes .venv from tools/requirements.txt (pinned torch, timm, …) when it is missing or older than
# that file. Every script that runs tools/*.py calls this first.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

requirements=tools/requirements.txt
venv=.venv
stamp="$venv/.requirements-stamp"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ]; then
    if [ ! -x "$venv/bin/python" ]; then
        printf '\033[1m[venv]\033[0m python3 -m venv %s\n' "$venv" >&2
        python3 -m venv "$venv" >&2
    fi
    printf '\033[1m[venv]\033[0m pip install -r %s (torch pulls ~3 GB of CUDA wheels; a few minutes)\n' "$requirements" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2
    touch "$stamp"
fi
