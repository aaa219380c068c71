use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;
use crate::engine::{Activation, BinaryOp};

pub(super) const SOURCE: &str =
    concat!(include_str!("activation.wgsl"), include_str!("binary.wgsl"));
pub(super) const UNARY_SOURCE: &str =
    concat!(include_str!("activation.wgsl"), include_str!("unary.wgsl"));
const BINARY: PipelineKey = PipelineKey {
    shader: "binary.wgsl",
    entry_point: "binary",
};
const UNARY: PipelineKey = PipelineKey {
    shader: "unary.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    b_plane: u32,
    op: u32,
    act: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl Encoder<'_> {
    /// Twin of `cpu::binary` with an activation after: `a = act(a ∘ b)` in place, `b` `a`'s shape
    /// or one value per channel (`[N, C, 1, 1]`).
    pub fn binary(
        &mut self,
        op: BinaryOp,
        a: &GpuTensor,
        b: &GpuTensor,
        act: Activation,
    ) -> Result<(), GpuError> {
        let plane = a.shape[2] * a.shape[3];
        let params = Params {
            len: a.len() as u32,
            b_plane: if b.len() == a.len() { 1 } else { plane as u32 },
            op: op.code(),
            act: act.code(),
        };
        let workgroups = grid(a.len(), 256)?;
        self.dispatch(BINARY, SOURCE, &params, &[&a.buffer, &b.buffer], workgroups);
        Ok(())
    }

    /// Twin of `cpu::activation`: `a = act(a)` in place.
    pub fn activation(&mut self, a: &GpuTensor, act: Activation) -> Result<(), GpuError> {
        let params = Params {
            len: a.len() as u32,
            b_plane: 0,
            op: 0,
            act: act.code(),
        };
        let workgroups = grid(a.len(), 256)?;
        self.dispatch(UNARY, UNARY_SOURCE, &params, &[&a.buffer], workgroups);
        Ok(())
    }
}
