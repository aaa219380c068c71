//! What the page asks the engine worker for and what comes back (plain Rust, tested natively).
//! The model and its backend live in the worker (`worker.rs`); the page holds a [`ModelSummary`]
//! and sends [`Job`]s through the JavaScript API's worker protocol (`www/selens.js`, `job`), with
//! the current image's pixels and any chosen files beside the job's JSON. Each job's reply is the
//! JSON of the view model the page draws.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::view_model::{Prediction, RunView};
use crate::engine::Scores;
use crate::model::{Model, OnnxInfo, PretrainedCfg};

/// One SE block of the loaded model: its module path and its width.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockSummary {
    pub name: String,
    pub channels: usize,
}

/// What the page knows of the loaded model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The timm architecture name (an ONNX file's name).
    pub architecture: String,
    pub labels: Vec<String>,
    pub scores: Scores,
    pub blocks: Vec<BlockSummary>,
    pub pretrained_cfg: PretrainedCfg,
    pub onnx: Option<OnnxInfo>,
}

impl ModelSummary {
    pub fn of(model: &Model) -> Self {
        Self {
            architecture: model.config.architecture.clone(),
            labels: model.labels.clone(),
            scores: model.scores,
            blocks: model
                .graph
                .se_blocks
                .iter()
                .map(|se| BlockSummary {
                    name: se.name.clone(),
                    channels: se.channels,
                })
                .collect(),
            pretrained_cfg: model.config.pretrained_cfg.clone(),
            onnx: model.onnx.clone(),
        }
    }

    /// The SE blocks' names, in graph order.
    pub fn block_names(&self) -> impl Iterator<Item = &str> {
        self.blocks.iter().map(|b| b.name.as_str())
    }
}

/// A decoded image that the engine worker keeps (`EngineHost::decode`): the page holds only this
/// and names it in jobs, so an image's pixels never cross to the page and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageRef {
    pub key: u32,
    pub width: usize,
    pub height: usize,
}

/// Where the model runs, as the page shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendSummary {
    /// `webgpu` or `cpu`.
    pub name: String,
    pub adapter: Option<String>,
    /// Why the CPU runs although the GPU was asked for.
    pub fallback_reason: Option<String>,
    /// Why the GPU runs, when `auto` measured it faster.
    pub note: Option<String>,
}

/// A model and its backend, as a load or a change of backend leaves them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    pub model: ModelSummary,
    pub backend: BackendSummary,
}

/// What the page asks the worker to do with the loaded model. Jobs that run the model run it on
/// the image sent with them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Sets the backend up again (`auto`, `webgpu`, `cpu`); replies [`BackendSummary`].
    SetBackend { backend: String },
    /// The image with the model's own gates, and with `ablated` blocks' gates set to ones;
    /// replies [`Classified`] (and the picture the network saw, as pixels beside it).
    Classify {
        ablated: BTreeSet<String>,
        /// Run the CPU path on one thread from now on (the way out of a run that stalls).
        one_thread: bool,
    },
    /// One channel's feature map before and after its gate; replies `ChannelDetail`.
    ChannelDetail { block: String, channel: usize },
    /// One block step by step; replies `SeSteps`.
    SeSteps { block: String },
    /// Starts the squeeze-region probe of `block` (the worker keeps its feature map); replies
    /// [`ProbeStart`].
    ProbeStart { block: String },
    /// The probe's gates over `rect` (`[left, top, right, bottom]`, fractions of the input);
    /// replies `RegionProbe`.
    ProbeRegion { rect: [f32; 4] },
    /// The prediction with `block`'s gate replaced by `gate`; replies `Vec<Prediction>`.
    ClassifyWithGate { block: String, gate: Vec<f32> },
    /// The class statistics shipped in the model's folder, if any; replies
    /// `Option<ClassStatsView>`.
    ShippedClassStats { folder: String },
    /// The importance measurement shipped in the model's folder, if any; replies
    /// `Option<ImportanceView>`.
    ShippedImportance { folder: String },
    /// Class statistics over the files sent with the job; replies `ClassStatsView`.
    ClassStats,
    /// Every block's importance over the files sent with the job; replies `ImportanceView`.
    Importance,
}

/// A classification, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classified {
    pub baseline: std::rc::Rc<RunView>,
    pub ablated: Option<std::rc::Rc<RunView>>,
    pub preprocess_ms: f64,
    pub forward_ms: f64,
    /// `webgpu` or `cpu`: what computed the baseline.
    pub backend: String,
    /// The CPU path's threads when the baseline started.
    pub cpu_threads: usize,
    /// Whether the engine is the relaxed-SIMD build (`cpu::RELAXED_SIMD`).
    pub relaxed_simd: bool,
    /// The backend after the run (a GPU failure moves it to the CPU, with the reason).
    pub backend_now: BackendSummary,
    /// The engine worker's wasm memory after the run, in bytes (the page's own is small).
    pub engine_memory: usize,
    /// The size of the picture the network saw (its pixels come beside the reply).
    pub seen_width: usize,
    pub seen_height: usize,
}

/// The start of a squeeze-region probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeStart {
    pub block: String,
    /// The gates with the squeeze over the whole map.
    pub full: Vec<f32>,
    pub picture: super::view_model::InputPicture,
    pub top: Vec<Prediction>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_replies_cross_the_worker_boundary_unchanged() {
        let jobs = [
            Job::Classify {
                ablated: ["layer1.0.se".to_string()].into(),
                one_thread: false,
            },
            Job::ProbeRegion {
                rect: [0.0, 0.5, 1.0, 1.0],
            },
            Job::ClassifyWithGate {
                block: "b".into(),
                gate: vec![0.25, 1.0],
            },
            Job::Importance,
        ];
        for job in jobs {
            let text = serde_json::to_string(&job).expect("serialises");
            assert_eq!(serde_json::from_str::<Job>(&text).expect("parses"), job);
        }
        let text = serde_json::to_string(&Job::ChannelDetail {
            block: "layer2.0.se".into(),
            channel: 3,
        })
        .expect("serialises");
        assert_eq!(
            text,
            r#"{"job":"channel_detail","block":"layer2.0.se","channel":3}"#
        );

        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/models/seresnet18_tiny"
        );
        let model = Model::load_dir(std::path::Path::new(dir)).expect("tiny model");
        let summary = ModelSummary::of(&model);
        assert_eq!(summary.blocks.len(), model.graph.se_blocks.len());
        let text = serde_json::to_string(&summary).expect("serialises");
        assert_eq!(
            serde_json::from_str::<ModelSummary>(&text).expect("parses"),
            summary
        );
        // A run's view keeps every gate bit for bit (f32 → JSON → f32).
        let input = crate::engine::Tensor::pattern([1, 3, 64, 80]);
        let output =
            crate::exec::cpu::forward(&model.graph, &input, &Default::default()).expect("runs");
        let view = RunView::new(&output, model.scores, &model.labels, 5);
        let text = serde_json::to_string(&view).expect("serialises");
        assert_eq!(
            serde_json::from_str::<RunView>(&text).expect("parses"),
            view
        );
    }
}
