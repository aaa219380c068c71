use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::pipelines::PipelineCache;

/// How long any single wait on the GPU may take before we give up on it. Generous: a software
/// adapter (lavapipe, in CI) needs ~20 s for SENet-154 on two busy cores; a hardware GPU that
/// takes this long has hung.
const GPU_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter available: {0}")]
    NoAdapter(String),
    #[error("the GPU device could not be created: {0}")]
    Device(String),
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("the GPU rejected the work: {0}")]
    Rejected(String),
    #[error("{what} needs {needed}, over this GPU's limit of {limit}")]
    Limit {
        what: &'static str,
        needed: u64,
        limit: u64,
    },
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
    #[error("the GPU result failed the sanity check: {0}")]
    Insane(String),
    /// Not the GPU's fault: the CPU would refuse the same options (no fallback).
    #[error(transparent)]
    Options(#[from] crate::engine::RunError),
}

/// The first adapter wgpu offers (Vulkan natively, WebGPU in the browser).
pub async fn adapter() -> Result<wgpu::Adapter, GpuError> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN | wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    });
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .map_err(|e| GpuError::NoAdapter(e.to_string()))
}

/// A software adapter (Mesa lavapipe, Chrome's SwiftShader): a CPU emulating a GPU, far slower
/// than the engine's own CPU path.
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
}

/// A device, its queue and the pipelines built for it.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) pipelines: PipelineCache,
    info: wgpu::AdapterInfo,
    /// Set by the device-lost callback; every later run fails fast with it.
    lost: Arc<Mutex<Option<String>>>,
    /// The last error no error scope caught.
    uncaptured: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// Opens the first adapter wgpu offers (Vulkan natively, WebGPU in the browser).
    pub async fn new() -> Result<Self, GpuError> {
        Self::on(adapter().await?).await
    }

    /// Opens a device on `adapter`.
    pub async fn on(adapter: wgpu::Adapter) -> Result<Self, GpuError> {
        let available = adapter.limits();
        // WebGPU's portable limits (4 storage buffers per stage, 16 KiB of workgroup memory are
        // all the kernels use), except buffer sizes: as large as the adapter allows.
        let required_limits = wgpu::Limits {
            max_storage_buffer_binding_size: available.max_storage_buffer_binding_size,
            max_buffer_size: available.max_buffer_size,
            ..wgpu::Limits::downlevel_defaults().using_resolution(available)
        };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("se-lens"),
                required_limits,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        let lost = Arc::new(Mutex::new(None));
        let flag = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            *flag.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(format!("{reason:?}: {message}"));
        });
        // Errors outside an error scope would panic by default; every run holds scopes, so
        // anything left is recorded and fails the next run instead.
        let uncaptured = Arc::new(Mutex::new(None));
        let record = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            *record.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        }));
        Ok(Self {
            device,
            queue,
            pipelines: PipelineCache::default(),
            info: adapter.get_info(),
            lost,
            uncaptured,
        })
    }

    /// `webgpu` in the browser, `vulkan` natively.
    pub fn backend_name(&self) -> &'static str {
        match self.info.backend {
            wgpu::Backend::BrowserWebGpu => "webgpu",
            wgpu::Backend::Vulkan => "vulkan",
            _ => "gpu",
        }
    }

    /// Whether the adapter is a software one ([`is_software`]).
    pub fn is_software(&self) -> bool {
        is_software(&self.info)
    }

    /// The adapter as its driver names it, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }

    /// Fails if the device has been lost (the driver reset, the tab lost its GPU, …) or
    /// reported an error outside any scope.
    pub(crate) fn check_alive(&self) -> Result<(), GpuError> {
        if let Some(reason) = &*self.lost.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(GpuError::DeviceLost(reason.clone()));
        }
        match self
            .uncaptured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(error) => Err(GpuError::Rejected(error)),
            None => Ok(()),
        }
    }

    /// Loses the device on purpose, as a driver reset would (the fallback's test).
    #[cfg(all(test, not(target_arch = "wasm32")))]
    pub(crate) fn simulate_device_loss(&self) {
        self.device.destroy();
        // The callback fires on the next poll; record it now so the next run sees it at once.
        let mut lost = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        lost.get_or_insert_with(|| "destroyed on request".into());
    }

    /// A storage buffer holding `data` (weights, inputs).
    pub(crate) fn upload(&self, label: &str, data: &[f32]) -> Result<wgpu::Buffer, GpuError> {
        let buffer = self.storage(label, data.len())?;
        self.queue
            .write_buffer(&buffer, 0, bytemuck::cast_slice(data));
        Ok(buffer)
    }

    /// An uninitialised storage buffer of `len` floats, checked against the device's limits.
    pub(crate) fn storage(&self, label: &str, len: usize) -> Result<wgpu::Buffer, GpuError> {
        let size = (len.max(1) * std::mem::size_of::<f32>()) as u64;
        let limits = self.device.limits();
        let limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        if size > limit {
            return Err(GpuError::Limit {
                what: "a tensor",
                needed: size,
                limit,
            });
        }
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }))
    }

    /// Waits (natively; bounded by a timeout) until `submission` has run. In the browser this
    /// returns at once and the map callback arrives from the event loop, so the page never
    /// blocks (the app bounds that wait itself).
    pub(crate) fn wait(&self, submission: wgpu::SubmissionIndex) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: Some(GPU_TIMEOUT),
            })
            .map(drop)
            .map_err(|e| GpuError::Readback(e.to_string()))
    }
}
