//! Models in timm's hub layout (`config.json` + `model.safetensors`) → engine networks.

pub mod config;
mod efficientnet;
mod error;
mod layers;
mod resnet;
mod senet;
mod template;
mod weights;

use std::path::Path;
use std::sync::Arc;

pub use config::{ModelConfig, PhotoPreprocess, PretrainedCfg};
pub use error::ModelError;
pub use weights::Weights;

use crate::engine::{passes, Graph};

const IMAGENET_LABELS: &str = include_str!("../../assets/labels/imagenet1k.txt");

/// A loaded model: its graph (BatchNorm folded, ops fused), and what the UI and CLI need around
/// it.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: ModelConfig,
    pub graph: Arc<Graph>,
    /// One name per class.
    pub labels: Vec<String>,
}

/// The largest model file SE Lens reads (1 GiB: SENet-154 in f32 is 460 MB), checked before
/// anything is read or downloaded.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

impl Model {
    /// Loads a model folder: `config.json` + `model.safetensors` (a `pytorch_model.bin` alone is
    /// refused with a conversion hint).
    pub fn load_dir(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            let io = |source| ModelError::Io {
                path: path.clone(),
                source,
            };
            let size = std::fs::metadata(&path).map_err(io)?.len();
            if size > MAX_MODEL_BYTES {
                return Err(ModelError::TooLarge {
                    what: path.display().to_string(),
                    size,
                });
            }
            std::fs::read(&path).map_err(io)
        };
        let config = read("config.json")?;
        let weights_path = dir.join("model.safetensors");
        if !weights_path.exists() && dir.join("pytorch_model.bin").exists() {
            return Err(ModelError::PickleRefused(dir.join("pytorch_model.bin")));
        }
        Self::from_bytes(&config, &read("model.safetensors")?)
    }

    /// Builds a model from the two files' contents (what the browser has after a fetch or drop).
    pub fn from_bytes(config_json: &[u8], safetensors: &[u8]) -> Result<Self, ModelError> {
        if safetensors.starts_with(b"PK\x03\x04") || safetensors.starts_with(&[0x80, 0x02]) {
            return Err(ModelError::PickleRefused("model.safetensors".into()));
        }
        let config: ModelConfig =
            serde_json::from_slice(config_json).map_err(|e| ModelError::Config(e.to_string()))?;
        config.pretrained_cfg.check().map_err(ModelError::Config)?;
        if let Some(rule) = config.photo_preprocess {
            rule.check().map_err(ModelError::Config)?;
        }
        let weights = Weights::parse(safetensors)?;
        let graph = build_graph(&config, &weights)?;
        weights.ensure_all_used()?;
        let labels = labels(&config);
        Ok(Self {
            config,
            graph: Arc::new(graph),
            labels,
        })
    }
}

/// Recognises the architecture from its timm name and `model_args`, reads its weights, and
/// returns its graph, optimized, once it is checked against the model's input size.
fn build_graph(config: &ModelConfig, weights: &Weights) -> Result<Graph, ModelError> {
    let name = config.architecture.as_str();
    let num_classes = config.num_classes;
    if num_classes == 0 {
        return Err(ModelError::Config(
            "num_classes is 0 (feature extractors have no classes to show)".into(),
        ));
    }
    let mut network = if let Some(mut args) = resnet::ResNetArgs::from_name(name) {
        args.apply(&config.model_args)?;
        resnet::build(&args, num_classes, weights)?
    } else if let Some(mut args) = senet::SeNetArgs::from_name(name) {
        args.apply(&config.model_args)?;
        senet::build(&args, num_classes, weights)?
    } else if let Some(mut args) = efficientnet::EfficientNetArgs::from_name(name) {
        args.apply(&config.model_args)?;
        efficientnet::build(&args, num_classes, weights)?
    } else {
        return Err(ModelError::UnknownArchitecture(name.into()));
    };
    if let Some(torchvision) = &config.torchvision {
        torchvision.rename(&mut network)?;
    }
    let graph = network
        .into_graph()
        .map_err(|e| ModelError::Config(format!("the network does not hold together: {e}")))?;
    let [channels, height, width] = config.pretrained_cfg.input_size;
    graph
        .check_input([1, channels, height, width])
        .map_err(|e| ModelError::Config(format!("pretrained_cfg.input_size: {e}")))?;
    Ok(passes::optimize(graph))
}

fn labels(config: &ModelConfig) -> Vec<String> {
    match &config.label_names {
        Some(names) if names.len() == config.num_classes => names.clone(),
        _ if config.num_classes == 1000 => IMAGENET_LABELS.lines().map(str::to_owned).collect(),
        _ => (0..config.num_classes)
            .map(|i| format!("class {i}"))
            .collect(),
    }
}
