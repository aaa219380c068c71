//! SE Lens: Squeeze-and-Excitation networks with every channel's excitation exposed.
//!
//! Data flows one way: image → `preprocess` → `engine` (logits + taps) → view model → `ui`.
//! Everything builds without web crates; `ui`'s components exist only with the `web` feature.

// The threaded wasm build (wasm atomics need a std rebuilt from source, so a nightly-capable
// toolchain anyway) waits and wakes with the atomics instructions themselves.
#![cfg_attr(
    all(target_arch = "wasm32", target_feature = "atomics"),
    feature(stdarch_wasm_atomic_wait)
)]

pub mod cpu;
pub mod engine;
pub mod exec;
pub mod gpu;
pub mod model;
pub mod preprocess;
pub mod runtime;

pub mod ui;

/// Runs `f` in a function of its own in the wasm binary, never inlined into its caller: LLVM's
/// `#[inline(never)]`, and wasm-opt's `--no-inline=*apart*` (scripts/env.sh, `wasm_package`),
/// which finds it by this name. Browsers compile a wasm function whole on its first call (V8's
/// lazy compilation), so a branch inlined into a function on the way to the app's first result is
/// compiled whether or not it runs: `apart` keeps such branches (the builders of the model
/// families not loaded, the jobs not run) off that way.
#[inline(never)]
pub fn apart<T>(f: impl FnOnce() -> T) -> T {
    f()
}
