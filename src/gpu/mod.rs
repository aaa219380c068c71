//! The wgpu backend: WebGPU in the browser, Vulkan natively.
//!
//! One op = `<op>.rs` + `<op>.wgsl` side by side; pipelines are built lazily and cached.

mod context;
mod global_avg_pool;
mod pipelines;

pub use context::{GpuContext, GpuError};

/// Every WGSL source of the crate, by file name, so tests can validate them all with naga.
pub const SHADERS: &[(&str, &str)] = &[("global_avg_pool.wgsl", global_avg_pool::SOURCE)];
