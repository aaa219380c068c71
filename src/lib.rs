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
