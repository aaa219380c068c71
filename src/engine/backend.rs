//! Where the runs of a model go: the GPU when asked for and working, else the CPU, and why.

use std::rc::Rc;

use super::{Network, RunOptions, RunOutput, Tensor};
use crate::cpu;
use crate::gpu::{GpuContext, GpuModel};

/// Which backend the caller asked for (`?backend=` in the app, `--backend` in the CLI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendPreference {
    Auto,
    Gpu,
    Cpu,
}

impl BackendPreference {
    /// Accepts `auto`, `webgpu`/`gpu` and `cpu`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Self::Auto),
            "webgpu" | "gpu" => Some(Self::Gpu),
            "cpu" => Some(Self::Cpu),
            _ => None,
        }
    }
}

/// A model's backend. A GPU failure (at setup or in any run) moves it to the CPU for good, with
/// the reason kept for the UI; choosing the backend again (a new model, a new preference) is
/// what tries the GPU again.
pub enum Backend {
    Gpu(GpuModel),
    Cpu {
        /// Why the GPU is not used, when it was asked for.
        fallback: Option<String>,
    },
}

impl Backend {
    /// Sets up `preference` for `network`: a device and its weights on it, or the CPU and why.
    pub async fn new(network: &Network, preference: BackendPreference) -> Self {
        if preference == BackendPreference::Cpu {
            return Self::Cpu { fallback: None };
        }
        let gpu = async {
            let context = Rc::new(GpuContext::new().await?);
            GpuModel::upload(context, network).await
        };
        match gpu.await {
            Ok(model) => Self::Gpu(model),
            Err(e) => Self::Cpu {
                fallback: Some(e.to_string()),
            },
        }
    }

    /// `webgpu`, `vulkan` or `cpu`: what the next run uses.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Gpu(model) => model.context().backend_name(),
            Self::Cpu { .. } => "cpu",
        }
    }

    /// The GPU adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub fn adapter(&self) -> Option<&str> {
        match self {
            Self::Gpu(model) => Some(model.context().adapter_name()).filter(|n| !n.is_empty()),
            Self::Cpu { .. } => None,
        }
    }

    /// Why the CPU runs although the GPU was asked for.
    pub fn fallback_reason(&self) -> Option<&str> {
        match self {
            Self::Gpu(_) => None,
            Self::Cpu { fallback } => fallback.as_deref(),
        }
    }

    /// Runs on the GPU if this backend has one. On failure it becomes the CPU backend with the
    /// reason and returns `None`: the caller runs the CPU path (the app steps it, yielding).
    pub async fn run_gpu(&mut self, input: &Tensor, options: &RunOptions) -> Option<RunOutput> {
        let Self::Gpu(model) = self else {
            return None;
        };
        match model.forward(input, options).await {
            Ok(output) => Some(output),
            Err(e) => {
                *self = Self::Cpu {
                    fallback: Some(e.to_string()),
                };
                None
            }
        }
    }

    /// One run: the GPU if this backend has a working one, else the CPU.
    pub async fn run(
        &mut self,
        network: &Network,
        input: &Tensor,
        options: &RunOptions,
    ) -> RunOutput {
        match self.run_gpu(input, options).await {
            Some(output) => output,
            None => cpu::forward(network, input, options),
        }
    }
}
