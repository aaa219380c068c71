//! timm's EfficientNet and MobileNetV3 (both built by `timm.models._efficientnet_builder`):
//! `efficientnet_b0…b7`, `tf_efficientnet_b0…b7`, `mobilenetv3_large_075/100` and
//! `mobilenetv3_small_050/075/100`. Their architectures are timm's block strings
//! (`ir_r2_k3_s2_e6_c24_se0.25`), decoded and scaled exactly as timm does.

use serde_json::{Map, Value};

use super::layers::{classifier, conv_bn_eps, linear, squeeze_excite, ConvShape, SeStyle, BN_EPS};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::Activation;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    EfficientNet,
    MobileNetV3Large,
    MobileNetV3Small,
}

/// What timm's generator functions pass for a registered name, plus the `model_args` applied.
#[derive(Clone, Debug, PartialEq)]
pub struct EfficientNetArgs {
    family: Family,
    channel_multiplier: f64,
    depth_multiplier: f64,
    /// TensorFlow "SAME" padding (`pad_type='same'`, the `tf_` variants).
    same_padding: bool,
    bn_eps: f64,
    in_chans: usize,
}

/// `tf_efficientnet_*`'s BatchNorm ε (timm's `BN_EPS_TF_DEFAULT`).
const BN_EPS_TF: f64 = 1e-3;

impl EfficientNetArgs {
    pub fn from_name(name: &str) -> Option<Self> {
        let (tf, rest) = match name.strip_prefix("tf_") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let args = |family, channel_multiplier, depth_multiplier| Self {
            family,
            channel_multiplier,
            depth_multiplier,
            same_padding: tf,
            bn_eps: if tf { BN_EPS_TF } else { BN_EPS },
            in_chans: 3,
        };
        if let Some(variant) = rest.strip_prefix("efficientnet_b") {
            let (width, depth) = match variant {
                "0" => (1.0, 1.0),
                "1" => (1.0, 1.1),
                "2" => (1.1, 1.2),
                "3" => (1.2, 1.4),
                "4" => (1.4, 1.8),
                "5" => (1.6, 2.2),
                "6" => (1.8, 2.6),
                "7" => (2.0, 3.1),
                _ => return None,
            };
            return Some(args(Family::EfficientNet, width, depth));
        }
        // timm's tf_mobilenetv3_* differ in more than padding; only timm's own are known here.
        let (family, width) = rest.strip_prefix("mobilenetv3_")?.split_once('_')?;
        let family = match family {
            "large" if !tf => Family::MobileNetV3Large,
            "small" if !tf => Family::MobileNetV3Small,
            _ => return None,
        };
        let width = match (family, width) {
            (Family::MobileNetV3Small, "050") => 0.5,
            (_, "075") => 0.75,
            (_, "100") => 1.0,
            _ => return None,
        };
        Some(args(family, width, 1.0))
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        for (name, value) in model_args {
            let bad = |reason: &str| ModelError::ModelArg {
                name: name.clone(),
                reason: reason.into(),
            };
            match name.as_str() {
                "in_chans" => {
                    self.in_chans = value
                        .as_u64()
                        .filter(|&v| v > 0)
                        .ok_or_else(|| bad("expected a positive integer"))?
                        as usize
                }
                "bn_eps" => {
                    self.bn_eps = value
                        .as_f64()
                        .filter(|&v| v > 0.0)
                        .ok_or_else(|| bad("expected a positive number"))?
                }
                "pad_type" => {
                    self.same_padding = match value.as_str() {
                        Some("") => false,
                        Some("same") => true,
                        _ => return Err(bad("expected '' or 'same'")),
                    }
                }
                "global_pool" if value.as_str() == Some("avg") => {}
                // Training-only: no effect in eval mode.
                "drop_rate" | "drop_path_rate" | "num_classes" => {}
                _ => {
                    return Err(bad(
                        "this argument is not supported by SE Lens's EfficientNet",
                    ))
                }
            }
        }
        Ok(())
    }
}

