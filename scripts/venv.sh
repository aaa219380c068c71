#!/usr/bin/env bash
# Makes .venv (pinned torch, timm, … from tools/requirements.txt) for the scripts that run
# tools/*.py; each calls this first. The environment itself lives in
#   ${SE_LENS_CACHE:-~/.cache/se-lens}/venv/<first 16 hex of sha256(requirements.txt)>
# and .venv links to it, so a fresh clone of the same requirements (CI's) installs nothing, and
# editing requirements.txt gives a new environment.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

requirements=tools/requirements.txt
hash="$(sha256sum "$requirements" | cut -c1-16)"
venv="${SE_LENS_CACHE:-$HOME/.cache/se-lens}/venv/$hash"
say() { printf '\033[1m[venv]\033[0m %s\n' "$*" >&2; }

mkdir -p "$(dirname "$venv")"
# One installer at a time (two checkouts may start together); the stamp marks a finished install.
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    say "python3 -m venv $venv"
    python3 -m venv "$venv" >&2
    say "pip install -r $requirements (torch pulls ~3 GB of CUDA wheels; a few minutes)"
    start=$SECONDS
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2
    touch "$venv/.complete"
    say "done in $((SECONDS - start))s"
fi
exec 9>&-

if [ "$(readlink .venv 2>/dev/null)" != "$venv" ]; then
    rm -rf .venv
    ln -s "$venv" .venv
fi
