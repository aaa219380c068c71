//! Models → engine graphs: folders in timm's hub layout (`config.json` + `model.safetensors`),
//! and ONNX files (`onnx`).

mod args;
mod byobnet;
pub mod config;
mod cspnet;
mod cspnext;
mod efficientnet;
mod error;
mod float16;
mod ghostnet;
mod hgnet;
mod layers;
mod lcnetv2;
mod nfnet;
pub mod onnx;
mod regnet;
mod repvit;
mod resnet;
mod rexnet;
mod senet;
mod template;
mod tresnet;
mod vovnet;
mod weights;

use std::path::Path;
use std::sync::Arc;

pub use config::{ModelConfig, PhotoPreprocess, PretrainedCfg};
pub use error::ModelError;
pub use weights::Weights;

pub use crate::engine::Scores;
use crate::engine::{passes, Graph};
use template::Network;

const IMAGENET_LABELS: &str = include_str!("../../assets/labels/imagenet1k.txt");

/// A loaded model: its graph (BatchNorm folded, ops fused), and what the UI and CLI need around
/// it.
#[derive(Clone, Debug)]
pub struct Model {
    pub config: ModelConfig,
    pub graph: Arc<Graph>,
    /// One name per class.
    pub labels: Vec<String>,
    /// What the graph's output holds.
    pub scores: Scores,
    /// For an ONNX file: its opset and the `metadata_props` it carries.
    pub onnx: Option<OnnxInfo>,
}

/// What an ONNX file says about itself (the page shows it beside the preprocessing it chose).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OnnxInfo {
    pub opset: i64,
    /// The model takes B, G, R: the graph reverses the RGB input.
    pub bgr: bool,
    pub metadata: Vec<(String, String)>,
    /// The file leaves its input's height and width open (the size is then a choice).
    pub open_size: bool,
    /// The scale `mean` and `std` were given on ([`OnnxOptions::scale`]; 1 if none).
    pub scale: f32,
    /// The graph's name (Model Explorer's graph id).
    pub graph_name: String,
    /// `(SE block, ONNX node computing its gate)`: Model Explorer's node ids for the gates.
    pub gate_nodes: Vec<(String, String)>,
}

/// How to prepare images for an ONNX file, which carries no preprocessing of its own: the
/// CLI's flags or sidecar JSON, the page's form. Unset fields are ImageNet's (timm's defaults).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxOptions {
    /// `[height, width]` for a file whose input size is open (224×224 if unset).
    pub input_size: Option<[usize; 2]>,
    /// Per channel, on the 0–1 scale (or on `scale`'s).
    pub mean: Option<Vec<f32>>,
    pub std: Option<Vec<f32>>,
    /// 255 when the model takes pixels 0–255 (`mean` and `std` then on that scale too).
    pub scale: Option<f32>,
    /// `bilinear` or `bicubic`.
    pub interpolation: Option<String>,
    pub crop_pct: Option<f64>,
    /// One per class.
    pub labels: Option<Vec<String>>,
    /// The order the model takes the colour channels in (`mean` and `std` are in it too).
    pub channel_order: Option<ChannelOrder>,
}

/// The order of a model's colour channels: RGB (PyTorch, Keras) or BGR (OpenCV-trained
/// models, Caffe).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    #[default]
    Rgb,
    Bgr,
}

impl OnnxOptions {
    /// These options, with `other`'s where these have none.
    pub fn or(self, other: OnnxOptions) -> OnnxOptions {
        OnnxOptions {
            input_size: self.input_size.or(other.input_size),
            mean: self.mean.or(other.mean),
            std: self.std.or(other.std),
            scale: self.scale.or(other.scale),
            interpolation: self.interpolation.or(other.interpolation),
            crop_pct: self.crop_pct.or(other.crop_pct),
            labels: self.labels.or(other.labels),
            channel_order: self.channel_order.or(other.channel_order),
        }
    }

