//! The runtime: where the runs of a model go — the GPU when asked for and working, else the
//! CPU — and why. It sits above both backends of the executor (`exec::cpu`, `exec::gpu`).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use crate::engine::{Graph, RunError, RunOptions, RunOutput, Tensor};
use crate::exec::{self, gpu::GpuGraph};
use crate::gpu::{self, GpuContext};

/// Which backend the caller asked for (`?backend=` in the app, `--backend` in the CLI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendPreference {
    /// A hardware GPU if there is one, else the CPU: a software adapter (lavapipe, SwiftShader)
    /// emulates a GPU on the same cores, far slower than the CPU path (BENCHMARKS.md), so
    /// `Auto` never picks one.
    Auto,
    /// Any GPU adapter, software ones included (they are how the GPU path is tested).
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

/// What `auto` measured on a model's first run with a GPU at hand: one warm run on each backend,
/// in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub gpu_ms: f64,
    pub cpu_ms: f64,
}

impl Calibration {
    /// The GPU is kept only when it ran faster than the CPU path.
    pub fn gpu_wins(&self) -> bool {
        self.gpu_ms < self.cpu_ms
    }
}

/// A model's backend. A GPU failure (at setup or in any run) moves it to the CPU for good, with
/// the reason kept for the UI; choosing the backend again (a new model, a new preference) is
/// what tries the GPU again. Runs take `&self`, so the app can share it between runs.
pub struct Backend {
    gpu: Option<GpuGraph>,
    /// Why the CPU runs although the GPU was asked for.
    fallback: RefCell<Option<String>>,
    /// Why the GPU runs, when `auto` measured it faster ([`Backend::settle`]).
    note: RefCell<Option<String>>,
}

impl Backend {
    /// Sets up `preference` for `graph`: a device and its weights on it, or the CPU and why.
    /// `Auto` looks at the adapter before asking for a device, so a software one costs nothing.
    pub async fn new(graph: &Arc<Graph>, preference: BackendPreference) -> Self {
        if preference == BackendPreference::Cpu {
            return Self::cpu(None);
        }
        let adapter = match gpu::adapter().await {
            Ok(adapter) => adapter,
            Err(e) => return Self::cpu(Some(e.to_string())),
        };
        let info = adapter.get_info();
        if preference == BackendPreference::Auto && gpu::is_software(&info) {
            let name = match info.name.as_str() {
                "" => String::new(),
                name => format!(" ({name})"),
            };
            return Self::cpu(Some(format!(
                "the only GPU adapter is a software one{name}, slower than the CPU path"
            )));
        }
        let context = match GpuContext::on(adapter).await {
            Ok(context) => Rc::new(context),
            Err(e) => return Self::cpu(Some(e.to_string())),
        };
        match GpuGraph::upload(context, Arc::clone(graph)).await {
            Ok(model) => Self {
                gpu: Some(model),
                fallback: RefCell::new(None),
                note: RefCell::new(None),
            },
            Err(e) => Self::cpu(Some(e.to_string())),
        }
    }

    /// The CPU, and why it runs although the GPU was asked for (`None`: the CPU was asked for).
    pub fn cpu(fallback: Option<String>) -> Self {
        Self {
            gpu: None,
            fallback: RefCell::new(fallback),
            note: RefCell::new(None),
        }
    }

    /// The graph on the GPU, while the GPU is in use.
    pub fn gpu(&self) -> Option<&GpuGraph> {
        self.gpu
            .as_ref()
            .filter(|_| self.fallback.borrow().is_none())
    }