/// One entry of a timm architecture string, e.g. `ir_r2_k3_s2_e6_c24_se0.25_nre`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct BlockSpec {
    kind: BlockKind,
    repeats: usize,
    kernel: usize,
    stride: usize,
    expansion: f64,
    out_channels: usize,
    se: bool,
    /// `nre`: ReLU instead of the model's activation.
    relu: bool,
    noskip: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// `ds`: depthwise → SE → pointwise (`DepthwiseSeparableConv`).
    DepthwiseSeparable,
    /// `ir`: pointwise expansion → depthwise → SE → pointwise projection (`InvertedResidual`).
    InvertedResidual,
    /// `cn`: convolution → BatchNorm → activation (`ConvBnAct`).
    ConvBnAct,
}

impl BlockSpec {
    fn parse(spec: &'static str) -> Self {
        let mut parts = spec.split('_');
        let kind = match parts.next() {
            Some("ds") => BlockKind::DepthwiseSeparable,
            Some("ir") => BlockKind::InvertedResidual,
            Some("cn") => BlockKind::ConvBnAct,
            _ => unreachable!("{spec}: a block kind of this file's tables"),
        };
        let mut block = Self {
            kind,
            repeats: 1,
            kernel: 3,
            stride: 1,
            expansion: 1.0,
            out_channels: 0,
            se: false,
            relu: false,
            noskip: false,
        };
        for part in parts {
            let number = |prefix: &str| part[prefix.len()..].parse::<f64>().expect(spec);
            match part {
                "nre" => block.relu = true,
                "noskip" => block.noskip = true,
                _ if part.starts_with("se") => block.se = number("se") > 0.0,
                _ if part.starts_with('r') => block.repeats = number("r") as usize,
                _ if part.starts_with('k') => block.kernel = number("k") as usize,
                _ if part.starts_with('s') => block.stride = number("s") as usize,
                _ if part.starts_with('e') => block.expansion = number("e"),
                _ if part.starts_with('c') => block.out_channels = number("c") as usize,
                _ => unreachable!("{spec}: an option of this file's tables"),
            }
        }
        block
    }
}

