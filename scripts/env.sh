# Sourced by every script: picks the toolchain and sets the environment for it.
#
# Where the active rustc has a wasm32-unknown-unknown std (a laptop with rustup), it is used as is.
# Otherwise (Debian 12, whose rustup has no wasm32 std to offer) every cargo call goes through
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
# Debian's rustc first, then cargo-installed tools (wasm-bindgen), then npm tools.
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
# SE_LENS_SIMD=relaxed: the relaxed-SIMD build instead (f32x4.relaxed_madd in the GEMM, which
# src/cpu/packed_gemm.rs says why). Only this crate is compiled with the feature, through its
# release profile's own rustflags (unstable: -Z profile-rustflags): std and the dependencies never
# emit relaxed SIMD, so both builds share them in one target directory and the relaxed build
# compiles this crate alone (a cold `make test` builds std and the dependencies twice, not four
# times). Both builds write the same target/…/release/app.wasm: use it before the other build.
# The flag reaches this crate's build script too (cargo gives a package's profile to it; a
# build-override cannot be set per package), so compiling build.rs for the host warns that the
# host has no `relaxed-simd` and ignores it: expected, and harmless.
# The page picks the relaxed build where the browser validates relaxed SIMD (www/selens.js).
relaxed_simd_args() {
    [ "${SE_LENS_SIMD:-}" = relaxed ] || return 0
    printf '%s\n' -Zprofile-rustflags --config 'profile.release.package.se-lens.rustflags=["-Ctarget-feature=+relaxed-simd"]'
}

wasm_cargo() {
    local relaxed
    mapfile -t relaxed < <(relaxed_simd_args)
    if [ "$SE_LENS_TOOLCHAIN" = debian ]; then
        CARGO_UNSTABLE_BUILD_STD=std,panic_abort cargo "${relaxed[@]}" "$@"
    elif [ ${#relaxed[@]} -gt 0 ]; then
        RUSTC_BOOTSTRAP=1 cargo "${relaxed[@]}" "$@"
    else
        cargo "$@"
    fi
}

# Runs cargo for the wasm32 build with threads (wasm atomics, a shared memory of up to 4 GiB that
# Web Workers import; see src/cpu/threads.rs): std is always rebuilt for it, in its own target
# directory so that the single-thread build's cache stays valid. SE_LENS_SIMD=relaxed as above.
wasm_threads_cargo() {
    local link="-C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296"
    local tls relaxed
    for tls in __wasm_init_tls __tls_size __tls_align __tls_base; do link+=" -C link-arg=--export=$tls"; done
    mapfile -t relaxed < <(relaxed_simd_args)
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals $link" \
        CARGO_UNSTABLE_BUILD_STD=std,panic_abort RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$ROOT/target/threads" \
        cargo "${relaxed[@]}" "$@"
}

# wasm-bindgen then wasm-opt -Oz for one wasm32 binary: OUT_DIR/NAME.js and NAME_bg.wasm.
# Extra arguments go to wasm-opt (-g keeps function names for profiles).
wasm_package() {
    local wasm="$1" out_dir="$2" name="$3"
    shift 3
    wasm-bindgen --target web --no-typescript --out-dir "$out_dir" --out-name "$name" "$wasm"
    # --no-inline keeps `apart`'s functions (src/lib.rs) out of their callers, before -Oz inlines.
    wasm-opt '--no-inline=*apart*' -Oz "$@" --enable-threads --enable-simd --enable-relaxed-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$out_dir/${name}_bg.wasm" -o "$out_dir/${name}_bg.wasm"
}

# The se-lens CLI for the scripts that run it (accuracy.sh, interventions.sh): the release build,
# or SE_LENS_CLI where it names one already built (make test: the dev build its native tests just
# linked, 10× slower on these few hundred images than the release build but already there, where
# a cold release build takes 4 minutes).
se_lens_cli() {
    if [ -n "${SE_LENS_CLI:-}" ]; then
        echo "$SE_LENS_CLI"
    else
        cargo build --release --quiet --bin se-lens >&2
        echo target/release/se-lens
    fi
}

# The wasm-bindgen version Cargo.lock pins; the CLI must match it exactly.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$ROOT/Cargo.lock"
}

# Runs a cargo command with clippy linting this crate inside the build: clippy-driver wraps rustc
# for the workspace only, as `cargo clippy` does for its check builds, so a build the tests need
# anyway is linted and nothing is compiled only to be linted (make test, make check).
linted() {
    RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)" CLIPPY_ARGS="-Dwarnings__CLIPPY_HACKERY__" "$@"
}

# A step of make test or make check: its name and the time since the script started, so a slow
# step is easy to find.
step() { printf '\n\033[1m== %s\033[0m  (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
