use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;
use crate::engine::nearest_scale;

pub(super) const SOURCE: &str = include_str!("resize_nearest.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "resize_nearest.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    scale_h: f32,
    scale_w: f32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 32);

impl Encoder<'_> {
    /// `input` resized to `[height, width]`, nearest neighbour as PyTorch picks it; twin of
    /// `cpu::resize_nearest`.
    pub fn resize_nearest(
        &mut self,
        input: &GpuTensor,
        [height, width]: [usize; 2],
    ) -> Result<GpuTensor, GpuError> {
        let [n, c, in_h, in_w] = input.shape;
        let output = self.tensor([n, c, height, width])?;
        let len = output.shape.iter().product::<usize>();
        let params = Params {
            len: len as u32,
            in_h: in_h as u32,
            in_w: in_w as u32,
            out_h: height as u32,
            out_w: width as u32,
            scale_h: nearest_scale(in_h, height),
            scale_w: nearest_scale(in_w, width),
            _pad: 0,
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