    /// An input size as the CLI and the page's URL write it: `224` or `256x192` (height × width).
    pub fn parse_size(text: &str) -> Result<[usize; 2], String> {
        let parse = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("'{text}' is not an input size like 224 or 256x192"))
        };
        match text.split_once(['x', 'X']) {
            Some((h, w)) => Ok([parse(h)?, parse(w)?]),
            None => parse(text).map(|n| [n, n]),
        }
    }

    /// Class names from a labels file: a JSON list, or one per line (blank lines skipped).
    pub fn parse_labels(text: &str) -> Vec<String> {
        match serde_json::from_str::<Vec<String>>(text) {
            Ok(list) => list,
            Err(_) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Whether an external-data location is a plain relative path (a file beside the model, or
/// below it), never one that climbs out or is absolute.
pub fn is_plain_relative(location: &str) -> bool {
    let path = Path::new(location);
    !location.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The timm families the builders read, as the message for an unknown architecture names them.
pub const FAMILIES: &str = "resnet, seresnet, resnext, seresnext (every stem and downsample \
    variant, anti-aliased resnetaa/seresnetaa/seresnextaa, attn_layer se or ese), resnetrs, \
    senet154, tresnet_m/l/xl/v2_l, legacy_seresnet, legacy_seresnext, legacy_senet154, regnetx, regnety, regnetv, \
    regnetz (regnetz_005/040 and byobnet's regnetz_b16…e8), seresnext26ts, seresnet33ts, repvgg_d2se (and \
    resnext26ts, resnet32ts/33ts), nfnet_f0…f7, dm_nfnet_f0…f6, nfnet_l0, nf_regnet_b0…b5, \
    nf_seresnet26/50/101 (and nf_resnet), cs3sedarknet_l/x/xdw, cs3se_edgenet_x, sedarknet21 (and cs3darknet_s/m/l/x, \
    cs3edgenet_x, darknet17/21/53), cspnext_tiny/s/m/l/x, repvit_m0_9…m2_3 and m1/m2/m3, mobileone_s4 (and s0…s3), rexnet, rexnetr, ghostnet, ghostnetv2, ghostnetv3, repghostnet, ese_vovnet, vovnet, hgnet_tiny/small/base, efficientnet_b0…b8/l2, efficientnetv2, mixnet, mnasnet, semnasnet, tinynet, mobilenetv3, fbnetv3, hardcorenas, lcnet, lcnetv2 \
    (and their tf_ ports)";

/// The largest model file SE Lens reads (1 GiB: SENet-154 in f32 is 460 MB), checked before
/// anything is read or downloaded.
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

impl Model {
    /// Loads a model folder: `config.json` + `model.safetensors` (a `pytorch_model.bin` alone is
    /// refused with a conversion hint).
    pub fn load_dir(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| read_limited(&dir.join(name));
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
            scores: Scores::Logits,
            onnx: None,
        })
    }

    /// Loads a model folder, or an `.onnx` file (its external data read from beside it).
    pub fn load(path: &Path, options: &OnnxOptions) -> Result<Self, ModelError> {
        let onnx = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
        if !onnx && !path.is_file() {
            return Self::load_dir(path);
        }
        let bytes = read_limited(path)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut external = |location: &str| -> Result<Arc<Vec<u8>>, String> {
            if !is_plain_relative(location) {
                return Err(format!(
                    "external data location '{location}' is not a file beside the model"
                ));
            }
            read_limited(&dir.join(location))
                .map(Arc::new)
                .map_err(|e| e.to_string())
        };
        let name = path
            .file_name()
            .map_or_else(|| "model.onnx".into(), |n| n.to_string_lossy().into_owned());
        Self::from_onnx(&name, &bytes, &mut external, options)
    }

    /// Builds a model from an ONNX file's contents (`name` is what the page and CLI call it).
    pub fn from_onnx(
        name: &str,
        bytes: &[u8],
        external: &mut onnx::External<'_>,
        options: &OnnxOptions,
    ) -> Result<Self, ModelError> {
        let bgr = options.channel_order == Some(ChannelOrder::Bgr);
        let imported = onnx::import(bytes, external, options.input_size, bgr)?;
        let [channels, height, width] = imported.input_size;
        let classes = imported.graph.values[imported.graph.output].channels;
        let scale = options.scale.unwrap_or(1.0);
        // Preprocessing makes RGB; a BGR model's mean and std are reversed to match.
        let per_channel = |given: &Option<Vec<f32>>, imagenet: [f32; 3]| -> Vec<f32> {
            match given {
                Some(values) if bgr => values.iter().rev().map(|v| v / scale).collect(),
                Some(values) => values.iter().map(|v| v / scale).collect(),
                None if channels == 3 => imagenet.to_vec(),
                None => vec![imagenet.iter().sum::<f32>() / 3.0],
            }
        };
        let pretrained_cfg = PretrainedCfg {
            input_size: [channels, height, width],
            mean: per_channel(&options.mean, [0.485, 0.456, 0.406]),
            std: per_channel(&options.std, [0.229, 0.224, 0.225]),
            interpolation: options
                .interpolation
                .clone()
                .unwrap_or_else(|| "bilinear".into()),
            crop_pct: options.crop_pct.unwrap_or(0.875),
            crop_mode: "center".into(),
        };
        pretrained_cfg.check().map_err(ModelError::Config)?;
        if let Some(labels) = &options.labels {
            if labels.len() != classes {
                return Err(ModelError::Config(format!(
                    "{} labels for a model with {classes} outputs",
                    labels.len()
                )));
            }
        }
        let config = ModelConfig {
            architecture: name.to_owned(),
            num_classes: classes,
            model_args: Default::default(),
            pretrained_cfg,
            label_names: options.labels.clone(),
            photo_preprocess: None,
            torchvision: None,
        };
        Ok(Self {
            labels: labels(&config),
            config,
            graph: Arc::new(imported.graph),
            scores: match imported.probabilities {
                true => Scores::Probabilities,
                false => Scores::Logits,
            },
            onnx: Some(OnnxInfo {
                opset: imported.opset,
                bgr,
                metadata: imported.metadata,
                open_size: imported.open_size,
                scale,
                graph_name: imported.graph_name,
                gate_nodes: imported.gate_nodes,
            }),
        })
    }
}

/// A file's bytes, refused above [`MAX_MODEL_BYTES`] before it is read.
fn read_limited(path: &Path) -> Result<Vec<u8>, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_MODEL_BYTES {
        return Err(ModelError::TooLarge {
            what: path.display().to_string(),
            size,
        });
    }
    std::fs::read(path).map_err(io)
}

/// A timm family's builder with its arguments, as its architecture name gives them.
enum Builder {
    ResNet(resnet::ResNetArgs),
    SeNet(senet::SeNetArgs),
    EfficientNet(efficientnet::EfficientNetArgs),
    RegNet(regnet::RegNetArgs),
    RexNet(rexnet::RexNetArgs),
    GhostNet(ghostnet::GhostNetArgs),
    VovNet(vovnet::VovNetArgs),
    HgNet(hgnet::HgNetArgs),
    Byob(byobnet::ByobArgs),
    Nf(nfnet::NfArgs),
    Csp(cspnet::CspArgs),
    CspNext(cspnext::CspNextArgs),
    RepVit(repvit::RepVitArgs),
    TResNet(tresnet::TResNetArgs),
    LcNetV2(lcnetv2::LcNetV2Args),
}

impl Builder {
    fn from_name(name: &str) -> Option<Self> {
        None.or_else(|| resnet::ResNetArgs::from_name(name).map(Self::ResNet))
            .or_else(|| senet::SeNetArgs::from_name(name).map(Self::SeNet))
            .or_else(|| efficientnet::EfficientNetArgs::from_name(name).map(Self::EfficientNet))
            .or_else(|| regnet::RegNetArgs::from_name(name).map(Self::RegNet))
            .or_else(|| rexnet::RexNetArgs::from_name(name).map(Self::RexNet))
            .or_else(|| ghostnet::GhostNetArgs::from_name(name).map(Self::GhostNet))
            .or_else(|| vovnet::VovNetArgs::from_name(name).map(Self::VovNet))
            .or_else(|| hgnet::HgNetArgs::from_name(name).map(Self::HgNet))
            .or_else(|| byobnet::ByobArgs::from_name(name).map(Self::Byob))
            .or_else(|| nfnet::NfArgs::from_name(name).map(Self::Nf))
            .or_else(|| cspnet::CspArgs::from_name(name).map(Self::Csp))
            .or_else(|| cspnext::CspNextArgs::from_name(name).map(Self::CspNext))
            .or_else(|| repvit::RepVitArgs::from_name(name).map(Self::RepVit))
            .or_else(|| tresnet::TResNetArgs::from_name(name).map(Self::TResNet))
            .or_else(|| lcnetv2::LcNetV2Args::from_name(name).map(Self::LcNetV2))
    }

    /// `model_args` applied, the weights read: the network.
    fn build(
        self,
        model_args: &serde_json::Map<String, serde_json::Value>,
        num_classes: usize,
        weights: &Weights,
    ) -> Result<Network, ModelError> {
        // Each family's builder apart: a model's first load in the browser compiled all of them,
        // 200 KB of wasm, ~45 ms (Chromium's trace of the app's first result, wasm.CompileLazy).
        macro_rules! build {
            ($family:ident, $args:ident) => {{
                crate::apart(|| {
                    let mut args = $args;
                    args.apply(model_args)?;
                    $family::build(&args, num_classes, weights)
                })
            }};
        }
        match self {
            Self::ResNet(args) => build!(resnet, args),
            Self::SeNet(args) => build!(senet, args),
            Self::EfficientNet(args) => build!(efficientnet, args),
            Self::RegNet(args) => build!(regnet, args),
            Self::RexNet(args) => build!(rexnet, args),
            Self::GhostNet(args) => build!(ghostnet, args),
            Self::VovNet(args) => build!(vovnet, args),
            Self::HgNet(args) => build!(hgnet, args),
            Self::Byob(args) => build!(byobnet, args),
            Self::Nf(args) => build!(nfnet, args),
            Self::Csp(args) => build!(cspnet, args),
            Self::CspNext(args) => build!(cspnext, args),
            Self::RepVit(args) => build!(repvit, args),
            Self::TResNet(args) => build!(tresnet, args),
            Self::LcNetV2(args) => build!(lcnetv2, args),
        }
    }
}

/// Whether a timm architecture name is one the builders know (its `model_args` may still be
/// refused).
pub fn builds(name: &str) -> bool {
    Builder::from_name(name).is_some()
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
    let Some(builder) = Builder::from_name(name) else {
        return Err(ModelError::UnknownArchitecture(name.into()));
    };
    let mut network = builder.build(&config.model_args, num_classes, weights)?;
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
