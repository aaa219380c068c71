#!/usr/bin/env bash
# Builds the release web app into dist/, a static folder with relative URLs: the app for wasm32
# four times (single-thread, and with wasm threads for pages that are cross-origin isolated; each
# with SIMD128 and with relaxed SIMD), each through the pinned wasm-bindgen and wasm-opt -Oz; the
# page (scripts/page.mjs) with the loader that picks one (www/selens.js says how); the embedded models and the samples; last, the service worker that caches all of
# it (scripts/service-worker.mjs). The build itself is offline once dependencies are fetched.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# dist/ is made afresh in target/dist-next, and replaces the old one once all of it is built.
next=target/dist-next
rm -rf "$next"
mkdir -p "$next/assets"

# Names carry the content's hash, so a host may cache them for ever.
package() {
    local wasm="$1" prefix="$2"
    local name="$prefix-$(sha256sum "$wasm" | cut -c1-16)"
    wasm_package "$wasm" "$next" "$name" >&2
    echo "$name"
}

# Each build is packaged before the next: the relaxed-SIMD builds write the same app.wasm
# (scripts/env.sh says why). (rustc warns that the atomics target feature is unstable: it is, and
# the build depends on it.)
app() { SE_LENS_SIMD=$1 $2 build --release --quiet --target "$WASM_TARGET" --features web --bin app; }
app simd128 wasm_cargo
single="$(package "target/$WASM_TARGET/release/app.wasm" app)"
app simd128 wasm_threads_cargo
threaded="$(package "target/threads/$WASM_TARGET/release/app.wasm" app-threads)"
app relaxed wasm_cargo
single_relaxed="$(package "target/$WASM_TARGET/release/app.wasm" app-relaxed)"
app relaxed wasm_threads_cargo
threaded_relaxed="$(package "target/threads/$WASM_TARGET/release/app.wasm" app-threads-relaxed)"

rm -rf dist
mv "$next" dist
cp -r assets/models assets/samples dist/assets/
node scripts/page.mjs dist "$single" "$threaded" "$single_relaxed" "$threaded_relaxed"
node scripts/service-worker.mjs dist
ls -l dist/*.wasm | awk '{ printf "dist: %s (%.0f KiB)\n", $NF, $5 / 1024 }'
