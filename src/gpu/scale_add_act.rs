use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::GpuError;
use crate::engine::Activation;

pub(super) const SOURCE: &str = concat!(
    include_str!("activation.wgsl"),
    include_str!("scale_add_act.wgsl")
);
const SCALED: PipelineKey = PipelineKey {
    shader: "scale_add_act.wgsl",
    entry_point: "scale_add_act",
};
const UNSCALED: PipelineKey = PipelineKey {
    shader: "scale_add_act.wgsl",
    entry_point: "add_act",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    len: u32,
    plane: u32,
    act: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl Encoder<'_> {
    /// Twin of `cpu::scale_add_act` with a shortcut: `x = act(x · gate + shortcut)` in place,
    /// with `gates` `[N, C]` (one per channel plane) or none.
    pub fn scale_add_act(
        &mut self,
        x: &GpuTensor,
        gates: Option<&GpuTensor>,
        shortcut: &GpuTensor,
        act: Activation,
    ) -> Result<(), GpuError> {
        debug_assert_eq!(x.shape, shortcut.shape);
        let params = Params {
            len: x.len() as u32,
            plane: (x.shape[2] * x.shape[3]) as u32,
            act: act.code(),
            _pad: 0,
        };
        let workgroups = grid(x.len(), 256)?;
        match gates {
            Some(gates) => self.dispatch(
                SCALED,
                SOURCE,
                &params,
                &[&x.buffer, &shortcut.buffer, &gates.buffer],
                workgroups,
            ),
            None => self.dispatch(
                UNSCALED,
                SOURCE,
                &params,
                &[&x.buffer, &shortcut.buffer],
                workgroups,
            ),
        }
        Ok(())
    }
}
