use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;

pub(super) const SOURCE: &str = include_str!("reflect_pad.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "reflect_pad.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    in_h: u32,
    in_w: u32,
    pad: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl Encoder<'_> {
    /// `input` padded by `pad` on every side with its reflection; twin of `cpu::reflect_pad`.
    pub fn reflect_pad(&mut self, input: &GpuTensor, pad: usize) -> Result<GpuTensor, GpuError> {
        let [n, c, h, w] = input.shape;
        let output = self.tensor([n, c, h + 2 * pad, w + 2 * pad])?;
        let len = output.shape.iter().product::<usize>();
        let params = Params {
            len: len as u32,
            in_h: h as u32,
            in_w: w as u32,
            pad: pad as u32,
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
