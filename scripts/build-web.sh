#!/usr/bin/env bash
# Builds the release web app into dist/: Trunk's single-thread build, plus the build with wasm
# threads that the page loads where it is cross-origin isolated (scripts/loader.mjs). Offline:
# pinned wasm-bindgen and wasm-opt.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
if [ "$SE_LENS_TOOLCHAIN" = debian ]; then
    export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi
# Trunk builds offline; fetch first (with build-std this includes std's own dependencies).
wasm_cargo fetch --target "$WASM_TARGET" --quiet
trunk build --release

# (rustc warns that the atomics target feature is unstable: it is, and the build depends on it.)
wasm_threads_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin app
wasm="target/threads/$WASM_TARGET/release/app.wasm"
name="app-threads-$(sha256sum "$wasm" | cut -c1-16)"
wasm_package "$wasm" dist "$name"

node scripts/loader.mjs dist/index.html "$name"
node scripts/csp.mjs dist/index.html
ls -l dist/*.wasm | awk '{ printf "dist: %s (%.0f KiB)\n", $NF, $5 / 1024 }'
