//! GPU kernels against their CPU twins on a real wgpu device (Mesa lavapipe in CI).
#![cfg(not(target_arch = "wasm32"))]

use se_lens::engine::{Tensor, Tolerance};
use se_lens::{cpu, gpu::GpuContext};

fn context() -> GpuContext {
    pollster::block_on(GpuContext::new())
        .expect("a Vulkan adapter (install mesa-vulkan-drivers for lavapipe)")
}

#[test]
fn global_avg_pool_matches_cpu_on_odd_shapes() {
    let context = context();
    // Planes smaller and larger than a workgroup, odd sizes, several images.
    for shape in [
        [1, 3, 1, 1],
        [2, 5, 7, 9],
        [1, 64, 56, 56],
        [3, 17, 33, 19],
        [1, 2048, 7, 7],
    ] {
        let input = Tensor::pattern(shape);
        let gpu = pollster::block_on(context.global_avg_pool(&input)).expect("gpu run");
        let cpu = cpu::global_avg_pool(&input);
        assert_eq!(gpu.shape, cpu.shape);
        Tolerance::new(1e-5, 1e-6)
            .check(&gpu.data, &cpu.data)
            .unwrap_or_else(|m| panic!("shape {shape:?}: {m}"));
    }
}
