#!/usr/bin/env bash
# `make check`: the contributor's quick loop (a few minutes warm): rustfmt, clippy on every target
# (native, wasm32, wasm32 with threads), and the native tests on the committed fixtures (unit,
# parity with timm on the tiny models, CLI, loaders, GPU on lavapipe). Not the full-size parity
# fixtures (they need the torch venv), the wasm tests, dist/ or the e2e suite: `make test` runs all.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

step "rustfmt"
cargo fmt --check

step "clippy: wasm32, and wasm32 with threads"
# (what make test builds for wasm32: the library, the wasm tests with every binary, the app)
wasm_cargo clippy --quiet --target "$WASM_TARGET" --features web --lib --bins --test web -- -D warnings
wasm_threads_cargo clippy --quiet --target "$WASM_TARGET" --features web --bin app -- -D warnings

step "native tests on the committed fixtures, linted"
# The same build as make test's, so each warms the other's cache.
linted cargo test --all-targets -- --skip full_size

step "done"
