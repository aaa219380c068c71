//! The wgpu backend: WebGPU in the browser, Vulkan natively.
//!
//! One op = `<op>.rs` + `<op>.wgsl` side by side, each an `Encoder` method that records its
//! dispatch; `exec::gpu` holds a graph's weights on the device and records a whole forward
//! pass into one submission. Pipelines are built lazily and cached.

mod binary;
mod context;
mod conv2d;
mod dense;
mod encoder;
mod global_avg_pool;
mod pipelines;
mod pool2d;
mod reflect_pad;
mod resize_nearest;
mod scale_add_act;
mod softmax;
mod upsample;

pub use context::{adapter, is_software, GpuContext, GpuError};
pub use conv2d::GpuConv;
pub use dense::GpuDense;
pub use encoder::{Encoder, GpuTensor};

/// Every WGSL source of the crate, by file name, so tests can validate them all with naga.
pub const SHADERS: &[(&str, &str)] = &[
    ("activation.wgsl", include_str!("activation.wgsl")),
    ("binary.wgsl", binary::SOURCE),
    ("conv2d.wgsl", conv2d::SOURCE),
    ("dense.wgsl", dense::SOURCE),
    ("global_avg_pool.wgsl", global_avg_pool::SOURCE),
    ("pool2d.wgsl", pool2d::SOURCE),
    ("reflect_pad.wgsl", reflect_pad::SOURCE),
    ("resize_nearest.wgsl", resize_nearest::SOURCE),
    ("upsample.wgsl", upsample::SOURCE),
    ("scale_add_act.wgsl", scale_add_act::SOURCE),
    ("softmax.wgsl", softmax::SOURCE),
    ("unary.wgsl", binary::UNARY_SOURCE),
];
