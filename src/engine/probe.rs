//! A small end-to-end check of the compute path: the SE squeeze of a fixed tensor, on the GPU
//! when one is available and allowed, always checked against the CPU.

use crate::engine::{max_abs_diff, Tensor};
use crate::{cpu, gpu};

/// Which backend the caller asked for (`?backend=` in the app, `--backend` in the CLI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendPreference {
    Auto,
    Gpu,
    Cpu,
}

impl BackendPreference {
    /// Accepts `auto`, `webgpu`/`gpu` and `cpu`; anything else is `Auto`.
    pub fn parse(text: &str) -> Self {
        match text {
            "webgpu" | "gpu" => Self::Gpu,
            "cpu" => Self::Cpu,
            _ => Self::Auto,
        }
    }
}

/// What the probe found: which backend produced the numbers and how they compare.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeReport {
    /// `webgpu`, `vulkan` or `cpu`.
    pub backend: String,
    pub adapter: Option<String>,
    /// Why the GPU was not used, when it was not.
    pub fallback_reason: Option<String>,
    pub channel_means: Vec<f32>,
    /// Largest |GPU − CPU| over all channels (0 when the CPU ran alone).
    pub max_abs_diff: f32,
}

/// Shape of the probe tensor: one ResNet stage-1 feature map.
pub const PROBE_SHAPE: [usize; 4] = [1, 64, 56, 56];

pub async fn run_probe(preference: BackendPreference) -> ProbeReport {
    let input = Tensor::pattern(PROBE_SHAPE);
    let reference = cpu::global_avg_pool(&input);
    let cpu_report = |reason: Option<String>| ProbeReport {
        backend: "cpu".into(),
        adapter: None,
        fallback_reason: reason,
        channel_means: reference.data.clone(),
        max_abs_diff: 0.0,
    };
    if preference == BackendPreference::Cpu {
        return cpu_report(None);
    }
    let context = match gpu::GpuContext::new().await {
        Ok(context) => context,
        Err(e) => return cpu_report(Some(e.to_string())),
    };
    match context.global_avg_pool(&input).await {
        Ok(result) => ProbeReport {
            backend: context.backend_name().into(),
            adapter: Some(context.adapter_name().to_owned()).filter(|name| !name.is_empty()),
            fallback_reason: None,
            max_abs_diff: max_abs_diff(&result.data, &reference.data),
            channel_means: result.data,
        },
        Err(e) => cpu_report(Some(e.to_string())),
    }
}
