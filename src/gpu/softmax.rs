use super::encoder::{Encoder, GpuTensor, MAX_WORKGROUPS};
use super::pipelines::PipelineKey;
use super::GpuError;

pub(super) const SOURCE: &str = include_str!("softmax.wgsl");
const KEY: PipelineKey = PipelineKey {
    shader: "softmax.wgsl",
    entry_point: "main",
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    images: u32,
    channels: u32,
    _pad: [u32; 2],
}
const _: () = assert!(std::mem::size_of::<Params>() == 16);

impl Encoder<'_> {
    /// Twin of the CPU's softmax over each image's channels (`x` a per-channel vector).
    pub fn softmax(&mut self, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
        let [images, channels, _, _] = x.shape;
        let groups = images.div_ceil(64);
        if groups > MAX_WORKGROUPS as usize {
            return Err(GpuError::Limit {
                what: "a softmax's batch",
                needed: images as u64,
                limit: 64 * u64::from(MAX_WORKGROUPS),
            });
        }
        let y = self.tensor(x.shape)?;
        let params = Params {
            images: images as u32,
            channels: (x.len() / images.max(1)) as u32,
            _pad: [0; 2],
        };
        debug_assert_eq!(params.channels as usize, channels);
        self.dispatch(
            KEY,
            SOURCE,
            &params,
            &[&x.buffer, &y.buffer],
            (groups as u32, 1, 1),
        );
        Ok(y)
    }
}
