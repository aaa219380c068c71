//! timm's `lcnetv2.py`: PP-LCNetV2 (`lcnetv2_small/base/large`). Depthwise-separable blocks;
//! the last two stages' depthwise convolutions are re-parameterisable (5×5, 3×3 and 1×1 branches
//! with their BatchNorms, summed: one 5×5 convolution here), the third stage has an SE between
//! the depthwise and the pointwise convolutions, and the head is a 1×1 convolution after the pool.

use serde_json::{Map, Value};

use super::args;
use super::layers::{
    classifier, conv_norm, conv_norm_act, make_divisible, squeeze_excite, sum_convs, ConvShape,
    SeStyle,
};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Linear};

/// One of `_STAGE_CFG`'s rows.
struct StageCfg {
    channels: f64,
    dw_kernel: usize,
    split_pw: bool,
    rep: bool,
    se: bool,
    shortcut: bool,
}

const STAGES: [StageCfg; 4] = [
    StageCfg {
        channels: 64.0,
        dw_kernel: 3,
        split_pw: false,
        rep: false,
        se: false,
        shortcut: false,
    },
    StageCfg {
        channels: 128.0,
        dw_kernel: 3,
        split_pw: false,
        rep: false,
        se: false,
        shortcut: false,
    },
    StageCfg {
        channels: 256.0,
        dw_kernel: 5,
        split_pw: true,
        rep: true,
        se: true,
        shortcut: false,
    },
    StageCfg {
        channels: 512.0,
        dw_kernel: 5,
        split_pw: false,
        rep: true,
        se: false,
        shortcut: true,
    },
];

const ACT: Activation = Activation::Relu;

/// `LCNetV2.__init__` arguments that change the computation.
#[derive(Clone, Debug, PartialEq)]
pub struct LcNetV2Args {
    scale: f64,
    depths: [usize; 4],
    head_hidden_size: usize,
    in_chans: usize,
}

impl LcNetV2Args {
    pub fn from_name(name: &str) -> Option<Self> {
        let (scale, depths) = match name {
            "lcnetv2_small" => (0.75, [2, 2, 4, 2]),
            "lcnetv2_base" => (1.0, [2, 2, 6, 2]),
            "lcnetv2_large" => (1.25, [2, 2, 8, 2]),
            _ => return None,
        };
        Some(Self {
            scale,
            depths,
            head_hidden_size: 1280,
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "LCNetV2", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "scale" => self.scale = arg.positive_number()?,
                "head_hidden_size" => self.head_hidden_size = arg.positive_int()?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

pub fn build(
    args: &LcNetV2Args,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let divisible = |v: f64| make_divisible(v * args.scale, 8, 0.9);
    let stem_chs = divisible(32.0);
    let shape = ConvShape::new(args.in_chans, stem_chs, 3, 2);
    let stem = vec![conv_norm_act(weights, "stem.0", shape, ACT)?];
    let first = StageCfg {
        channels: 32.0,
        dw_kernel: 3,
        split_pw: false,
        rep: false,
        se: false,
        shortcut: false,
    };
    let mut in_channels = divisible(64.0);
    let mut blocks = vec![separable(
        weights,
        "stem.1",
        &first,
        (stem_chs, in_channels),
        1,
    )?];
    for (s, cfg) in STAGES.iter().enumerate() {
        let out_channels = divisible(cfg.channels * 2.0);
        for index in 0..args.depths[s] {
            let name = format!("stages.{s}.{index}");
            let stride = if index == 0 { 2 } else { 1 };
            blocks.push(separable(
                weights,
                &name,
                cfg,
                (in_channels, out_channels),
                stride,
            )?);
            in_channels = out_channels;
        }
    }
    // Pool → `conv_head` (1×1, no bias) → ReLU → classifier.
    let hidden = args.head_hidden_size;
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![
            Linear {
                in_features: in_channels,
                out_features: hidden,
                weight: weights.take("conv_head.weight", &[hidden, in_channels, 1, 1])?,
                bias: vec![0.0; hidden],
                act: ACT,
            },
            classifier(weights, "classifier", hidden, num_classes)?,
        ],
    })
}

/// `RepDepthwiseSeparable`: depthwise k×k (or its re-parameterisable branches) → SE → pointwise
/// (one or two 1×1 convolutions), plus the input where enabled and the shape allows.
fn separable(
    weights: &Weights,
    name: &str,
    cfg: &StageCfg,
    (in_channels, out_channels): (usize, usize),
    stride: usize,
) -> Result<Block, ModelError> {
    let conv =
        |module: &str, shape, act| conv_norm_act(weights, &format!("{name}.{module}"), shape, act);
    let dw = |k| ConvShape::new(in_channels, in_channels, k, stride).groups(in_channels);
    let depthwise = if cfg.rep {
        // Kernels k, k − 2, …, 1 (no 1×1 when strided), each with its BatchNorm.
        let kernels = (1..=cfg.dw_kernel)
            .rev()
            .step_by(2)
            .filter(|&k| !(k == 1 && stride != 1));
        let branches = kernels
            .enumerate()
            .map(|(i, k)| conv_norm(weights, &format!("{name}.dw_conv_list.{i}"), dw(k)))
            .collect::<Result<Vec<_>, ModelError>>()?;
        Layer::Conv {
            conv: sum_convs(branches),
            act: ACT,
        }
    } else {
        conv("dw_conv", dw(cfg.dw_kernel), ACT)?
    };
    let se = cfg
        .se
        .then(|| {
            let style = SeStyle {
                reduce: "fc1",
                expand: "fc2",
                act: ACT,
                gate: Activation::Sigmoid,
            };
            squeeze_excite(weights, &format!("{name}.se"), in_channels, style)
        })
        .transpose()?;
    let tail = if cfg.split_pw {
        // `int(out_chs * pw_ratio)`, pw_ratio 0.5.
        let mid = out_channels / 2;
        vec![
            conv("pw_conv.0", ConvShape::new(in_channels, mid, 1, 1), ACT)?,
            conv("pw_conv.1", ConvShape::new(mid, out_channels, 1, 1), ACT)?,
        ]
    } else {
        vec![conv(
            "pw_conv",
            ConvShape::new(in_channels, out_channels, 1, 1),
            ACT,
        )?]
    };
    let residual = (cfg.shortcut && stride == 1 && in_channels == out_channels).then(|| Residual {
        projection: Vec::new(),
        act: Activation::None,
    });
    Ok(Block {
        name: name.into(),
        pre: Vec::new(),
        body: vec![depthwise],
        se,
        tail,
        residual,
    })
}
