//! timm's `cspnext.py`: CSPNeXt, RTMDet's backbone (`cspnext_tiny/s/m/l/x`). Each stage is a
//! strided 3×3 convolution, then a CSP layer: a 1×1 "main" path through blocks of a 3×3 and a
//! 5×5 depthwise-separable convolution, a 1×1 "short" path, both concatenated, an effective SE
//! over the concatenation (`attention`), and a 1×1 to mix them. The last stage puts a spatial
//! pyramid pooling bottleneck before its CSP layer, and its blocks have no residual.

use serde_json::{Map, Value};

use super::args;
use super::layers::{classifier, conv_norm_act, effective_se, ConvShape};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Pool, PoolKind};

const ACT: Activation = Activation::Silu;

/// `CspNext`'s constructor arguments (those that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct CspNextArgs {
    depths: Vec<usize>,
    channels: Vec<usize>,
    deepen_factor: f64,
    widen_factor: f64,
    expand_ratio: f64,
    channel_attention: bool,
    in_chans: usize,
}

impl CspNextArgs {
    /// timm's `cspnext_*` registrations, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let (deepen_factor, widen_factor) = match name {
            "cspnext_tiny" => (0.167, 0.375),
            "cspnext_s" => (0.33, 0.5),
            "cspnext_m" => (0.67, 0.75),
            "cspnext_l" => (1.0, 1.0),
            "cspnext_x" => (1.33, 1.25),
            _ => return None,
        };
        Some(Self {
            depths: vec![3, 6, 6, 3],
            channels: vec![128, 256, 512, 1024],
            deepen_factor,
            widen_factor,
            expand_ratio: 0.5,
            channel_attention: true,
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "CSPNeXt", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "depths" => self.depths = arg.positive_ints()?,
                "channels" => self.channels = arg.positive_ints()?,
                "deepen_factor" => self.deepen_factor = arg.positive_number()?,
                "widen_factor" => self.widen_factor = arg.positive_number()?,
                "expand_ratio" => self.expand_ratio = arg.positive_number()?,
                "channel_attention" => self.channel_attention = arg.flag()?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if self.depths.len() != self.channels.len() {
            return Err(ModelError::ModelArg {
                name: "depths".into(),
                reason: "depths and channels must have the same length".into(),
            });
        }
        Ok(())
    }
}

pub fn build(
    args: &CspNextArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let conv = |module: &str, shape, act| conv_norm_act(weights, module, shape, act);
    // Python's `round` (ties to even) on the scaled depth, `int` on the scaled width.
    let depths = args
        .depths
        .iter()
        .map(|&d| ((d as f64 * args.deepen_factor).round_ties_even() as usize).max(1));
    let channels = args
        .channels
        .iter()
        .map(|&c| (c as f64 * args.widen_factor) as usize)
        .collect::<Vec<_>>();
    let stem_chs = (channels[0] / 2).max(1);
    let half_chs = (stem_chs / 2).max(1);
    let stem = vec![
        conv("stem.0", ConvShape::new(args.in_chans, half_chs, 3, 2), ACT)?,
        conv("stem.1", ConvShape::new(half_chs, half_chs, 3, 1), ACT)?,
        conv("stem.2", ConvShape::new(half_chs, stem_chs, 3, 1), ACT)?,
    ];
    let mut blocks = Vec::new();
    let mut prev = stem_chs;
    let count = channels.len();
    for (s, (&chs, depth)) in channels.iter().zip(depths).enumerate() {
        let name = format!("stages.{s}");
        let last = s + 1 == count;
        let mut body = vec![conv(
            &format!("{name}.0"),
            ConvShape::new(prev, chs, 3, 2),
            ACT,
        )?];
        if last {
            body.extend(spp(weights, &format!("{name}.1"), chs)?);
        }
        blocks.push(Block {
            name: name.clone(),
            pre: Vec::new(),
            body,
            se: None,
            tail: Vec::new(),
            residual: None,
        });
        let index = if last { 2 } else { 1 };
        let layer = format!("{name}.{index}");
        blocks.push(csp_layer(args, weights, &layer, chs, depth, !last)?);
        prev = chs;
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![classifier(weights, "head.fc", prev, num_classes)?],
    })
}

/// `SPPBottleneck`: a 1×1 to half the channels, concatenated with its 5×5, 9×9 and 13×13
/// stride-1 max pools, and a 1×1 back to `channels`.
fn spp(weights: &Weights, name: &str, channels: usize) -> Result<Vec<Layer>, ModelError> {
    let mid = channels / 2;
    let pool = |kernel: usize| {
        vec![Layer::Pool(Pool {
            kind: PoolKind::Max,
            kernel,
            stride: 1,
            padding: kernel / 2,
            ceil_mode: false,
        })]
    };
    let pools = [5, 9, 13];
    let mut branches = vec![Vec::new()];
    branches.extend(pools.map(pool));
    let wide = mid * (pools.len() + 1);
    Ok(vec![
        conv_norm_act(
            weights,
            &format!("{name}.conv1"),
            ConvShape::new(channels, mid, 1, 1),
            ACT,
        )?,
        Layer::Concat(branches),
        conv_norm_act(
            weights,
            &format!("{name}.conv2"),
            ConvShape::new(wide, channels, 1, 1),
            ACT,
        )?,
    ])
}

/// `CspNextLayer`: `final_conv(attention(concat(blocks(main_conv(x)), short_conv(x))))`.
fn csp_layer(
    args: &CspNextArgs,
    weights: &Weights,
    name: &str,
    channels: usize,
    depth: usize,
    residual: bool,
) -> Result<Block, ModelError> {
    let conv =
        |module: &str, shape, act| conv_norm_act(weights, &format!("{name}.{module}"), shape, act);
    let mid = (channels as f64 * args.expand_ratio) as usize;
    let mut main = vec![conv("main_conv", ConvShape::new(channels, mid, 1, 1), ACT)?];
    for i in 0..depth {
        let block = format!("{name}.blocks.{i}");
        let conv =
            |module: &str, shape| conv_norm_act(weights, &format!("{block}.{module}"), shape, ACT);
        main.push(Layer::Block(Box::new(Block {
            name: block.clone(),
            pre: Vec::new(),
            body: vec![
                conv("conv1", ConvShape::new(mid, mid, 3, 1))?,
                conv(
                    "conv2.depthwise_conv",
                    ConvShape::new(mid, mid, 5, 1).groups(mid),
                )?,
                conv("conv2.pointwise_conv", ConvShape::new(mid, mid, 1, 1))?,
            ],
            se: None,
            tail: Vec::new(),
            residual: residual.then(|| Residual {
                projection: Vec::new(),
                act: Activation::None,
            }),
        })));
    }
    let short = vec![conv(
        "short_conv",
        ConvShape::new(channels, mid, 1, 1),
        ACT,
    )?];
    let se = match args.channel_attention {
        true => Some(effective_se(
            weights,
            &format!("{name}.attention"),
            2 * mid,
        )?),
        false => None,
    };
    Ok(Block {
        name: name.into(),
        pre: Vec::new(),
        body: vec![Layer::Concat(vec![main, short])],
        se,
        tail: vec![conv(
            "final_conv",
            ConvShape::new(2 * mid, channels, 1, 1),
            ACT,
        )?],
        residual: None,
    })
}
