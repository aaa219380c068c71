#!/usr/bin/env bash
# Builds the release web app into dist/, a static folder with relative URLs: the app for wasm32
# four times (single-thread, and with wasm threads for pages that are cross-origin isolated; each
# with SIMD128 and with relaxed SIMD), each through the pinned wasm-bindgen and wasm-opt -Oz; the
# page (scripts/page.mjs) with the loader that picks one (www/selens.js says how); the embedded models and the samples; last, the service worker that caches all of
# it (scripts/service-worker.mjs). The build itself is offline once dependencies are fetched.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# Names carry the content's hash, so a host may cache them for ever.
package() {
    local wasm="$1" prefix="$2"
    local name="$prefix-$(sha256sum "$wasm" | cut -c1-16)"
    wasm_package "$wasm" dist "$name" >&2
    echo "$name"
}

# (rustc warns that the atomics target feature is unstable: it is, and the build depends on it.)
for simd in simd128 relaxed; do
    SE_LENS_SIMD=$simd wasm_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin app
    SE_LENS_SIMD=$simd wasm_threads_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin app
done

rm -rf dist
mkdir -p dist/assets
single="$(package "target/$WASM_TARGET/release/app.wasm" app)"
threaded="$(package "target/threads/$WASM_TARGET/release/app.wasm" app-threads)"
single_relaxed="$(package "target/relaxed/$WASM_TARGET/release/app.wasm" app-relaxed)"
threaded_relaxed="$(package "target/threads-relaxed/$WASM_TARGET/release/app.wasm" app-threads-relaxed)"
cp -r assets/models assets/samples dist/assets/
node scripts/page.mjs dist "$single" "$threaded" "$single_relaxed" "$threaded_relaxed"
node scripts/service-worker.mjs dist
ls -l dist/*.wasm | awk '{ printf "dist: %s (%.0f KiB)\n", $NF, $5 / 1024 }'
