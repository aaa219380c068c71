//! CPU kernels. Each op is the reference the GPU kernels are checked against.

mod global_avg_pool;

pub use global_avg_pool::global_avg_pool;
