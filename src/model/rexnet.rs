//! timm's `rexnet.py`: ReXNet (`rexnet_*`) and its channel-rounded variant (`rexnetr_*`). Linear
//! bottlenecks whose channels grow by a constant step per block; an SE with a BatchNorm inside;
//! ReLU6 after the SE scale; a shortcut that adds into the first channels of a wider output.

use serde_json::{Map, Value};

use super::args;

use super::layers::{
    classifier, conv_bn, conv_norm_act, make_divisible, squeeze_excite_with_norm, ConvShape,
    SeStyle,
};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::Activation;

/// `RexNet.__init__` arguments that change the computation.
#[derive(Clone, Debug, PartialEq)]
pub struct RexNetArgs {
    width_mult: f64,
    depth_mult: f64,
    /// Channel counts are multiples of this (1 for `rexnet_*`, 8 or 16 for `rexnetr_*`).
    ch_div: usize,
    in_chans: usize,
}

const INITIAL_CHS: f64 = 16.0;
const FINAL_CHS: f64 = 180.0;

impl RexNetArgs {
    pub fn from_name(name: &str) -> Option<Self> {
        let (rounded, width) = match name.strip_prefix("rexnetr_") {
            Some(width) => (true, width),
            None => (false, name.strip_prefix("rexnet_")?),
        };
        let width_mult = match width {
            "100" => 1.0,
            "130" => 1.3,
            "150" => 1.5,
            "200" => 2.0,
            "300" => 3.0,
            _ => return None,
        };
        let ch_div = match (rounded, width) {
            (false, _) => 1,
            (true, "300") => 16,
            (true, _) => 8,
        };
        Some(Self {
            width_mult,
            depth_mult: 1.0,
            ch_div,
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "ReXNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "width_mult" => self.width_mult = arg.positive_number()?,
                "depth_mult" => self.depth_mult = arg.positive_number()?,
                "ch_div" => self.ch_div = arg.positive_int()?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// timm's `make_divisible(v, ch_div)`.
    fn divisible(&self, v: f64) -> usize {
        make_divisible(v, self.ch_div, 0.9)
    }

    /// timm's `_block_cfg`: per block `(out_chs, exp_ratio, stride, se)`.
    fn blocks(&self) -> Vec<(usize, f64, usize, bool)> {
        let layers: Vec<usize> = [1, 2, 2, 3, 3, 5]
            .iter()
            .map(|&l| (l as f64 * self.depth_mult).ceil() as usize)
            .collect();
        let strides = [1, 2, 2, 2, 1, 2];
        let count: usize = layers.iter().sum();
        let mut base = match self.width_mult < 1.0 {
            true => INITIAL_CHS / self.width_mult,
            false => INITIAL_CHS,
        };
        let mut out = Vec::with_capacity(count);
        for (stage, &n) in layers.iter().enumerate() {
            for i in 0..n {
                let channels = self.divisible((base * self.width_mult).round_ties_even());
                base += FINAL_CHS / count as f64;
                let stride = if i == 0 { strides[stage] } else { 1 };
                let expansion = if stage == 0 { 1.0 } else { 6.0 };
                out.push((channels, expansion, stride, stage >= 2));
            }
        }
        out
    }
}

pub fn build(
    args: &RexNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let swish = Activation::Silu;
    let stem_base = match args.width_mult < 1.0 {
        true => 32.0 / args.width_mult,
        false => 32.0,
    };
    let stem_chs = args.divisible((stem_base * args.width_mult).round_ties_even());
    let stem_shape = ConvShape::new(args.in_chans, stem_chs, 3, 2);
    let stem = vec![conv_bn(weights, "stem.conv", "stem.bn", stem_shape, swish)?];
    let mut blocks = Vec::new();
    let mut in_chs = stem_chs;
    for (index, (out_chs, expansion, stride, se)) in args.blocks().into_iter().enumerate() {
        let name = format!("features.{index}");
        let conv = |module: &str, shape, act| {
            conv_norm_act(weights, &format!("{name}.{module}"), shape, act)
        };
        let mut body = Vec::new();
        let dw_chs = if expansion != 1.0 {
            let dw_chs = args.divisible((in_chs as f64 * expansion).round_ties_even());
            body.push(conv(
                "conv_exp",
                ConvShape::new(in_chs, dw_chs, 1, 1),
                swish,
            )?);
            dw_chs
        } else {
            in_chs
        };
        let depthwise = ConvShape::new(dw_chs, dw_chs, 3, stride).groups(dw_chs);
        body.push(conv("conv_dw", depthwise, Activation::None)?);
        let style = SeStyle {
            reduce: "fc1",
            expand: "fc2",
            act: Activation::Relu,
            gate: Activation::Sigmoid,
        };
        let se = se
            .then(|| squeeze_excite_with_norm(weights, &format!("{name}.se"), dw_chs, style))
            .transpose()?;
        let tail = vec![
            Layer::Act(Activation::Relu6),
            conv(
                "conv_pwl",
                ConvShape::new(dw_chs, out_chs, 1, 1),
                Activation::None,
            )?,
        ];
        let shortcut = stride == 1 && in_chs <= out_chs;
        blocks.push(Block {
            name,
            pre: Vec::new(),
            body,
            se,
            tail,
            residual: shortcut.then(|| Residual {
                projection: Vec::new(),
                act: Activation::None,
            }),
        });
        in_chs = out_chs;
    }
    let pen_chs = args.divisible(1280.0 * args.width_mult);
    let last = blocks.len();
    let head_conv = ConvShape::new(in_chs, pen_chs, 1, 1);
    let neck = vec![conv_bn(
        weights,
        &format!("features.{last}.conv"),
        &format!("features.{last}.bn"),
        head_conv,
        swish,
    )?];
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head: vec![classifier(weights, "head.fc", pen_chs, num_classes)?],
    })
}
