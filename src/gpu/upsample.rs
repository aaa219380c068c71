use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;

pub(super) const SOURCE: &str = include_str!("upsample.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "upsample.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    out_h: u32,
    out_w: u32,
    factor_h: u32,
    factor_w: u32,
    _pad: [u32; 3],
}
const _: () = assert!(std::mem::size_of::<Params>() == 32);

impl Encoder<'_> {
    /// Nearest-neighbour upsampling by whole factors `[down, across]`; twin of
    /// `cpu::upsample`.
    pub fn upsample(
        &mut self,
        input: &GpuTensor,
        [down, across]: [usize; 2],
    ) -> Result<GpuTensor, GpuError> {
        let [n, c, h, w] = input.shape;
        let output = self.tensor([n, c, h * down, w * across])?;
        let len = output.shape.iter().product::<usize>();
        let params = Params {
            len: len as u32,
            out_h: (h * down) as u32,
            out_w: (w * across) as u32,
            factor_h: down as u32,
            factor_w: across as u32,
            _pad: [0; 3],
        };
        let workgroups = grid(len, 256)?;
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
