#!/usr/bin/env bash
# Makes (or finds) the PyTorch/timm reference fixtures for the parity tests.
#
#   scripts/fixtures.sh                            # default cases
#   SE_LENS_FIXTURES_LARGE=1 scripts/fixtures.sh   # plus seresnet101/152, seresnext101, legacy_seresnet152,
#                                                  # and the ONNX exports (tools/make_onnx_fixtures.py --zoo)
#
# Links .venv (scripts/venv.sh), then runs tools/make_fixtures.py for whatever cases are missing.
# The output folder is
#   ${SE_LENS_FIXTURES:-~/.cache/se-lens/fixtures}/<first 16 hex of sha256(make_fixtures.py +
#   convert_torchvision.py + requirements.txt)>
# so editing any of them gives a fresh folder. The folder is the last (only) line on stdout and is also
# written to target/fixtures-dir for the Rust tests; progress goes to stderr; nothing when all is there.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

say() { printf '\033[1m[fixtures]\033[0m %s\n' "$*" >&2; }

generator=tools/make_fixtures.py
requirements=tools/requirements.txt
venv=.venv
scripts/venv.sh

hash="$(cat "$generator" tools/convert_torchvision.py "$requirements" | sha256sum | cut -c1-16)"
dir="${SE_LENS_FIXTURES:-$HOME/.cache/se-lens/fixtures}/$hash"
large=()
[ "${SE_LENS_FIXTURES_LARGE:-0}" = 1 ] && large=(--large)

if ! "$venv/bin/python" "$generator" "$dir" "${large[@]}" --check; then
    say "generating into $dir"
    start=$SECONDS
    "$venv/bin/python" "$generator" "$dir" "${large[@]}" --missing >&2
    say "done in $((SECONDS - start))s"
    # Older folders are never read again; say so (other checkouts may still use them, so keep them).
    for old in "$(dirname "$dir")"/*; do
        [ "$old" != "$dir" ] && [ -f "$old/manifest.json" ] &&
            say "stale: $old ($(du -sh "$old" | cut -f1)); remove it when no checkout needs it"
    done
fi

mkdir -p target
if [ "${SE_LENS_FIXTURES_LARGE:-0}" = 1 ]; then
    # The ONNX exports: their own folder (onnx-<hash of their generator, make_fixtures.py's
    # randomisation and the requirements>), written to target/onnx-fixtures-dir.
    onnx_hash="$(cat tools/make_onnx_fixtures.py "$generator" "$requirements" | sha256sum | cut -c1-16)"
    onnx_dir="$(dirname "$dir")/onnx-$onnx_hash"
    if ! "$venv/bin/python" tools/make_onnx_fixtures.py "$onnx_dir" --zoo --check; then
        say "exporting ONNX models into $onnx_dir"
        start=$SECONDS
        "$venv/bin/python" tools/make_onnx_fixtures.py "$onnx_dir" --zoo >&2
        say "done in $((SECONDS - start))s"
    fi
    printf '%s\n' "$onnx_dir" > target/onnx-fixtures-dir
fi
if [ "$(cat target/fixtures-dir 2>/dev/null)" != "$dir" ]; then
    printf '%s\n' "$dir" > target/fixtures-dir
fi
printf '%s\n' "$dir"
