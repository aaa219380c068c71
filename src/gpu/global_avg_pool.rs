use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;

pub(super) const SOURCE: &str = include_str!("global_avg_pool.wgsl");
const MEAN: PipelineKey = PipelineKey {
    shader: "global_avg_pool.wgsl",
    entry_point: "main",
};
const MAX: PipelineKey = PipelineKey {
    shader: "global_avg_pool.wgsl",
    entry_point: "max_main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    plane_len: u32,
    planes: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl Encoder<'_> {
    /// The SE squeeze: `[N, C, H, W]` → `[N, C, 1, 1]`; twin of `cpu::global_avg_pool`.
    pub fn global_avg_pool(&mut self, input: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.per_plane(MEAN, input)
    }

    /// The max of every plane; twin of `cpu::global_max_pool`.
    pub fn global_max_pool(&mut self, input: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.per_plane(MAX, input)
    }

    fn per_plane(&mut self, key: PipelineKey, input: &GpuTensor) -> Result<GpuTensor, GpuError> {
        let [n, c, h, w] = input.shape;
        let output = self.tensor([n, c, 1, 1])?;
        let params = Params {
            plane_len: (h * w) as u32,
            planes: (n * c) as u32,
            _pad: [0; 2],
        };
        // One workgroup per plane.
        let workgroups = grid(n * c, 1)?;
        self.dispatch(
            key,
            SOURCE,
            &params,
            &[&input.buffer, &output.buffer],
            workgroups,
        );
        Ok(output)
    }
}
