#!/usr/bin/env bash
# Everything `make test` checks, in order from fastest to slowest. Setup has already run.
# (clippy runs inside the builds below, on every target: native, wasm32, wasm32 with threads.)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

step "rustfmt"
cargo fmt --check

step "the engine builds without web crates"
# Natively nothing web may be reachable; on wasm32 wgpu needs web-sys, but never yew.
if cargo tree -e normal --no-default-features --prefix none | grep -Eq '^(yew|web-sys|js-sys) ' ||
    cargo tree -e normal --no-default-features --target "$WASM_TARGET" --prefix none | grep -q '^yew '; then
    echo "the engine's dependency tree reaches web crates without the web feature" >&2
    exit 1
fi
echo ok

step "PyTorch/timm parity fixtures (generated once, cached)"
SE_LENS_FIXTURES_LARGE=1 scripts/fixtures.sh

step "native tests, linted (parity vs timm, CLI, loaders, GPU tests on lavapipe)"
linted cargo test --all-targets

# The next two steps run the CLI these tests just built (scripts/env.sh: se_lens_cli).
export SE_LENS_CLI=target/debug/se-lens

step "default model: Fashion-MNIST accuracy, our engine vs PyTorch (50 test images per class)"
LIMIT=50 scripts/accuracy.sh

step "SE block interventions: our engine vs PyTorch forward hooks (2 images per class)"
scripts/interventions.sh

step "build dist/, linted (release, all four wasm builds; and the bench page's wasm)"
linted scripts/build-web.sh
linted wasm_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin bench-web

step "wasm tests in headless Chromium, linted: the SIMD128 build, then the relaxed-SIMD build"
# Release, like the app: std and most dependencies are the ones dist/ was just built with.
linted wasm_cargo test --release --target "$WASM_TARGET" --test web
SE_LENS_SIMD=relaxed linted wasm_cargo test --release --target "$WASM_TARGET" --test web

step "e2e in headless Chromium (screenshots in target/e2e/)"
node --test tests/e2e/

step "done"
