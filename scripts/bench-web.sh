#!/usr/bin/env bash
# The browser part of `make bench`: SE Lens vs ONNX Runtime Web on the same SE-ResNet-50 weights in
# headless Chromium, plus the app's bundle size, time to first result and wasm memory. Builds the
# bench page (www/bench/, not part of the app) into target/bench-site/, then runs
# scripts/bench-web.mjs, which writes target/bench-web.json (RUNS, ROUNDS, GPU_RUNS as for bench.sh;
# PROFILE=1 adds a CPU profile of SE Lens's wasm path).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

fixtures="$(scripts/fixtures.sh | tail -n 1)"
site=target/bench-site
mkdir -p "$site/models"

# The app as users get it (dist/), for its size and its time to first result.
scripts/build-web.sh >&2

# SE Lens's engine with JavaScript exports (src/bin/bench-web.rs), built as the app is: release,
# wasm-opt -Oz; on one thread (pkg/) and with wasm threads (pkg-threads/), each with SIMD128 and
# with relaxed SIMD (pkg-relaxed/, pkg-threads-relaxed/), each packaged before the next build
# (the relaxed builds write the same bench-web.wasm: scripts/env.sh).
# PROFILE=1 (see scripts/bench-web.mjs) keeps the function names for the profile.
names=()
[ "${PROFILE:-0}" = 1 ] && names=(-g)
for simd in simd128 relaxed; do
    suffix=""
    [ $simd = relaxed ] && suffix=-relaxed
    SE_LENS_SIMD=$simd wasm_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin bench-web
    wasm_package "target/$WASM_TARGET/release/bench-web.wasm" "$site/pkg$suffix" bench-web "${names[@]}"
    SE_LENS_SIMD=$simd wasm_threads_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin bench-web
    wasm_package "target/threads/$WASM_TARGET/release/bench-web.wasm" "$site/pkg-threads$suffix" bench-web "${names[@]}"
done

cp www/bench/index.html www/bench/bench.mjs "$site/"
ln -sfn "$ROOT/node_modules/onnxruntime-web/dist" "$site/ort"
# SE-ResNet-50 (every engine), and two mobile SE networks (the wasm CPU paths; scripts/bench-web.mjs).
for model in seresnet50 mobilenetv3_large_100 efficientnet_b0; do
    ln -sfn "$fixtures/$model" "$site/models/$model"
    # The same weights in ONNX (from the same timm folder), exported again when the fixtures change.
    onnx="$site/models/$model.onnx"
    if [ ! -f "$onnx" ] || [ "$fixtures/$model/model.safetensors" -nt "$onnx" ]; then
        .venv/bin/python -W ignore tools/export_onnx.py "$fixtures/$model" "$onnx" >&2
    fi
done

node scripts/bench-web.mjs "$site" dist target/bench-web.json
