use super::encoder::{grid, Encoder, GpuTensor};
use super::pipelines::PipelineKey;
use super::{GpuContext, GpuError};
use crate::engine::{Activation, Conv2d};

pub(super) const SOURCE: &str =
    concat!(include_str!("activation.wgsl"), include_str!("conv2d.wgsl"));
const TILED: PipelineKey = PipelineKey {
    shader: "conv2d.wgsl",
    entry_point: "tiled",
};
const DIRECT: PipelineKey = PipelineKey {
    shader: "conv2d.wgsl",
    entry_point: "direct",
};
const DEPTHWISE: PipelineKey = PipelineKey {
    shader: "conv2d.wgsl",
    entry_point: "depthwise",
};
/// The tiled kernel's tile: output channels × output pixels.
const TILE: usize = 64;
/// Below this many output channels per group the direct kernel wins: a 64-channel tile would
/// compute mostly padding (ResNeXt's 4-, 8- and 16-wide groups).
const TILED_MIN_GROUP_OUT: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    in_channels: u32,
    in_h: u32,
    in_w: u32,
    out_channels: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    group_in: u32,
    group_out: u32,
    groups: u32,
    act: u32,
    batch: u32,
    dilation: u32,
}
const _: () = assert!(std::mem::size_of::<Params>() == 64);

/// A convolution whose weights and bias live on the GPU (uploaded once per model).
pub struct GpuConv {
    pub(crate) conv: Conv2d,
    weight: wgpu::Buffer,
    bias: wgpu::Buffer,
}

impl GpuConv {
    pub fn upload(context: &GpuContext, conv: &Conv2d) -> Result<Self, GpuError> {
        Ok(Self {
            weight: context.upload("conv.weight", &conv.weight)?,
            bias: context.upload("conv.bias", &conv.bias)?,
            // The host copy keeps only the geometry.
            conv: Conv2d {
                weight: Vec::new(),
                bias: Vec::new(),
                winograd: Default::default(),
                ..*conv
            },
        })
    }
}

impl Encoder<'_> {
    /// Twin of `cpu::conv2d`: convolution + bias + activation.
    pub fn conv2d(
        &mut self,
        input: &GpuTensor,
        gpu: &GpuConv,
        act: Activation,
    ) -> Result<GpuTensor, GpuError> {
        let conv = &gpu.conv;
        let [batch, channels, height, width] = input.shape;
        debug_assert_eq!(channels, conv.in_channels);
        let geometry = conv.geometry(height, width).ok_or_else(|| {
            GpuError::Rejected(format!(
                "a {height}×{width} input is too small for a convolution"
            ))
        })?;
        let (out_h, out_w) = (geometry.out_h, geometry.out_w);
        let output = self.tensor([batch, conv.out_channels, out_h, out_w])?;
        let group_out = conv.out_channels / conv.groups;
        let params = Params {
            in_channels: channels as u32,
            in_h: height as u32,
            in_w: width as u32,
            out_channels: conv.out_channels as u32,
            out_h: out_h as u32,
            out_w: out_w as u32,
            kernel: conv.kernel as u32,
            stride: conv.stride as u32,
            pad_top: geometry.pad_top as u32,
            pad_left: geometry.pad_left as u32,
            group_in: (conv.in_channels / conv.groups) as u32,
            group_out: group_out as u32,
            groups: conv.groups as u32,
            act: act.code(),
            batch: batch as u32,
            dilation: conv.dilation as u32,
        };
        let buffers = [&input.buffer, &gpu.weight, &gpu.bias, &output.buffer];
        if conv.is_depthwise() {
            let workgroups = grid(output.len(), 64)?;
            self.dispatch(DEPTHWISE, SOURCE, &params, &buffers, workgroups);
        } else if group_out >= TILED_MIN_GROUP_OUT {
            let workgroups = (
                (out_h * out_w).div_ceil(TILE),
                group_out.div_ceil(TILE),
                batch * conv.groups,
            );
            let (x, y, z) = (
                checked(workgroups.0)?,
                checked(workgroups.1)?,
                checked(workgroups.2)?,
            );
            self.dispatch(TILED, SOURCE, &params, &buffers, (x, y, z));
        } else {
            let workgroups = grid(output.len(), 64)?;
            self.dispatch(DIRECT, SOURCE, &params, &buffers, workgroups);
        }
        Ok(output)
    }
}

fn checked(workgroups: usize) -> Result<u32, GpuError> {
    u32::try_from(workgroups)
        .ok()
        .filter(|&n| n <= super::encoder::MAX_WORKGROUPS)
        .ok_or(GpuError::Limit {
            what: "a convolution dispatch",
            needed: workgroups as u64,
            limit: u64::from(super::encoder::MAX_WORKGROUPS),
        })
}
