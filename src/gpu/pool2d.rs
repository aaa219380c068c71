use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;
use crate::engine::{Pool, PoolKind};

pub(super) const SOURCE: &str = include_str!("pool2d.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "pool2d.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
    average: u32,
    _pad: [u32; 3],
}
const _: () = assert!(std::mem::size_of::<Params>() == 48);

impl Encoder<'_> {
    /// Twin of `cpu::pool2d`.
    pub fn pool2d(&mut self, input: &GpuTensor, pool: &Pool) -> Result<GpuTensor, GpuError> {
        let [batch, channels, height, width] = input.shape;
        let (out_h, out_w) = (pool.output_size(height), pool.output_size(width));
        let output = self.tensor([batch, channels, out_h, out_w])?;
        let params = Params {
            planes: (batch * channels) as u32,
            in_h: height as u32,
            in_w: width as u32,
            out_h: out_h as u32,
            out_w: out_w as u32,
            kernel: pool.kernel as u32,
            stride: pool.stride as u32,
            padding: pool.padding as u32,
            average: match pool.kind {
                PoolKind::Max => 0,
                PoolKind::Avg => 1,
                PoolKind::AvgIncludePad => 2,
            },
            _pad: [0; 3],
        };
        let workgroups = grid(output.len(), 64)?;
        self.dispatch(
            KEY,
            SOURCE,
            &params,
            &[&input.buffer, &output.buffer],
            workgroups,
        );
        Ok(output)
    }
}