    /// `webgpu`, `vulkan` or `cpu`: what the next run uses.
    pub fn name(&self) -> &'static str {
        self.gpu()
            .map_or("cpu", |model| model.context().backend_name())
    }

    /// The GPU adapter, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`.
    pub fn adapter(&self) -> Option<String> {
        self.gpu()
            .map(|model| model.context().adapter_name().to_owned())
            .filter(|name| !name.is_empty())
    }

    /// Why the CPU runs although the GPU was asked for.
    pub fn fallback_reason(&self) -> Option<String> {
        self.fallback.borrow().clone()
    }

    /// Why the GPU runs, when `auto` chose it by measuring.
    pub fn note(&self) -> Option<String> {
        self.note.borrow().clone()
    }

    /// `auto`'s choice for a backend with a GPU, from `calibration` (measured now, or
    /// `remembered` from an earlier visit): the GPU stays only if it was faster, and the note or
    /// the fallback reason says which it is and why.
    pub fn settle(&self, calibration: Calibration, remembered: bool) {
        let Some(gpu) = self.gpu() else {
            return;
        };
        let name = match gpu.context().backend_name() {
            "webgpu" => "WebGPU",
            _ => "Vulkan",
        };
        let adapter = match self.adapter() {
            Some(adapter) => format!("{name} ({adapter})"),
            None => name.to_owned(),
        };
        let when = if remembered {
            "measured on an earlier run of this model here"
        } else {
            "measured on this model's first run"
        };
        let Calibration { gpu_ms, cpu_ms } = calibration;
        if calibration.gpu_wins() {
            *self.note.borrow_mut() = Some(format!(
                "auto chose {adapter}: {gpu_ms:.1} ms a run against {cpu_ms:.1} ms on the CPU ({when})"
            ));
        } else {
            self.fall_back(format!(
                "auto chose the CPU: {cpu_ms:.1} ms a run against {gpu_ms:.1} ms on {adapter} ({when})"
            ));
        }
    }

    /// Stops using the GPU, e.g. because a run did not finish in time.
    pub fn fall_back(&self, reason: String) {
        self.fallback.borrow_mut().get_or_insert(reason);
    }

    /// Runs on the GPU if this backend uses one. On a GPU failure it falls back with the reason
    /// and returns `None`: the caller runs the CPU path (the app steps it, yielding). Options the
    /// CPU would refuse too return `None` without falling back: the CPU path reports them.
    pub async fn run_gpu(&self, input: &Tensor, options: &RunOptions) -> Option<RunOutput> {
        let model = self.gpu()?;
        match model.forward(input, options).await {
            Ok(output) => Some(output),
            Err(gpu::GpuError::Options(_)) => None,
            Err(e) => {
                self.fall_back(e.to_string());
                None
            }
        }
    }

    /// One run: the GPU if this backend has a working one, else the CPU.
    pub async fn run(
        &self,
        graph: &Graph,
        input: &Tensor,
        options: &RunOptions,
    ) -> Result<RunOutput, RunError> {
        match self.run_gpu(input, options).await {
            Some(output) => Ok(output),
            None => exec::cpu::forward(graph, input, options),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::Tolerance;
    use crate::model::Model;

    #[test]
    fn the_backend_falls_back_to_the_cpu_when_the_device_is_lost() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/models/seresnet18_tiny"
        );
        let model = Model::load_dir(Path::new(dir)).expect("tiny model");
        let input = Tensor::pattern([1, 3, 64, 80]);
        let options = RunOptions::default();
        let backend = pollster::block_on(Backend::new(&model.graph, BackendPreference::Gpu));
        assert_eq!(backend.name(), "vulkan", "{:?}", backend.fallback_reason());
        let on_gpu =
            pollster::block_on(backend.run(&model.graph, &input, &options)).expect("valid options");
        let gpu_graph = backend.gpu().expect("the GPU run did not fall back");
        gpu_graph.context().simulate_device_loss();
        let after_loss =
            pollster::block_on(backend.run(&model.graph, &input, &options)).expect("valid options");
        assert_eq!(backend.name(), "cpu");
        let reason = backend.fallback_reason().expect("a reason");
        assert!(reason.contains("lost"), "{reason}");
        // The run still completed, on the CPU, with the same answer.
        Tolerance::new(1e-4, 1e-4)
            .check(&after_loss.logits, &on_gpu.logits)
            .expect("same logits");
        assert_eq!(
            after_loss,
            exec::cpu::forward(&model.graph, &input, &options).expect("valid options")
        );
    }

    #[test]
    fn auto_keeps_the_gpu_only_when_it_measured_faster_and_says_why() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/models/seresnet18_tiny"
        );
        let model = Model::load_dir(Path::new(dir)).expect("tiny model");
        let faster = pollster::block_on(Backend::new(&model.graph, BackendPreference::Gpu));
        faster.settle(
            Calibration {
                gpu_ms: 2.0,
                cpu_ms: 5.0,
            },
            false,
        );
        assert_eq!(faster.name(), "vulkan");
        let note = faster.note().expect("a note");
        assert!(note.starts_with("auto chose Vulkan"), "{note}");
        assert!(
            note.contains("2.0 ms a run against 5.0 ms on the CPU"),
            "{note}"
        );
        assert!(note.contains("first run"), "{note}");

        let slower = pollster::block_on(Backend::new(&model.graph, BackendPreference::Gpu));
        slower.settle(
            Calibration {
                gpu_ms: 9.0,
                cpu_ms: 5.0,
            },
            true,
        );
        assert_eq!(slower.name(), "cpu");
        assert_eq!(slower.note(), None);
        let reason = slower.fallback_reason().expect("a reason");
        assert!(
            reason.starts_with("auto chose the CPU: 5.0 ms a run against 9.0 ms on Vulkan"),
            "{reason}"
        );
        assert!(reason.contains("earlier run"), "{reason}");

        // A CPU backend has nothing to settle.
        let cpu = Backend::cpu(None);
        cpu.settle(
            Calibration {
                gpu_ms: 1.0,
                cpu_ms: 5.0,
            },
            false,
        );
        assert_eq!(
            (cpu.name(), cpu.note(), cpu.fallback_reason()),
            ("cpu", None, None)
        );
    }
}
