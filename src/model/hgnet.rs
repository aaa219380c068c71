//! timm's `hgnet.py`, PP-HGNet (`hgnet_tiny/small/base`): VoVNet-like one-shot aggregation
//! blocks (the input and every 3×3 output concatenated, mixed by a 1×1) with an effective SE
//! whose gate is a sigmoid (`EseModule`), depthwise strided downsampling between stages, and a
//! 1×1 convolution to 2048 features after the pool. (PP-HGNetV2's "se" aggregation is two 1×1
//! convolutions with no squeeze, so it has no SE to show; it is not built.)

use serde_json::{Map, Value};

use super::args;
use super::layers::{classifier, conv_norm_act, linear, ConvShape};
use super::template::{Block, Layer, Network, Residual, SqueezeExcite};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Linear, Pool, PoolKind};

/// One stage: `(in, mid, out, blocks, downsample, layers)` (all of v1's are 3×3, not light).
type StageCfg = (usize, usize, usize, usize, bool, usize);

/// `HighPerfGpuNet`'s configuration and arguments (those that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct HgNetArgs {
    stem: [usize; 3],
    stages: [StageCfg; 4],
    head_hidden_size: Option<usize>,
    in_chans: usize,
}

impl HgNetArgs {
    /// timm's `model_cfgs[name]` for PP-HGNet, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let (stem, stages) = match name {
            "hgnet_tiny" => (
                [48, 48, 96],
                [
                    (96, 96, 224, 1, false, 5),
                    (224, 128, 448, 1, true, 5),
                    (448, 160, 512, 2, true, 5),
                    (512, 192, 768, 1, true, 5),
                ],
            ),
            "hgnet_small" => (
                [64, 64, 128],
                [
                    (128, 128, 256, 1, false, 6),
                    (256, 160, 512, 1, true, 6),
                    (512, 192, 768, 2, true, 6),
                    (768, 224, 1024, 1, true, 6),
                ],
            ),
            "hgnet_base" => (
                [96, 96, 160],
                [
                    (160, 192, 320, 1, false, 7),
                    (320, 224, 640, 2, true, 7),
                    (640, 256, 960, 3, true, 7),
                    (960, 288, 1280, 2, true, 7),
                ],
            ),
            _ => return None,
        };
        Some(Self {
            stem,
            stages,
            head_hidden_size: Some(2048),
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "HGNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "head_hidden_size" => {
                    self.head_hidden_size = match arg.value.is_null() {
                        true => None,
                        false => Some(arg.positive_int()?),
                    }
                }
                "use_lab" if arg.value.as_bool() == Some(false) => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

const ACT: Activation = Activation::Relu;

pub fn build(
    args: &HgNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let conv = |module: &str, shape, act| conv_norm_act(weights, module, shape, act);
    // `StemV1`: three 3×3 ConvBNActs (the first strided), then a max pool.
    let mut stem = Vec::new();
    let mut prev = args.in_chans;
    for (i, &chs) in args.stem.iter().enumerate() {
        let stride = if i == 0 { 2 } else { 1 };
        let shape = ConvShape::new(prev, chs, 3, stride);
        stem.push(conv(&format!("stem.stem.{i}"), shape, ACT)?);
        prev = chs;
    }
    stem.push(Layer::Pool(Pool {
        kind: PoolKind::Max,
        kernel: 3,
        stride: 2,
        padding: 1,
        ceil_mode: false,
    }));
    let mut blocks = Vec::new();
    for (s, &(in_chs, mid, out, count, downsample, layers)) in args.stages.iter().enumerate() {
        let stage = format!("stages.{s}");
        if downsample {
            let shape = ConvShape::new(in_chs, in_chs, 3, 2).groups(in_chs);
            let name = format!("{stage}.downsample");
            blocks.push(Block {
                body: vec![conv(&name, shape, Activation::None)?],
                name,
                pre: Vec::new(),
                se: None,
                tail: Vec::new(),
                residual: None,
            });
        }
        for b in 0..count {
            let name = format!("{stage}.blocks.{b}");
            let block_in = if b == 0 { in_chs } else { out };
            let steps = (0..layers)
                .map(|k| {
                    let from = if k == 0 { block_in } else { mid };
                    let shape = ConvShape::new(from, mid, 3, 1);
                    Ok(vec![conv(&format!("{name}.layers.{k}"), shape, ACT)?])
                })
                .collect::<Result<Vec<_>, ModelError>>()?;
            let total = block_in + layers * mid;
            let aggregate = ConvShape::new(total, out, 1, 1);
            blocks.push(Block {
                pre: Vec::new(),
                body: vec![
                    Layer::Aggregate {
                        reduction: Vec::new(),
                        steps,
                    },
                    conv(&format!("{name}.aggregation.0"), aggregate, ACT)?,
                ],
                se: Some(ese(weights, &format!("{name}.aggregation.1"), out)?),
                tail: Vec::new(),
                // The first block of a stage changes the width: no residual.
                residual: (b > 0).then(|| Residual {
                    projection: Vec::new(),
                    act: Activation::None,
                }),
                name,
            });
        }
        prev = out;
    }
    let mut head = Vec::new();
    if let Some(hidden) = args.head_hidden_size {
        // `last_conv`: a bias-free 1×1 on the pooled features, then a ReLU.
        let weight = weights.take("head.last_conv.0.weight", &[hidden, prev, 1, 1])?;
        head.push(Linear {
            in_features: prev,
            out_features: hidden,
            weight,
            bias: vec![0.0; hidden],
            act: ACT,
        });
        prev = hidden;
    }
    head.push(classifier(weights, "head.fc", prev, num_classes)?);
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head,
    })
}

/// `EseModule`: one 1×1 convolution with bias (`{name}.conv`), then a sigmoid.
fn ese(weights: &Weights, name: &str, channels: usize) -> Result<SqueezeExcite, ModelError> {
    let fc = linear(
        weights,
        &format!("{name}.conv"),
        [channels, channels],
        Activation::Sigmoid,
        true,
    )?;
    Ok(SqueezeExcite {
        name: name.into(),
        channels,
        fcs: vec![fc],
    })
}
