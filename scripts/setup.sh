#!/usr/bin/env bash
# Installs whatever is missing to build, serve and test SE Lens on Debian 12. Idempotent and
# quiet when everything is present. Only package registries are used (apt, crates.io, npm, PyPI).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

step() { printf '\033[1m[setup]\033[0m %s  (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------------------------
packages=(chromium chromium-driver mesa-vulkan-drivers libvulkan1 python3-venv curl dataset-fashion-mnist)
if [ "$SE_LENS_TOOLCHAIN" = debian ]; then
    packages+=(rustc-web cargo-web rust-web-src rust-web-llvm rust-web-clippy rustfmt-web lld-22)
fi
missing=()
# Node may come from Debian or from NodeSource (which bundles npm and conflicts with Debian's).
command -v npm >/dev/null || missing+=(nodejs npm)
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
# The toolchain may have just arrived: choose again.
source "$(dirname "$0")/env.sh"

# --- cargo-installed tools, pinned -----------------------------------------------------------
wb_version="$(wasm_bindgen_version)"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wb_version" ]; then
    step "cargo install wasm-bindgen-cli $wb_version (about 4 minutes on 2 cores, once)"
    # Not --locked: its lockfile pins a webpki-roots version crates.io no longer serves. Without
    # TLS (the test runner is given Debian's chromedriver, so it downloads nothing), and built for
    # a short compile: it runs for seconds, on the wasm of this project only.
    CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        cargo install wasm-bindgen-cli --version "=$wb_version" --no-default-features --force
fi

# --- npm: Playwright (driving Debian's chromium) and wasm-opt --------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "npm ci"
    npm ci --no-audit --no-fund
fi
