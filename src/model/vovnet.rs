//! timm's `vovnet.py`: VoVNet-v2 with effective SE (`ese_vovnet19b_dw`, `ese_vovnet39b`, …) and
//! the plain VoVNet-v1 (`vovnet39a`, `vovnet57a`). One-shot aggregation blocks concatenate the
//! input with every intermediate 3×3 output, a 1×1 convolution mixes them, and the last block of
//! each stage gates its channels with an eSE (one FC, hard sigmoid).

use serde_json::{Map, Value};

use super::args;

use super::layers::{classifier, conv_bn, effective_se, read_conv, ConvShape};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Pool, PoolKind};

/// One of timm's `model_cfgs`.
#[derive(Clone, Debug, PartialEq)]
pub struct VovNetArgs {
    stem: [usize; 3],
    conv: [usize; 4],
    out: [usize; 4],
    layers_per_block: usize,
    blocks_per_stage: [usize; 4],
    residual: bool,
    depthwise: bool,
    ese: bool,
    in_chans: usize,
}

impl VovNetArgs {
    pub fn from_name(name: &str) -> Option<Self> {
        let wide = ([128, 160, 192, 224], [256, 512, 768, 1024]);
        let slim = ([64, 80, 96, 112], [112, 256, 384, 512]);
        let v2 = |stem, (conv, out), layers, blocks, depthwise| Self {
            stem,
            conv,
            out,
            layers_per_block: layers,
            blocks_per_stage: blocks,
            residual: true,
            depthwise,
            ese: true,
            in_chans: 3,
        };
        let narrow_stem = [64, 64, 64];
        let stem = [64, 64, 128];
        Some(match name {
            "vovnet39a" | "vovnet57a" => Self {
                residual: false,
                ese: false,
                ..v2(
                    stem,
                    wide,
                    5,
                    match name {
                        "vovnet39a" => [1, 1, 2, 2],
                        _ => [1, 1, 4, 3],
                    },
                    false,
                )
            },
            "ese_vovnet19b_slim_dw" => v2(narrow_stem, slim, 3, [1; 4], true),
            "ese_vovnet19b_dw" => v2(narrow_stem, wide, 3, [1; 4], true),
            "ese_vovnet19b_slim" => v2(stem, slim, 3, [1; 4], false),
            "ese_vovnet19b" => v2(stem, wide, 3, [1; 4], false),
            "ese_vovnet39b" => v2(stem, wide, 5, [1, 1, 2, 2], false),
            "ese_vovnet57b" => v2(stem, wide, 5, [1, 1, 4, 3], false),
            "ese_vovnet99b" => v2(stem, wide, 5, [1, 3, 9, 3], false),
            _ => return None,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "VoVNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "stem_stride" if arg.value.as_u64() == Some(4) => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

pub fn build(
    args: &VovNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let relu = Activation::Relu;
    // `ConvNormAct` (`.conv`, `.bn`) or, in the depthwise models, `SeparableConvNormAct`
    // (`.conv_dw` without a norm, `.conv_pw`, `.bn`).
    let conv_norm_act = |name: &str, from: usize, to: usize, kernel: usize, stride: usize| {
        let shape = ConvShape::new(from, to, kernel, stride);
        conv_bn(
            weights,
            &format!("{name}.conv"),
            &format!("{name}.bn"),
            shape,
            relu,
        )
    };
    let separable =
        |name: &str, from: usize, to: usize, stride: usize| -> Result<Vec<Layer>, ModelError> {
            let depthwise = ConvShape::new(from, from, 3, stride).groups(from);
            let pointwise = ConvShape::new(from, to, 1, 1);
            Ok(vec![
                Layer::Conv {
                    conv: read_conv(weights, &format!("{name}.conv_dw"), depthwise)?,
                    act: Activation::None,
                },
                conv_bn(
                    weights,
                    &format!("{name}.conv_pw"),
                    &format!("{name}.bn"),
                    pointwise,
                    relu,
                )?,
            ])
        };
    let mid_conv =
        |name: &str, from: usize, to: usize, stride: usize| -> Result<Vec<Layer>, ModelError> {
            match args.depthwise {
                true => separable(name, from, to, stride),
                false => Ok(vec![conv_norm_act(name, from, to, 3, stride)?]),
            }
        };
    let [s0, s1, s2] = args.stem;
    let mut stem = vec![conv_norm_act("stem.0", args.in_chans, s0, 3, 2)?];
    stem.extend(mid_conv("stem.1", s0, s1, 1)?);
    stem.extend(mid_conv("stem.2", s1, s2, 2)?);

    let mut blocks = Vec::new();
    let mut in_chs = s2;
    for stage in 0..4 {
        let (mid, out) = (args.conv[stage], args.out[stage]);
        let count = args.blocks_per_stage[stage];
        for index in 0..count {
            let name = format!("stages.{stage}.blocks.{index}");
            let mut body = Vec::new();
            if stage > 0 && index == 0 {
                body.push(Layer::Pool(Pool {
                    kind: PoolKind::Max,
                    kernel: 3,
                    stride: 2,
                    padding: 0,
                    ceil_mode: true,
                }));
            }
            let reduction = match args.depthwise && in_chs != mid {
                true => vec![conv_norm_act(
                    &format!("{name}.conv_reduction"),
                    in_chs,
                    mid,
                    1,
                    1,
                )?],
                false => Vec::new(),
            };
            let mut steps = Vec::new();
            let mut from = if reduction.is_empty() { in_chs } else { mid };
            for k in 0..args.layers_per_block {
                steps.push(mid_conv(&format!("{name}.conv_mid.{k}"), from, mid, 1)?);
                from = mid;
            }
            body.push(Layer::Aggregate { reduction, steps });
            let concat_chs = in_chs + args.layers_per_block * mid;
            body.push(conv_norm_act(
                &format!("{name}.conv_concat"),
                concat_chs,
                out,
                1,
                1,
            )?);
            let se = (args.ese && index + 1 == count)
                .then(|| effective_se(weights, &format!("{name}.attn"), out))
                .transpose()?;
            let residual = (args.residual && index > 0).then(|| Residual {
                projection: Vec::new(),
                act: Activation::None,
            });
            blocks.push(Block {
                name,
                pre: Vec::new(),
                body,
                se,
                tail: Vec::new(),
                residual,
            });
            in_chs = out;
        }
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![classifier(weights, "head.fc", in_chs, num_classes)?],
    })
}