/// timm's `_gen_efficientnet` and `_gen_mobilenet_v3` (`mobilenetv3_*` branch) architectures.
fn arch_def(family: Family) -> &'static [&'static [&'static str]] {
    match family {
        Family::EfficientNet => &[
            &["ds_r1_k3_s1_e1_c16_se0.25"],
            &["ir_r2_k3_s2_e6_c24_se0.25"],
            &["ir_r2_k5_s2_e6_c40_se0.25"],
            &["ir_r3_k3_s2_e6_c80_se0.25"],
            &["ir_r3_k5_s1_e6_c112_se0.25"],
            &["ir_r4_k5_s2_e6_c192_se0.25"],
            &["ir_r1_k3_s1_e6_c320_se0.25"],
        ],
        Family::MobileNetV3Large => &[
            &["ds_r1_k3_s1_e1_c16_nre"],
            &["ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"],
            &["ir_r3_k5_s2_e3_c40_se0.25_nre"],
            &[
                "ir_r1_k3_s2_e6_c80",
                "ir_r1_k3_s1_e2.5_c80",
                "ir_r2_k3_s1_e2.3_c80",
            ],
            &["ir_r2_k3_s1_e6_c112_se0.25"],
            &["ir_r3_k5_s2_e6_c160_se0.25"],
            &["cn_r1_k1_s1_c960"],
        ],
        Family::MobileNetV3Small => &[
            &["ds_r1_k3_s2_e1_c16_se0.25_nre"],
            &["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
            &["ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"],
            &["ir_r2_k5_s1_e3_c48_se0.25"],
            &["ir_r3_k5_s2_e6_c96_se0.25"],
            &["cn_r1_k1_s1_c576"],
        ],
    }
}

/// timm's `make_divisible(v, 8)`: the nearest multiple of 8, at least 8, and never more than
/// 10% below `v`.
fn make_divisible(v: f64) -> usize {
    let rounded = ((v + 4.0) as usize / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * v {
        rounded + 8
    } else {
        rounded
    }
}

/// timm's `_scale_stage_depth` with `depth_trunc='ceil'`: a stage's total repeats scaled up,
/// then shared out over its entries from the last (Python's `round`: half to even).
fn scale_depth(repeats: &[usize], multiplier: f64) -> Vec<usize> {
    let mut total = repeats.iter().sum::<usize>();
    let mut scaled = (total as f64 * multiplier).ceil() as usize;
    let mut out: Vec<usize> = repeats
        .iter()
        .rev()
        .map(|&r| {
            let share = (r as f64 / total as f64 * scaled as f64)
                .round_ties_even()
                .max(1.0) as usize;
            total -= r;
            scaled = scaled.saturating_sub(share);
            share
        })
        .collect();
    out.reverse();
    out
}

pub fn build(
    args: &EfficientNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let mobilenet = args.family != Family::EfficientNet;
    let act = match mobilenet {
        true => Activation::HardSwish,
        false => Activation::Silu,
    };
    let round = |channels: usize| make_divisible(channels as f64 * args.channel_multiplier);
    let conv = |conv: &str, bn: &str, shape: ConvShape, act| {
        let shape = match args.same_padding {
            true => shape.tf_same(),
            false => shape,
        };
        conv_bn_eps(weights, conv, bn, shape, act, args.bn_eps)
    };

    let stem_width = match mobilenet {
        // MobileNetV3: `fix_stem=channel_multiplier < 0.75`.
        true if args.channel_multiplier < 0.75 => 16,
        true => round(16),
        false => round(32),
    };
    let stem = vec![conv(
        "conv_stem",
        "bn1",
        ConvShape::new(args.in_chans, stem_width, 3, 2),
        act,
    )?];

    let mut blocks = Vec::new();
    let mut in_channels = stem_width;
    for (stage, entries) in arch_def(args.family).iter().enumerate() {
        let specs: Vec<BlockSpec> = entries.iter().map(|s| BlockSpec::parse(s)).collect();
        let repeats: Vec<usize> = specs.iter().map(|s| s.repeats).collect();
        let scaled = scale_depth(&repeats, args.depth_multiplier);
        let stage_blocks = specs
            .iter()
            .zip(scaled)
            .flat_map(|(spec, n)| (0..n).map(move |i| (spec, i == 0)));
        for (index, (spec, first)) in stage_blocks.enumerate() {
            let name = format!("blocks.{stage}.{index}");
            let out_channels = round(spec.out_channels);
            let stride = if first { spec.stride } else { 1 };
            let block_act = if spec.relu { Activation::Relu } else { act };
            let se_style = SeStyle {
                reduce: "conv_reduce",
                expand: "conv_expand",
                // MobileNetV3's SE: `force_act_layer=nn.ReLU`, `gate_layer='hard_sigmoid'`.
                act: if mobilenet {
                    Activation::Relu
                } else {
                    block_act
                },
                gate: match mobilenet {
                    true => Activation::HardSigmoid,
                    false => Activation::Sigmoid,
                },
            };
            let se = |channels| {
                spec.se
                    .then(|| squeeze_excite(weights, &format!("{name}.se"), channels, se_style))
                    .transpose()
            };
            let layer = |module: &str, bn: &str, shape: ConvShape, act| {
                conv(
                    &format!("{name}.{module}"),
                    &format!("{name}.{bn}"),
                    shape,
                    act,
                )
            };
            let (body, se, tail) = match spec.kind {
                BlockKind::DepthwiseSeparable => {
                    let depthwise = ConvShape::new(in_channels, in_channels, spec.kernel, stride)
                        .groups(in_channels);
                    let pointwise = ConvShape::new(in_channels, out_channels, 1, 1);
                    (
                        vec![layer("conv_dw", "bn1", depthwise, block_act)?],
                        se(in_channels)?,
                        vec![layer("conv_pw", "bn2", pointwise, Activation::None)?],
                    )
                }
                BlockKind::InvertedResidual => {
                    let mid = make_divisible(in_channels as f64 * spec.expansion);
                    let expand = ConvShape::new(in_channels, mid, 1, 1);
                    let depthwise = ConvShape::new(mid, mid, spec.kernel, stride).groups(mid);
                    let project = ConvShape::new(mid, out_channels, 1, 1);
                    (
                        vec![
                            layer("conv_pw", "bn1", expand, block_act)?,
                            layer("conv_dw", "bn2", depthwise, block_act)?,
                        ],
                        se(mid)?,
                        vec![layer("conv_pwl", "bn3", project, Activation::None)?],
                    )
                }
                BlockKind::ConvBnAct => {
                    let shape = ConvShape::new(in_channels, out_channels, spec.kernel, stride);
                    (
                        vec![layer("conv", "bn1", shape, block_act)?],
                        None,
                        Vec::new(),
                    )
                }
            };
            // `ConvBnAct` has no skip unless asked for (`skip`, unused in these tables).
            let skip = spec.kind != BlockKind::ConvBnAct
                && !spec.noskip
                && stride == 1
                && in_channels == out_channels;
            blocks.push(Block {
                name: name.clone(),
                body,
                se,
                tail,
                residual: skip.then(|| Residual {
                    projection: Vec::new(),
                    act: Activation::None,
                }),
            });
            in_channels = out_channels;
        }
    }

    let (neck, head) = if mobilenet {
        // Pool → `conv_head` (1×1 with bias, no BatchNorm) → activation → classifier.
        let hidden = match args.family {
            Family::MobileNetV3Large => 1280,
            _ => 1024,
        };
        let conv_head = linear(weights, "conv_head", [in_channels, hidden], act, true)?;
        let logits = classifier(weights, "classifier", hidden, num_classes)?;
        (Vec::new(), vec![conv_head, logits])
    } else {
        // `conv_head` → `bn2` → activation → pool → classifier.
        let features = round(1280);
        let shape = ConvShape::new(in_channels, features, 1, 1);
        let neck: Vec<Layer> = vec![conv("conv_head", "bn2", shape, act)?];
        (
            neck,
            vec![classifier(weights, "classifier", features, num_classes)?],
        )
    };
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head,
    })
}

