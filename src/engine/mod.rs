//! The engine: tensors, ops, taps, and the choice between GPU and CPU.

mod probe;
mod tensor;
mod tolerance;

pub use probe::{run_probe, BackendPreference, ProbeReport};
pub use tensor::Tensor;
pub use tolerance::{Mismatch, Tolerance};
