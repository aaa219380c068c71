//! CPU kernels: the reference the GPU kernels are checked against, and the fallback path.
//! Natively they use the `gemm` crate's AVX2/FMA/AVX-512 kernels; on wasm32 the same code runs
//! with SIMD128 (or relaxed SIMD) and our own GEMM kernel (`packed_gemm`). Both run on the thread
//! pool of `threads` (on wasm32 its Web Workers, where the page allows threads; one thread where
//! it does not).

pub mod buffers;
mod conv2d;
mod elementwise;
mod gemm;
mod global_avg_pool;
#[cfg(any(target_arch = "wasm32", test))]
mod lanes;
#[cfg(any(target_arch = "wasm32", test))]
mod packed_gemm;
mod parallel;
mod pool;
mod squeeze_excite;
#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
pub mod threads;
mod winograd;

pub use conv2d::{conv2d, conv2d_squeezed};

/// Whether this is the relaxed-SIMD wasm build (its GEMM's and depthwise convolution's
/// multiply-adds may fuse: lanes.rs).
pub const RELAXED_SIMD: bool = cfg!(target_feature = "relaxed-simd");
pub use elementwise::{
    activation, binary, channel_shuffle, concat, reflect_pad, resize_nearest, slice_channels,
    upsample,
};
pub use global_avg_pool::{global_avg_pool, global_max_pool, masked_max, masked_mean};
pub use parallel::{map_items, thread_count, use_one_thread};
pub use pool::pool2d;
pub use squeeze_excite::{excitation_steps, linear, scale_add_act, ExcitationSteps};
