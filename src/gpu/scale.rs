use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;

pub(super) const SOURCE: &str = include_str!("scale.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "scale.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    plane: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl Encoder<'_> {
    /// Twin of `cpu::scale_add_act` without a shortcut: `x *= gate` in place, `gates` `[N, C]`.
    pub fn scale(&mut self, x: &GpuTensor, gates: &GpuTensor) -> Result<(), GpuError> {
        let params = Params {
            len: x.len() as u32,
            plane: (x.shape[2] * x.shape[3]) as u32,
            _pad: [0; 2],
        };
        let workgroups = grid(x.len(), 256)?;
        self.dispatch(
            KEY,
            SOURCE,
            &params,
            &[&x.buffer, &gates.buffer],
            workgroups,
        );
        Ok(())
    }
}
