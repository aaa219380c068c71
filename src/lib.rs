//! SE Lens: Squeeze-and-Excitation networks with every channel's excitation exposed.
//!
//! Data flows one way: image → `preprocess` → `engine` (logits + taps) → view model → `ui`.
//! Everything but `ui` builds without web crates; `ui` exists only with the `web` feature.

pub mod cpu;
pub mod engine;
pub mod gpu;
pub mod model;
pub mod preprocess;

#[cfg(feature = "web")]
pub mod ui;