#[cfg(test)]
mod tests {
    use super::{make_divisible, scale_depth, BlockKind, BlockSpec};

    #[test]
    fn decodes_like_timm() {
        let spec = BlockSpec::parse("ir_r2_k5_s2_e2.3_c80_se0.25_nre");
        assert_eq!(spec.kind, BlockKind::InvertedResidual);
        assert_eq!((spec.repeats, spec.kernel, spec.stride), (2, 5, 2));
        assert_eq!((spec.expansion, spec.out_channels), (2.3, 80));
        assert!(spec.se && spec.relu && !spec.noskip);
        // Values timm computes (MobileNetV3-Small's 24·3.67, EfficientNet-B3's stem 32·1.2).
        assert_eq!(make_divisible(24.0 * 3.67), 88);
        assert_eq!(make_divisible(32.0 * 1.2), 40);
        assert_eq!(make_divisible(80.0 * 2.3), 184);
        assert_eq!(make_divisible(4.0), 8);
        // EfficientNet-B3 (×1.4): 2 → 3, 3 → 5, 4 → 6, 1 → 2; shared out from the last entry.
        assert_eq!(scale_depth(&[2], 1.4), [3]);
        assert_eq!(scale_depth(&[3], 1.4), [5]);
        assert_eq!(scale_depth(&[1, 1, 2], 1.0), [1, 1, 2]);
        assert_eq!(scale_depth(&[1, 1, 2], 1.5), [1, 2, 3]);
    }
}
