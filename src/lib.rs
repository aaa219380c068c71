//! SE Lens: Squeeze-and-Excitation networks with every channel's excitation exposed.
//!
//! Data flows one way: image → `preprocess` → `engine` (logits + taps) → view model → `ui`.
//! Everything builds without web crates; `ui`'s components exist only with the `web` feature.

pub mod cpu;
pub mod engine;
pub mod exec;
pub mod gpu;
pub mod model;
pub mod preprocess;
pub mod runtime;

pub mod ui;
