#!/usr/bin/env bash
# Everything `make test` checks, in order from fastest to slowest. Setup has already run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

# Each step prints the time since `make test` started, so a slow step is easy to find.
step() { printf '\n\033[1m== %s\033[0m  (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

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

step "clippy (native)"
cargo clippy --all-targets -- -D warnings

step "clippy (wasm32, with the web app)"
wasm_cargo clippy --target "$WASM_TARGET" --features web --lib --bins --test web -- -D warnings

step "clippy (wasm32 with threads: src/cpu/threads.rs)"
wasm_threads_cargo clippy --target "$WASM_TARGET" --features web --lib --bins -- -D warnings

step "PyTorch/timm parity fixtures (generated once, cached)"
SE_LENS_FIXTURES_LARGE=1 scripts/fixtures.sh

step "native tests (parity vs timm, CLI, loaders, GPU tests on lavapipe)"
cargo test

step "default model: Fashion-MNIST accuracy, our engine vs PyTorch (50 test images per class)"
LIMIT=50 scripts/accuracy.sh

step "build dist/ (release, both wasm builds)"
scripts/build-web.sh

step "wasm tests in headless Chromium"
# Release, like the app: std and the dependencies are the ones dist/ was just built with.
wasm_cargo test --release --target "$WASM_TARGET" --test web

step "e2e in headless Chromium (screenshots in target/e2e/)"
node --test tests/e2e/

step "done"
