#!/usr/bin/env bash
# Builds the release web app into dist/ with Trunk (offline: pinned wasm-bindgen and wasm-opt).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
if [ "$SE_LENS_TOOLCHAIN" = debian ]; then
    export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi
# Trunk builds offline; fetch first (with build-std this includes std's own dependencies).
wasm_cargo fetch --target "$WASM_TARGET" --quiet
trunk build --release
node scripts/csp.mjs dist/index.html
ls -l dist/*.wasm | awk '{ printf "dist: %s (%.0f KiB)\n", $NF, $5 / 1024 }'
