use super::encoder::{Encoder, GpuTensor, MAX_WORKGROUPS};
use super::pipelines::PipelineKey;
use super::{GpuContext, GpuError};
use crate::engine::Activation;

pub(super) const SOURCE: &str =
    concat!(include_str!("activation.wgsl"), include_str!("dense.wgsl"));
const KEY: PipelineKey = PipelineKey {
    shader: "dense.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    in_features: u32,
    out_features: u32,
    act: u32,
    _pad: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

/// A fully connected layer (`weight` `[out, in]` row-major) on the GPU.
pub struct GpuDense {
    in_features: usize,
    out_features: usize,
    weight: wgpu::Buffer,
    bias: wgpu::Buffer,
}

impl GpuDense {
    pub fn upload(context: &GpuContext, weight: &[f32], bias: &[f32]) -> Result<Self, GpuError> {
        Ok(Self {
            in_features: weight.len() / bias.len().max(1),
            out_features: bias.len(),
            weight: context.upload("dense.weight", weight)?,
            bias: context.upload("dense.bias", bias)?,
        })
    }
}

impl Encoder<'_> {
    /// `activation(weight · x + bias)` for each image: `x` holds `[N, in]` (any 4-D shape with
    /// `in` values per image); the result is `[N, out, 1, 1]`. Twin of the CPU's `dense`.
    pub fn dense(
        &mut self,
        x: &GpuTensor,
        layer: &GpuDense,
        activation: Activation,
    ) -> Result<GpuTensor, GpuError> {
        let batch = x.shape[0];
        debug_assert_eq!(x.len(), batch * layer.in_features);
        if layer.out_features > MAX_WORKGROUPS as usize || batch > MAX_WORKGROUPS as usize {
            return Err(GpuError::Limit {
                what: "a dense layer",
                needed: layer.out_features.max(batch) as u64,
                limit: u64::from(MAX_WORKGROUPS),
            });
        }
        let output = self.tensor([batch, layer.out_features, 1, 1])?;
        let params = Params {
            in_features: layer.in_features as u32,
            out_features: layer.out_features as u32,
            act: activation.code(),
            _pad: 0,
        };
        self.dispatch(
            KEY,
            SOURCE,
            &params,
            &[&x.buffer, &layer.weight, &layer.bias, &output.buffer],
            (layer.out_features as u32, batch as u32, 1),
        );
        Ok(output)
    }
}
