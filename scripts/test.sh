#!/usr/bin/env bash
# Everything `make test` checks, in order from fastest to slowest. Setup has already run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "rustfmt"
cargo fmt --check

step "the engine builds without web crates"
if cargo tree -e normal --target all --no-default-features | grep -Eq '^\S* ?(yew|web-sys) '; then
    echo "yew/web-sys reached the engine's dependency tree" >&2
    exit 1
fi
cargo tree -e normal --no-default-features --prefix none | grep -Eq '^(yew|web-sys) ' &&
    { echo "the engine depends on yew/web-sys" >&2; exit 1; }

step "clippy (native)"
cargo clippy --all-targets -- -D warnings

step "clippy (wasm32, with the web app)"
wasm_cargo clippy --target "$WASM_TARGET" --features web --lib --bin app --test web -- -D warnings

step "native tests (GPU tests on lavapipe)"
cargo test

step "wasm tests in headless Chromium"
wasm_cargo test --target "$WASM_TARGET" --test web

step "build dist/ with Trunk (release)"
scripts/build-web.sh

step "e2e in headless Chromium (screenshots in target/e2e/)"
node --test tests/e2e/
