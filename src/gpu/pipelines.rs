use std::collections::HashMap;
use std::sync::Mutex;

/// What makes two compute pipelines the same: the shader file and its entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PipelineKey {
    pub shader: &'static str,
    pub entry_point: &'static str,
}

/// A compute pipeline and its bind group layout (asked of the pipeline once: in the browser
/// each `getBindGroupLayout` is a call into JavaScript that makes a new object).
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Compute pipelines, built the first time they are asked for (candle's `kernel.rs` habit).
#[derive(Default)]
pub(crate) struct PipelineCache {
    built: Mutex<HashMap<PipelineKey, Pipeline>>,
}

impl PipelineCache {
    pub fn get(&self, device: &wgpu::Device, key: PipelineKey, source: &'static str) -> Pipeline {
        let mut built = self
            .built
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        built
            .entry(key)
            .or_insert_with(|| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(key.shader),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(key.shader),
                    layout: None,
                    module: &module,
                    entry_point: Some(key.entry_point),
                    compilation_options: Default::default(),
                    cache: None,
                });
                let layout = pipeline.get_bind_group_layout(0);
                Pipeline { pipeline, layout }
            })
            .clone()
    }
}
