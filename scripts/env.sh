# Sourced by every script: picks the toolchain and sets the environment for it.
#
# Where the active rustc has a wasm32-unknown-unknown std (a laptop with rustup), it is used as is.
# Otherwise (these Debian 12 machines, see ../shared/TOOLCHAIN.md) every cargo call goes through
# Debian's rustc-web, and wasm builds rebuild std from rust-web-src with -Z build-std.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_TARGET=wasm32-unknown-unknown

if sysroot="$(rustc --print sysroot 2>/dev/null)" && [ -d "$sysroot/lib/rustlib/$WASM_TARGET" ]; then
    SE_LENS_TOOLCHAIN=rustup
else
    SE_LENS_TOOLCHAIN=debian
    export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
    # One value for every cargo call: toggling it would invalidate the build cache.
    export RUSTC_BOOTSTRAP=1
fi
export SE_LENS_TOOLCHAIN WASM_TARGET
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Debian's rustc first, then cargo-installed tools (wasm-bindgen, trunk), then npm tools.
[ "$SE_LENS_TOOLCHAIN" = debian ] && export PATH="/usr/bin:$PATH"

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# The CPU path's SIMD on wasm32 (every browser with WebAssembly SIMD: Chrome 91+, Firefox 89+, Safari 16.4+).
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128"
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=120
# Mesa (lavapipe) wants a private runtime dir.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/se-lens-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# Runs cargo for wasm32 with whatever that toolchain needs (std built from source on Debian).
wasm_cargo() {
    if [ "$SE_LENS_TOOLCHAIN" = debian ]; then
        CARGO_UNSTABLE_BUILD_STD=std,panic_abort cargo "$@"
    else
        cargo "$@"
    fi
}

# The wasm-bindgen version Cargo.lock pins; the CLI must match it exactly.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$ROOT/Cargo.lock"
}

TRUNK_VERSION=0.22.1
