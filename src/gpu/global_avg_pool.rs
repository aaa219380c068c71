use super::pipelines::PipelineKey;
use super::{GpuContext, GpuError};
use crate::engine::Tensor;

pub(super) const SOURCE: &str = include_str!("global_avg_pool.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "global_avg_pool.wgsl",
    entry_point: "main",
};
/// WebGPU guarantees at least this many workgroups per dispatch dimension.
const MAX_WORKGROUPS_X: u32 = 65_535;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    plane_len: u32,
    planes: u32,
    workgroups_x: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl GpuContext {
    /// The SE squeeze on the GPU: `[N, C, H, W]` → `[N, C, 1, 1]`; twin of `cpu::global_avg_pool`.
    pub async fn global_avg_pool(&self, input: &Tensor) -> Result<Tensor, GpuError> {
        let [n, c, h, w] = input.shape;
        let planes = (n * c) as u32;
        let workgroups_x = planes.min(MAX_WORKGROUPS_X);
        let workgroups_y = planes.div_ceil(workgroups_x);
        let params = Params {
            plane_len: (h * w) as u32,
            planes,
            workgroups_x,
            _pad: 0,
        };

        let pipeline = self.pipelines.get(&self.device, KEY, SOURCE);
        let uniforms = self.uniform_buffer("global_avg_pool.params", &params);
        let source = self.storage_buffer("global_avg_pool.input", &input.data);
        let output = self.output_buffer("global_avg_pool.output", n * c);
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("global_avg_pool"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniforms.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: source.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: output.as_entire_binding(),
                },
            ],
        });

        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(workgroups_x, workgroups_y, 1);
        }
        let data = self.submit_and_read(encoder, &output).await?;
        Ok(Tensor::new([n, c, 1, 1], data))
    }
}
