//! The networks timm builds with `_efficientnet_builder` (its `EfficientNet` and `MobileNetV3`
//! classes): EfficientNet B0–B8 and L2 (`tf_` too), EfficientNetV2 (`efficientnetv2_*`,
//! `tf_efficientnetv2_*`), MixNet, MnasNet and SE-MnasNet, TinyNet, MobileNetV3 (timm's, `tf_`,
//! minimal, `_rw`), FBNetV3, HardCoReNAS and LCNet.
//!
//! Each is a table of timm's block strings (`ir_r2_k3_s2_e6_c24_se0.25`) plus the few constructor
//! arguments its `_gen_*` function passes (stem, head, rounding, activations, SE gate); the strings
//! are decoded, scaled (width and depth multipliers, channel rounding) and built as timm does.

use serde_json::{Map, Value};

use super::args;

use super::layers::{classifier, fold_bn, squeeze_excite, ConvShape, SeStyle, BN_EPS};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Conv2d, Linear};

/// What timm's generator function passes for a registered name, plus the `model_args` applied.
#[derive(Clone, Debug, PartialEq)]
pub struct EfficientNetArgs {
    /// timm's `arch_def`: one list of block strings per stage.
    stages: &'static [&'static [&'static str]],
    stem: usize,
    /// The stem's width is not scaled (`fix_stem`).
    fix_stem: bool,
    /// `round_channels(c, multiplier, 8, round_limit)`.
    channel_multiplier: f64,
    round_limit: f64,
    /// Per stage (one value for all, or timm's tuple).
    depth_multiplier: DepthMultiplier,
    /// `depth_trunc='round'` instead of `'ceil'`.
    depth_round: bool,
    head: Head,
    /// The model's activation (`act_layer`); block strings may override it (`nre`, `nsw`, ...).
    act: Activation,
    se: SeKind,
    /// TensorFlow "SAME" padding (`pad_type='same'`, the `tf_` variants).
    same_padding: bool,
    bn_eps: f64,
    in_chans: usize,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DepthMultiplier {
    All(f64),
    PerStage(&'static [f64]),
}

/// What follows the blocks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Head {
    /// `EfficientNet`: `conv_head` → `bn2` → activation → pool → classifier.
    Conv { features: usize },
    /// `MobileNetV3`: pool → `conv_head` (a 1×1 convolution, with a bias unless `head_bias=False`)
    /// → activation → classifier.
    Pooled { features: usize, bias: bool },
}

/// The SE module's activations (`SqueezeExcite` of `_efficientnet_blocks`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct SeKind {
    /// `force_act_layer`; `None`: the block's activation.
    act: Option<Activation>,
    gate: Activation,
}

/// EfficientNet's SE: the block's activation, a sigmoid gate.
const SE_SIGMOID: SeKind = SeKind {
    act: None,
    gate: Activation::Sigmoid,
};
/// MobileNetV3's: ReLU inside, a hard sigmoid gate.
const SE_HARD: SeKind = SeKind {
    act: Some(Activation::Relu),
    gate: Activation::HardSigmoid,
};

/// `tf_*`'s BatchNorm ε (timm's `BN_EPS_TF_DEFAULT`).
const BN_EPS_TF: f64 = 1e-3;

impl EfficientNetArgs {
    /// The arguments timm's registry passes for `name`, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let (tf, rest) = match name.strip_prefix("tf_") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let mut args = Self::timm(rest)?;
        if tf {
            // Every `tf_` model: TF "SAME" padding and ε 1e-3 (`kwargs.setdefault`).
            let ported = [
                "efficientnet_b",
                "efficientnet_l2",
                "efficientnetv2_",
                "mixnet_",
            ];
            let mobilenet = rest.starts_with("mobilenetv3_") && !rest.ends_with("_rw");
            if !ported.iter().any(|p| rest.starts_with(p)) && !mobilenet
                || rest.starts_with("efficientnetv2_rw")
            {
                return None;
            }
            args.same_padding = true;
            args.bn_eps = BN_EPS_TF;
        }
        if rest == "mobilenetv3_rw" {
            args.bn_eps = BN_EPS_TF;
        }
        Some(args)
    }

    /// timm's `_gen_*` arguments for a name without its `tf_` prefix.
    fn timm(name: &str) -> Option<Self> {
        let base = Self {
            stages: &[],
            stem: 32,
            fix_stem: false,
            channel_multiplier: 1.0,
            round_limit: 0.9,
            depth_multiplier: DepthMultiplier::All(1.0),
            depth_round: false,
            head: Head::Conv { features: 1280 },
            act: Activation::Relu,
            se: SE_SIGMOID,
            same_padding: false,
            bn_eps: BN_EPS,
            in_chans: 3,
        };
        let scaled = scaled_args;
        let round = |c: usize, args: &Self| {
            make_divisible(c as f64 * args.channel_multiplier, args.round_limit)
        };
        if let Some(variant) = name.strip_prefix("efficientnet_") {
            let (width, depth) = match variant {
                "b0" => (1.0, 1.0),
                "b1" => (1.0, 1.1),
                "b2" => (1.1, 1.2),
                "b3" => (1.2, 1.4),
                "b4" => (1.4, 1.8),
                "b5" => (1.6, 2.2),
                "b6" => (1.8, 2.6),
                "b7" => (2.0, 3.1),
                "b8" => (2.2, 3.6),
                "l2" => (4.3, 5.3),
                _ => return None,
            };
            let args = scaled(base, width, depth);
            let features = round(1280, &args);
            return Some(Self {
                stages: EFFICIENTNET,
                head: Head::Conv { features },
                act: Activation::Silu,
                ..args
            });
        }
        if let Some(variant) = name.strip_prefix("efficientnetv2_") {
            return Self::efficientnetv2(base, variant);
        }
        if let Some(variant) = name.strip_prefix("mixnet_") {
            let (stages, stem, width, depth) = match variant {
                "s" => (MIXNET_S, 16, 1.0, 1.0),
                "m" => (MIXNET_M, 24, 1.0, 1.0),
                "l" => (MIXNET_M, 24, 1.3, 1.0),
                "xl" => (MIXNET_M, 24, 1.6, 1.2),
                "xxl" => (MIXNET_M, 24, 2.4, 1.3),
                _ => return None,
            };
            return Some(Self {
                stages,
                stem,
                head: Head::Conv { features: 1536 },
                depth_round: true,
                ..scaled(base, width, depth)
            });
        }
        if let Some(width) = name.strip_prefix("semnasnet_") {
            return Some(Self {
                stages: MNASNET_A1,
                ..scaled(base, width_of(width)?, 1.0)
            });
        }
        if name == "mnasnet_small" {
            return Some(Self {
                stages: MNASNET_SMALL,
                stem: 8,
                ..base
            });
        }
        if let Some(width) = name.strip_prefix("mnasnet_") {
            return Some(Self {
                stages: MNASNET_B1,
                ..scaled(base, width_of(width)?, 1.0)
            });
        }
        if let Some(variant) = name.strip_prefix("tinynet_") {
            let (width, depth) = match variant {
                "a" => (1.0, 1.2),
                "b" => (0.75, 1.1),
                "c" => (0.54, 0.85),
                "d" => (0.54, 0.695),
                "e" => (0.51, 0.6),
                _ => return None,
            };
            let args = scaled(base, width, depth);
            let features = round(1280, &args).max(1280);
            return Some(Self {
                stages: EFFICIENTNET,
                fix_stem: true,
                depth_round: true,
                head: Head::Conv { features },
                act: Activation::Silu,
                ..args
            });
        }
        let mobilenet = Self {
            stem: 16,
            act: Activation::HardSwish,
            se: SE_HARD,
            ..base
        };
        if let Some(variant) = name.strip_prefix("mobilenetv3_") {
            return Self::mobilenetv3(mobilenet, variant);
        }
        if let Some(variant) = name.strip_prefix("fbnetv3_") {
            let (stages, stem) = match variant {
                "b" => (FBNETV3_B, 16),
                "d" => (FBNETV3_D, 24),
                "g" => (FBNETV3_G, 32),
                _ => return None,
            };
            return Some(Self {
                stages,
                stem,
                round_limit: 0.95,
                head: Head::Pooled {
                    features: 1984,
                    bias: false,
                },
                se: SeKind {
                    act: None,
                    gate: Activation::HardSigmoid,
                },
                ..mobilenet
            });
        }
        if let Some(variant) = name.strip_prefix("hardcorenas_") {
            let stages = match variant {
                "a" => HARDCORENAS_A,
                "b" => HARDCORENAS_B,
                "c" => HARDCORENAS_C,
                "d" => HARDCORENAS_D,
                "e" => HARDCORENAS_E,
                "f" => HARDCORENAS_F,
                _ => return None,
            };
            return Some(Self {
                stages,
                stem: 32,
                head: Head::Pooled {
                    features: 1280,
                    bias: true,
                },
                ..mobilenet
            });
        }
        if let Some(width) = name.strip_prefix("lcnet_") {
            let width = match width {
                "035" => 0.35,
                "050" => 0.5,
                "075" => 0.75,
                "100" => 1.0,
                "150" => 1.5,
                _ => return None,
            };
            return Some(Self {
                stages: LCNET,
                head: Head::Pooled {
                    features: 1280,
                    bias: true,
                },
                ..scaled(mobilenet, width, 1.0)
            });
        }
        None
    }

    fn efficientnetv2(base: Self, variant: &str) -> Option<Self> {
        let silu = Self {
            act: Activation::Silu,
            stem: 24,
            ..base
        };
        let args = match variant {
            "b0" | "b1" | "b2" | "b3" => {
                let (width, depth) = match variant {
                    "b0" => (1.0, 1.0),
                    "b1" => (1.0, 1.1),
                    "b2" => (1.1, 1.2),
                    _ => (1.2, 1.4),
                };
                let args = Self {
                    stages: EFFICIENTNETV2_BASE,
                    stem: 32,
                    round_limit: 0.0,
                    ..scaled_args(silu, width, depth)
                };
                let features = make_divisible(1280.0 * width, 0.0);
                return Some(Self {
                    head: Head::Conv { features },
                    ..args
                });
            }
            "s" => Self {
                stages: EFFICIENTNETV2_S,
                ..silu
            },
            "rw_t" => Self {
                stages: EFFICIENTNETV2_S,
                ..scaled_args(silu, 0.8, 0.9)
            },
            "rw_s" => Self {
                stages: EFFICIENTNETV2_RW_S,
                ..silu
            },
            "rw_m" => Self {
                stages: EFFICIENTNETV2_RW_S,
                channel_multiplier: 1.2,
                depth_multiplier: DepthMultiplier::PerStage(&[1.2, 1.2, 1.2, 1.2, 1.6, 1.6]),
                ..silu
            },
            "m" => Self {
                stages: EFFICIENTNETV2_M,
                head: Head::Conv { features: 1280 },
                ..silu
            },
            "l" | "xl" => Self {
                stages: if variant == "l" {
                    EFFICIENTNETV2_L
                } else {
                    EFFICIENTNETV2_XL
                },
                stem: 32,
                head: Head::Conv { features: 1280 },
                ..silu
            },
            _ => return None,
        };
        // `_gen_efficientnetv2_s` rounds its head: 1280, or 1792 for the `rw` layout.
        let features = match variant {
            "s" | "rw_t" => make_divisible(1280.0 * args.channel_multiplier, 0.9),
            "rw_s" | "rw_m" => make_divisible(1792.0 * args.channel_multiplier, 0.9),
            _ => return Some(args),
        };
        Some(Self {
            head: Head::Conv { features },
            ..args
        })
    }

    fn mobilenetv3(base: Self, variant: &str) -> Option<Self> {
        if variant == "rw" {
            return Some(Self {
                stages: MOBILENETV3_RW,
                head: Head::Pooled {
                    features: 1280,
                    bias: false,
                },
                se: SeKind {
                    act: None,
                    gate: Activation::HardSigmoid,
                },
                ..base
            });
        }
        let (size, width) = variant.split_once('_')?;
        let (width, depth, minimal) = match width {
            "050" if size == "small" => (0.5, 1.0, false),
            "075" => (0.75, 1.0, false),
            "100" => (1.0, 1.0, false),
            "minimal_100" => (1.0, 1.0, true),
            "150d" if size == "large" => (1.5, 1.2, false),
            _ => return None,
        };
        let (stages, features) = match (size, minimal) {
            ("large", false) => (MOBILENETV3_LARGE, 1280),
            ("large", true) => (MOBILENETV3_LARGE_MINIMAL, 1280),
            ("small", false) => (MOBILENETV3_SMALL, 1024),
            ("small", true) => (MOBILENETV3_SMALL_MINIMAL, 1024),
            _ => return None,
        };
        Some(Self {
            stages,
            fix_stem: width < 0.75,
            head: Head::Pooled {
                features,
                bias: true,
            },
            act: match minimal {
                true => Activation::Relu,
                false => Activation::HardSwish,
            },
            ..scaled_args(base, width, depth)
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "EfficientNet family", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "bn_eps" => self.bn_eps = arg.positive_number()?,
                "pad_type" => {
                    self.same_padding = match arg.value.as_str() {
                        Some("") => false,
                        Some("same") => true,
                        _ => return Err(arg.bad("expected '' or 'same'")),
                    }
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

fn scaled_args(args: EfficientNetArgs, width: f64, depth: f64) -> EfficientNetArgs {
    EfficientNetArgs {
        channel_multiplier: width,
        depth_multiplier: DepthMultiplier::All(depth),
        ..args
    }
}

/// `_050`, `_075`, `_100`, `_140`: MnasNet's width multipliers.
fn width_of(suffix: &str) -> Option<f64> {
    Some(match suffix {
        "050" => 0.5,
        "075" => 0.75,
        "100" => 1.0,
        "140" => 1.4,
        _ => return None,
    })
}

/// One entry of a timm architecture string, e.g. `ir_r2_k3.5_a1.1_p1.1_s2_e6_c24_se0.25_nsw`.
#[derive(Clone, Debug, PartialEq)]
struct BlockSpec {
    kind: BlockKind,
    repeats: usize,
    /// `k`: the depthwise kernel(s) (`ds`, `ir`), the expansion's (`er`), the convolution's
    /// (`cn`). Several: a mixed convolution (MixNet), the channels split among them.
    kernel: Vec<usize>,
    /// `a`: the expansion's kernel(s) in `ir` (several: a grouped pointwise convolution).
    exp_kernel: Vec<usize>,
    /// `p`: the projection's kernel(s).
    pw_kernel: Vec<usize>,
    stride: usize,
    expansion: f64,
    out_channels: usize,
    se: bool,
    /// `n…`: this block's activation instead of the model's.
    act: Option<Activation>,
    /// `skip` / `noskip`.
    skip: Option<bool>,
    /// `fc`: the expansion is computed from this width instead of the input's.
    force_in: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockKind {
    /// `ds`: depthwise → SE → pointwise (`DepthwiseSeparableConv`); `dsa`: with an activation
    /// after the pointwise convolution, and never a skip.
    DepthwiseSeparable { pw_act: bool },
    /// `ir`: pointwise expansion → depthwise → SE → pointwise projection (`InvertedResidual`).
    InvertedResidual,
    /// `er`: k×k expansion → SE → pointwise projection (`EdgeResidual`, EfficientNetV2).
    EdgeResidual,
    /// `cn`: convolution → BatchNorm → activation (`ConvBnAct`).
    ConvBnAct,
}

impl BlockSpec {
    /// timm's `_decode_block_str` (the tables of this file are well formed).
    fn parse(spec: &'static str) -> Self {
        let mut parts = spec.split('_');
        let kind = match parts.next() {
            Some("ds") => BlockKind::DepthwiseSeparable { pw_act: false },
            Some("dsa") => BlockKind::DepthwiseSeparable { pw_act: true },
            Some("ir") => BlockKind::InvertedResidual,
            Some("er") => BlockKind::EdgeResidual,
            Some("cn") => BlockKind::ConvBnAct,
            _ => unreachable!("{spec}: a block kind of this file's tables"),
        };
        let mut block = Self {
            kind,
            repeats: 1,
            kernel: vec![3],
            exp_kernel: vec![1],
            pw_kernel: vec![1],
            stride: 1,
            expansion: 1.0,
            out_channels: 0,
            se: false,
            act: None,
            skip: None,
            force_in: 0,
        };
        let kernels = |text: &str| -> Vec<usize> {
            text.split('.').map(|k| k.parse().expect(spec)).collect()
        };
        for part in parts {
            let split = part
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(part.len());
            let (key, value) = part.split_at(split);
            let number = || value.parse::<f64>().expect(spec);
            match key {
                "noskip" => block.skip = Some(false),
                "skip" => block.skip = Some(true),
                "nre" => block.act = Some(Activation::Relu),
                "nr" if value == "6" => block.act = Some(Activation::Relu6),
                "nhs" => block.act = Some(Activation::HardSwish),
                "nsw" => block.act = Some(Activation::Silu),
                "se" => block.se = number() > 0.0,
                "fc" => block.force_in = number() as usize,
                "r" => block.repeats = number() as usize,
                "k" => block.kernel = kernels(value),
                "a" => block.exp_kernel = kernels(value),
                "p" => block.pw_kernel = kernels(value),
                "s" => block.stride = number() as usize,
                "e" => block.expansion = number(),
                "c" => block.out_channels = number() as usize,
                _ => unreachable!("{spec}: an option of this file's tables"),
            }
        }
        block
    }
}

const EFFICIENTNET: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_se0.25"],
    &["ir_r2_k3_s2_e6_c24_se0.25"],
    &["ir_r2_k5_s2_e6_c40_se0.25"],
    &["ir_r3_k3_s2_e6_c80_se0.25"],
    &["ir_r3_k5_s1_e6_c112_se0.25"],
    &["ir_r4_k5_s2_e6_c192_se0.25"],
    &["ir_r1_k3_s1_e6_c320_se0.25"],
];
const EFFICIENTNETV2_BASE: &[&[&str]] = &[
    &["cn_r1_k3_s1_e1_c16_skip"],
    &["er_r2_k3_s2_e4_c32"],
    &["er_r2_k3_s2_e4_c48"],
    &["ir_r3_k3_s2_e4_c96_se0.25"],
    &["ir_r5_k3_s1_e6_c112_se0.25"],
    &["ir_r8_k3_s2_e6_c192_se0.25"],
];
const EFFICIENTNETV2_S: &[&[&str]] = &[
    &["cn_r2_k3_s1_e1_c24_skip"],
    &["er_r4_k3_s2_e4_c48"],
    &["er_r4_k3_s2_e4_c64"],
    &["ir_r6_k3_s2_e4_c128_se0.25"],
    &["ir_r9_k3_s1_e6_c160_se0.25"],
    &["ir_r15_k3_s2_e6_c256_se0.25"],
];
/// `_gen_efficientnetv2_s(rw=True)`: Ross Wightman's layout from the paper's figure.
const EFFICIENTNETV2_RW_S: &[&[&str]] = &[
    &["er_r2_k3_s1_e1_c24"],
    &["er_r4_k3_s2_e4_c48"],
    &["er_r4_k3_s2_e4_c64"],
    &["ir_r6_k3_s2_e4_c128_se0.25"],
    &["ir_r9_k3_s1_e6_c160_se0.25"],
    &["ir_r15_k3_s2_e6_c272_se0.25"],
];
const EFFICIENTNETV2_M: &[&[&str]] = &[
    &["cn_r3_k3_s1_e1_c24_skip"],
    &["er_r5_k3_s2_e4_c48"],
    &["er_r5_k3_s2_e4_c80"],
    &["ir_r7_k3_s2_e4_c160_se0.25"],
    &["ir_r14_k3_s1_e6_c176_se0.25"],
    &["ir_r18_k3_s2_e6_c304_se0.25"],
    &["ir_r5_k3_s1_e6_c512_se0.25"],
];
const EFFICIENTNETV2_L: &[&[&str]] = &[
    &["cn_r4_k3_s1_e1_c32_skip"],
    &["er_r7_k3_s2_e4_c64"],
    &["er_r7_k3_s2_e4_c96"],
    &["ir_r10_k3_s2_e4_c192_se0.25"],
    &["ir_r19_k3_s1_e6_c224_se0.25"],
    &["ir_r25_k3_s2_e6_c384_se0.25"],
    &["ir_r7_k3_s1_e6_c640_se0.25"],
];
const EFFICIENTNETV2_XL: &[&[&str]] = &[
    &["cn_r4_k3_s1_e1_c32_skip"],
    &["er_r8_k3_s2_e4_c64"],
    &["er_r8_k3_s2_e4_c96"],
    &["ir_r16_k3_s2_e4_c192_se0.25"],
    &["ir_r24_k3_s1_e6_c256_se0.25"],
    &["ir_r32_k3_s2_e6_c512_se0.25"],
    &["ir_r8_k3_s1_e6_c640_se0.25"],
];
const MIXNET_S: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16"],
    &[
        "ir_r1_k3_a1.1_p1.1_s2_e6_c24",
        "ir_r1_k3_a1.1_p1.1_s1_e3_c24",
    ],
    &[
        "ir_r1_k3.5.7_s2_e6_c40_se0.5_nsw",
        "ir_r3_k3.5_a1.1_p1.1_s1_e6_c40_se0.5_nsw",
    ],
    &[
        "ir_r1_k3.5.7_p1.1_s2_e6_c80_se0.25_nsw",
        "ir_r2_k3.5_p1.1_s1_e6_c80_se0.25_nsw",
    ],
    &[
        "ir_r1_k3.5.7_a1.1_p1.1_s1_e6_c120_se0.5_nsw",
        "ir_r2_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw",
    ],
    &[
        "ir_r1_k3.5.7.9.11_s2_e6_c200_se0.5_nsw",
        "ir_r2_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw",
    ],
];
const MIXNET_M: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c24"],
    &[
        "ir_r1_k3.5.7_a1.1_p1.1_s2_e6_c32",
        "ir_r1_k3_a1.1_p1.1_s1_e3_c32",
    ],
    &[
        "ir_r1_k3.5.7.9_s2_e6_c40_se0.5_nsw",
        "ir_r3_k3.5_a1.1_p1.1_s1_e6_c40_se0.5_nsw",
    ],
    &[
        "ir_r1_k3.5.7_s2_e6_c80_se0.25_nsw",
        "ir_r3_k3.5.7.9_a1.1_p1.1_s1_e6_c80_se0.25_nsw",
    ],
    &[
        "ir_r1_k3_s1_e6_c120_se0.5_nsw",
        "ir_r3_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw",
    ],
    &[
        "ir_r1_k3.5.7.9_s2_e6_c200_se0.5_nsw",
        "ir_r3_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw",
    ],
];
const MNASNET_A1: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_noskip"],
    &["ir_r2_k3_s2_e6_c24"],
    &["ir_r3_k5_s2_e3_c40_se0.25"],
    &["ir_r4_k3_s2_e6_c80"],
    &["ir_r2_k3_s1_e6_c112_se0.25"],
    &["ir_r3_k5_s2_e6_c160_se0.25"],
    &["ir_r1_k3_s1_e6_c320"],
];
const MNASNET_B1: &[&[&str]] = &[
    &["ds_r1_k3_s1_c16_noskip"],
    &["ir_r3_k3_s2_e3_c24"],
    &["ir_r3_k5_s2_e3_c40"],
    &["ir_r3_k5_s2_e6_c80"],
    &["ir_r2_k3_s1_e6_c96"],
    &["ir_r4_k5_s2_e6_c192"],
    &["ir_r1_k3_s1_e6_c320_noskip"],
];
const MNASNET_SMALL: &[&[&str]] = &[
    &["ds_r1_k3_s1_c8"],
    &["ir_r1_k3_s2_e3_c16"],
    &["ir_r2_k3_s2_e6_c16"],
    &["ir_r4_k5_s2_e6_c32_se0.25"],
    &["ir_r3_k3_s1_e6_c32_se0.25"],
    &["ir_r3_k5_s2_e6_c88_se0.25"],
    &["ir_r1_k3_s1_e6_c144"],
];
const MOBILENETV3_LARGE: &[&[&str]] = &[
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
];
/// `_gen_mobilenet_v3_rw`: the large layout without the first block's skip.
const MOBILENETV3_RW: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre_noskip"],
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
];
const MOBILENETV3_LARGE_MINIMAL: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16"],
    &["ir_r1_k3_s2_e4_c24", "ir_r1_k3_s1_e3_c24"],
    &["ir_r3_k3_s2_e3_c40"],
    &[
        "ir_r1_k3_s2_e6_c80",
        "ir_r1_k3_s1_e2.5_c80",
        "ir_r2_k3_s1_e2.3_c80",
    ],
    &["ir_r2_k3_s1_e6_c112"],
    &["ir_r3_k3_s2_e6_c160"],
    &["cn_r1_k1_s1_c960"],
];
const MOBILENETV3_SMALL: &[&[&str]] = &[
    &["ds_r1_k3_s2_e1_c16_se0.25_nre"],
    &["ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"],
    &["ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"],
    &["ir_r2_k5_s1_e3_c48_se0.25"],
    &["ir_r3_k5_s2_e6_c96_se0.25"],
    &["cn_r1_k1_s1_c576"],
];
const MOBILENETV3_SMALL_MINIMAL: &[&[&str]] = &[
    &["ds_r1_k3_s2_e1_c16"],
    &["ir_r1_k3_s2_e4.5_c24", "ir_r1_k3_s1_e3.67_c24"],
    &["ir_r1_k3_s2_e4_c40", "ir_r2_k3_s1_e6_c40"],
    &["ir_r2_k3_s1_e3_c48"],
    &["ir_r3_k3_s2_e6_c96"],
    &["cn_r1_k1_s1_c576"],
];
const FBNETV3_B: &[&[&str]] = &[
    &["ds_r2_k3_s1_e1_c16"],
    &["ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24"],
    &["ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25"],
    &["ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72"],
    &["ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25"],
    &[
        "ir_r1_k3_s2_e6_c184_se0.25",
        "ir_r5_k5_s1_e4_c184_se0.25",
        "ir_r1_k5_s1_e6_c224_se0.25",
    ],
    &["cn_r1_k1_s1_c1344"],
];
const FBNETV3_D: &[&[&str]] = &[
    &["ds_r2_k3_s1_e1_c16"],
    &["ir_r1_k3_s2_e5_c24", "ir_r5_k3_s1_e2_c24"],
    &["ir_r1_k5_s2_e4_c40_se0.25", "ir_r4_k3_s1_e3_c40_se0.25"],
    &["ir_r1_k3_s2_e5_c72", "ir_r4_k3_s1_e3_c72"],
    &["ir_r1_k3_s1_e5_c128_se0.25", "ir_r6_k5_s1_e3_c128_se0.25"],
    &[
        "ir_r1_k3_s2_e6_c208_se0.25",
        "ir_r5_k5_s1_e5_c208_se0.25",
        "ir_r1_k5_s1_e6_c240_se0.25",
    ],
    &["cn_r1_k1_s1_c1440"],
];
const FBNETV3_G: &[&[&str]] = &[
    &["ds_r3_k3_s1_e1_c24"],
    &["ir_r1_k5_s2_e4_c40", "ir_r4_k5_s1_e2_c40"],
    &["ir_r1_k5_s2_e4_c56_se0.25", "ir_r4_k5_s1_e3_c56_se0.25"],
    &["ir_r1_k5_s2_e5_c104", "ir_r4_k3_s1_e3_c104"],
    &["ir_r1_k3_s1_e5_c160_se0.25", "ir_r8_k5_s1_e3_c160_se0.25"],
    &[
        "ir_r1_k3_s2_e6_c264_se0.25",
        "ir_r6_k5_s1_e5_c264_se0.25",
        "ir_r2_k5_s1_e6_c288_se0.25",
    ],
    &["cn_r1_k1_s1_c1728"],
];
const LCNET: &[&[&str]] = &[
    &["dsa_r1_k3_s1_c32"],
    &["dsa_r2_k3_s2_c64"],
    &["dsa_r2_k3_s2_c128"],
    &["dsa_r1_k3_s2_c256", "dsa_r1_k5_s1_c256"],
    &["dsa_r4_k5_s1_c256"],
    &["dsa_r2_k5_s2_c512_se0.25"],
];
const HARDCORENAS_A: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &["ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"],
    &["ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e6_c40_nre_se0.25"],
    &["ir_r1_k5_s2_e6_c80_se0.25", "ir_r1_k5_s1_e6_c80_se0.25"],
    &["ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25"],
    &["ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25"],
    &["cn_r1_k1_s1_c960"],
];
const HARDCORENAS_B: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &[
        "ir_r1_k5_s2_e3_c24_nre",
        "ir_r1_k5_s1_e3_c24_nre_se0.25",
        "ir_r1_k3_s1_e3_c24_nre",
    ],
    &[
        "ir_r1_k5_s2_e3_c40_nre",
        "ir_r1_k5_s1_e3_c40_nre",
        "ir_r1_k5_s1_e3_c40_nre",
    ],
    &[
        "ir_r1_k5_s2_e3_c80",
        "ir_r1_k5_s1_e3_c80",
        "ir_r1_k3_s1_e3_c80",
        "ir_r1_k3_s1_e3_c80",
    ],
    &[
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k3_s1_e3_c112_se0.25",
        "ir_r1_k3_s1_e3_c112_se0.25",
        "ir_r1_k3_s1_e3_c112_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k3_s1_e3_c192_se0.25",
        "ir_r1_k3_s1_e3_c192_se0.25",
    ],
    &["cn_r1_k1_s1_c960"],
];
const HARDCORENAS_C: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &["ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"],
    &[
        "ir_r1_k5_s2_e3_c40_nre",
        "ir_r1_k5_s1_e3_c40_nre",
        "ir_r1_k5_s1_e3_c40_nre",
        "ir_r1_k5_s1_e3_c40_nre",
    ],
    &[
        "ir_r1_k5_s2_e4_c80",
        "ir_r1_k5_s1_e6_c80_se0.25",
        "ir_r1_k3_s1_e3_c80",
        "ir_r1_k3_s1_e3_c80",
    ],
    &[
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k3_s1_e3_c112",
        "ir_r1_k3_s1_e3_c112",
        "ir_r1_k3_s1_e3_c112",
    ],
    &[
        "ir_r1_k5_s2_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k3_s1_e3_c192_se0.25",
        "ir_r1_k3_s1_e3_c192_se0.25",
    ],
    &["cn_r1_k1_s1_c960"],
];
const HARDCORENAS_D: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &[
        "ir_r1_k5_s2_e3_c24_nre_se0.25",
        "ir_r1_k5_s1_e3_c24_nre_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e3_c40_nre_se0.25",
        "ir_r1_k5_s1_e4_c40_nre_se0.25",
        "ir_r1_k3_s1_e3_c40_nre_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e4_c80_se0.25",
        "ir_r1_k3_s1_e3_c80_se0.25",
        "ir_r1_k3_s1_e3_c80_se0.25",
        "ir_r1_k3_s1_e3_c80_se0.25",
    ],
    &[
        "ir_r1_k3_s1_e4_c112_se0.25",
        "ir_r1_k5_s1_e4_c112_se0.25",
        "ir_r1_k3_s1_e3_c112_se0.25",
        "ir_r1_k5_s1_e3_c112_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k3_s1_e6_c192_se0.25",
    ],
    &["cn_r1_k1_s1_c960"],
];
const HARDCORENAS_E: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &[
        "ir_r1_k5_s2_e3_c24_nre_se0.25",
        "ir_r1_k5_s1_e3_c24_nre_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c40_nre_se0.25",
        "ir_r1_k5_s1_e4_c40_nre_se0.25",
        "ir_r1_k5_s1_e4_c40_nre_se0.25",
        "ir_r1_k3_s1_e3_c40_nre_se0.25",
    ],
    &["ir_r1_k5_s2_e4_c80_se0.25", "ir_r1_k3_s1_e6_c80_se0.25"],
    &[
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k5_s1_e3_c112_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k3_s1_e6_c192_se0.25",
    ],
    &["cn_r1_k1_s1_c960"],
];
const HARDCORENAS_F: &[&[&str]] = &[
    &["ds_r1_k3_s1_e1_c16_nre"],
    &[
        "ir_r1_k5_s2_e3_c24_nre_se0.25",
        "ir_r1_k5_s1_e3_c24_nre_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c40_nre_se0.25",
        "ir_r1_k5_s1_e6_c40_nre_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c80_se0.25",
        "ir_r1_k5_s1_e6_c80_se0.25",
        "ir_r1_k3_s1_e3_c80_se0.25",
        "ir_r1_k3_s1_e3_c80_se0.25",
    ],
    &[
        "ir_r1_k3_s1_e6_c112_se0.25",
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k5_s1_e6_c112_se0.25",
        "ir_r1_k3_s1_e3_c112_se0.25",
    ],
    &[
        "ir_r1_k5_s2_e6_c192_se0.25",
        "ir_r1_k5_s1_e6_c192_se0.25",
        "ir_r1_k3_s1_e6_c192_se0.25",
        "ir_r1_k3_s1_e6_c192_se0.25",
    ],
    &["cn_r1_k1_s1_c960"],
];

/// timm's `make_divisible(v, 8, round_limit=limit)`, the rounding of every width here.
fn make_divisible(v: f64, limit: f64) -> usize {
    super::layers::make_divisible(v, 8, limit)
}

/// timm's `_scale_stage_depth`: a stage's total repeats scaled (`ceil`, or Python's `round` for
/// `depth_trunc='round'`), then shared out over its entries from the last (Python's `round`:
/// half to even).
fn scale_depth(repeats: &[usize], multiplier: f64, round: bool) -> Vec<usize> {
    let mut total = repeats.iter().sum::<usize>();
    let target = total as f64 * multiplier;
    let mut scaled = match round {
        true => (target.round_ties_even() as usize).max(1),
        false => target.ceil() as usize,
    };
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

/// timm's `_split_channels`: equal shares, the remainder to the first.
fn split_channels(channels: usize, parts: usize) -> Vec<usize> {
    let mut split = vec![channels / parts; parts];
    split[0] += channels - channels / parts * parts;
    split
}

/// How the builder reads and folds one convolution and its BatchNorm.
struct Convs<'a, 'w> {
    weights: &'a Weights<'w>,
    same_padding: bool,
    bn_eps: f64,
}

/// One convolution of a block: its input and output widths, kernel(s) and stride.
#[derive(Clone, Copy)]
struct Part<'k> {
    channels: [usize; 2],
    kernels: &'k [usize],
    stride: usize,
    depthwise: bool,
}

impl<'k> Part<'k> {
    fn dense(channels: [usize; 2], kernels: &'k [usize], stride: usize) -> Self {
        Self {
            channels,
            kernels,
            stride,
            depthwise: false,
        }
    }

    fn depthwise(channels: usize, kernels: &'k [usize], stride: usize) -> Self {
        Self {
            channels: [channels, channels],
            kernels,
            stride,
            depthwise: true,
        }
    }
}

impl Convs<'_, '_> {
    /// `create_conv2d` (bias-free) followed by the BatchNorm `bn`. Several kernels: timm's
    /// `MixedConv2d`, whose parts (`{name}.0`, `{name}.1`, ...) each take a share of the input
    /// and output channels, written here as one convolution with the largest kernel (smaller
    /// kernels centred in it, zeros around) and each part's block of channels: the same sums,
    /// since a centred odd kernel sees the same pixels under the larger kernel's padding, PyTorch's
    /// and TF "SAME" alike.
    fn conv_bn(
        &self,
        name: &str,
        bn: &str,
        part: Part,
        act: Activation,
    ) -> Result<Layer, ModelError> {
        let Part {
            channels: [in_channels, out_channels],
            kernels,
            stride,
            depthwise,
        } = part;
        let kernel = kernels.iter().copied().max().unwrap_or(1);
        let shape = ConvShape::new(in_channels, out_channels, kernel, stride);
        let shape = if self.same_padding {
            shape.tf_same()
        } else {
            shape
        };
        let groups = if depthwise { in_channels } else { 1 };
        let conv = if let [_] = kernels {
            super::layers::read_conv(self.weights, name, shape.groups(groups))?
        } else {
            self.mixed(name, shape, kernels, depthwise)?
        };
        fold_bn(self.weights, conv, bn, act, self.bn_eps)
    }

    fn mixed(
        &self,
        name: &str,
        shape: ConvShape,
        kernels: &[usize],
        depthwise: bool,
    ) -> Result<Conv2d, ModelError> {
        let (in_channels, out_channels, kernel) =
            (shape.in_channels, shape.out_channels, shape.kernel);
        let ins = split_channels(in_channels, kernels.len());
        let outs = split_channels(out_channels, kernels.len());
        // Equal shares of 1×1 parts: exactly a grouped convolution.
        let grouped = !depthwise
            && kernels.iter().all(|&k| k == kernel)
            && ins[0] == ins[1]
            && outs[0] == outs[1];
        let (groups, fan_in) = match (depthwise, grouped) {
            (true, _) => (in_channels, 1),
            (false, true) => (kernels.len(), ins[0]),
            (false, false) => (1, in_channels),
        };
        let area = kernel * kernel;
        let mut weight = vec![0.0f32; out_channels * fan_in * area];
        let (mut in_start, mut out_start) = (0, 0);
        for (part, ((&k, &part_in), &part_out)) in kernels.iter().zip(&ins).zip(&outs).enumerate() {
            let part_fan_in = if depthwise { 1 } else { part_in };
            let values = self.weights.take(
                &format!("{name}.{part}.weight"),
                &[part_out, part_fan_in, k, k],
            )?;
            let offset = (kernel - k) / 2;
            let column = if groups == 1 { in_start } else { 0 };
            for o in 0..part_out {
                for i in 0..part_fan_in {
                    for y in 0..k {
                        for x in 0..k {
                            let to =
                                (((out_start + o) * fan_in + column + i) * kernel + y + offset)
                                    * kernel
                                    + x
                                    + offset;
                            weight[to] = values[((o * part_fan_in + i) * k + y) * k + x];
                        }
                    }
                }
            }
            in_start += part_in;
            out_start += part_out;
        }
        Ok(Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride: shape.stride,
            dilation: 1,
            padding: shape.padding,
            groups,
            weight,
            bias: vec![0.0; out_channels],
            winograd: Default::default(),
        })
    }
}

pub fn build(
    args: &EfficientNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let convs = Convs {
        weights,
        same_padding: args.same_padding,
        bn_eps: args.bn_eps,
    };
    let round = |channels: usize| {
        make_divisible(channels as f64 * args.channel_multiplier, args.round_limit)
    };
    let act = args.act;
    let stem_width = match args.fix_stem {
        true => args.stem,
        false => round(args.stem),
    };
    let stem_part = Part::dense([args.in_chans, stem_width], &[3], 2);
    let stem = vec![convs.conv_bn("conv_stem", "bn1", stem_part, act)?];

    let mut blocks = Vec::new();
    let mut in_channels = stem_width;
    for (stage, entries) in args.stages.iter().enumerate() {
        let specs: Vec<BlockSpec> = entries.iter().map(|s| BlockSpec::parse(s)).collect();
        let repeats: Vec<usize> = specs.iter().map(|s| s.repeats).collect();
        let multiplier = match args.depth_multiplier {
            DepthMultiplier::All(m) => m,
            DepthMultiplier::PerStage(per_stage) => per_stage[stage],
        };
        let scaled = scale_depth(&repeats, multiplier, args.depth_round);
        let stage_blocks = specs
            .iter()
            .zip(scaled)
            .flat_map(|(spec, n)| std::iter::repeat_n(spec, n));
        for (index, spec) in stage_blocks.enumerate() {
            let name = format!("blocks.{stage}.{index}");
            // Only a stage's first block strides.
            let stride = if index == 0 { spec.stride } else { 1 };
            let out_channels = round(spec.out_channels);
            blocks.push(block(
                &convs,
                args,
                spec,
                &name,
                in_channels,
                out_channels,
                stride,
            )?);
            in_channels = out_channels;
        }
    }

    let (neck, head) = match args.head {
        Head::Conv { features } => {
            let part = Part::dense([in_channels, features], &[1], 1);
            let neck = convs.conv_bn("conv_head", "bn2", part, act)?;
            let logits = classifier(weights, "classifier", features, num_classes)?;
            (vec![neck], vec![logits])
        }
        Head::Pooled { features, bias } => {
            // On pooled features a 1×1 convolution is a linear layer, stored `[out, in, 1, 1]`.
            let conv_head = Linear {
                in_features: in_channels,
                out_features: features,
                weight: weights.take("conv_head.weight", &[features, in_channels, 1, 1])?,
                bias: match bias {
                    true => weights.take("conv_head.bias", &[features])?,
                    false => vec![0.0; features],
                },
                act,
            };
            let logits = classifier(weights, "classifier", features, num_classes)?;
            (Vec::new(), vec![conv_head, logits])
        }
    };
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head,
    })
}

/// One block of `spec`, as `EfficientNetBuilder._make_block` makes it.
fn block(
    convs: &Convs,
    args: &EfficientNetArgs,
    spec: &BlockSpec,
    name: &str,
    in_channels: usize,
    out_channels: usize,
    stride: usize,
) -> Result<Block, ModelError> {
    let act = spec.act.unwrap_or(args.act);
    let se = |channels| -> Result<_, ModelError> {
        if !spec.se {
            return Ok(None);
        }
        let style = SeStyle {
            reduce: "conv_reduce",
            expand: "conv_expand",
            act: args.se.act.unwrap_or(act),
            gate: args.se.gate,
        };
        squeeze_excite(convs.weights, &format!("{name}.se"), channels, style).map(Some)
    };
    let layer = |module: &str, bn: &str, part: Part, act: Activation| {
        convs.conv_bn(
            &format!("{name}.{module}"),
            &format!("{name}.{bn}"),
            part,
            act,
        )
    };
    let none = Activation::None;
    let project = |mid: usize| Part::dense([mid, out_channels], &spec.pw_kernel, 1);
    let (body, se, tail) = match spec.kind {
        BlockKind::DepthwiseSeparable { pw_act } => {
            let c = in_channels;
            let pw_act = if pw_act { act } else { none };
            let dw = Part::depthwise(c, &spec.kernel, stride);
            (
                vec![layer("conv_dw", "bn1", dw, act)?],
                se(c)?,
                vec![layer("conv_pw", "bn2", project(c), pw_act)?],
            )
        }
        BlockKind::InvertedResidual => {
            let mid = make_divisible(in_channels as f64 * spec.expansion, 0.9);
            let expand = Part::dense([in_channels, mid], &spec.exp_kernel, 1);
            let dw = Part::depthwise(mid, &spec.kernel, stride);
            (
                vec![
                    layer("conv_pw", "bn1", expand, act)?,
                    layer("conv_dw", "bn2", dw, act)?,
                ],
                se(mid)?,
                vec![layer("conv_pwl", "bn3", project(mid), none)?],
            )
        }
        BlockKind::EdgeResidual => {
            let from = match spec.force_in {
                0 => in_channels,
                forced => make_divisible(forced as f64 * args.channel_multiplier, args.round_limit),
            };
            let mid = make_divisible(from as f64 * spec.expansion, 0.9);
            let expand = Part::dense([in_channels, mid], &spec.kernel, stride);
            (
                vec![layer("conv_exp", "bn1", expand, act)?],
                se(mid)?,
                vec![layer("conv_pwl", "bn2", project(mid), none)?],
            )
        }
        BlockKind::ConvBnAct => {
            let part = Part::dense([in_channels, out_channels], &spec.kernel, stride);
            (vec![layer("conv", "bn1", part, act)?], None, Vec::new())
        }
    };
    let fits = stride == 1 && in_channels == out_channels;
    let skip = match spec.kind {
        // `ConvBnAct` has a skip only when asked for; `dsa` never.
        BlockKind::ConvBnAct => spec.skip == Some(true),
        BlockKind::DepthwiseSeparable { pw_act: true } => false,
        _ => spec.skip != Some(false),
    } && fits;
    Ok(Block {
        name: name.to_owned(),
        pre: Vec::new(),
        body,
        se,
        tail,
        residual: skip.then(|| Residual {
            projection: Vec::new(),
            act: Activation::None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_timm() {
        let spec = BlockSpec::parse("ir_r2_k5_s2_e2.3_c80_se0.25_nre");
        assert_eq!(spec.kind, BlockKind::InvertedResidual);
        assert_eq!(
            (spec.repeats, spec.kernel.clone(), spec.stride),
            (2, vec![5], 2)
        );
        assert_eq!((spec.expansion, spec.out_channels), (2.3, 80));
        assert!(spec.se && spec.act == Some(Activation::Relu) && spec.skip.is_none());
        let mixed = BlockSpec::parse("ir_r3_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw");
        assert_eq!(mixed.kernel, [3, 5, 7, 9]);
        assert_eq!(
            (mixed.exp_kernel, mixed.pw_kernel),
            (vec![1, 1], vec![1, 1])
        );
        assert_eq!(mixed.act, Some(Activation::Silu));
        let dsa = BlockSpec::parse("dsa_r2_k5_s2_c512_se0.25");
        assert_eq!(dsa.kind, BlockKind::DepthwiseSeparable { pw_act: true });
        assert_eq!(BlockSpec::parse("cn_r2_k3_s1_e1_c24_skip").skip, Some(true));
        // Values timm computes (MobileNetV3-Small's 24·3.67, EfficientNet-B3's stem 32·1.2).
        assert_eq!(make_divisible(24.0 * 3.67, 0.9), 88);
        assert_eq!(make_divisible(32.0 * 1.2, 0.9), 40);
        assert_eq!(make_divisible(80.0 * 2.3, 0.9), 184);
        assert_eq!(make_divisible(4.0, 0.9), 8);
        // EfficientNet-B3 (×1.4): 2 → 3, 3 → 5, 4 → 6, 1 → 2; shared out from the last entry.
        assert_eq!(scale_depth(&[2], 1.4, false), [3]);
        assert_eq!(scale_depth(&[3], 1.4, false), [5]);
        assert_eq!(scale_depth(&[1, 1, 2], 1.0, false), [1, 1, 2]);
        assert_eq!(scale_depth(&[1, 1, 2], 1.5, false), [1, 2, 3]);
        // TinyNet-E (×0.6, round): 1 → 1, 4 → 2, 3 → 2.
        assert_eq!(scale_depth(&[4], 0.6, true), [2]);
        assert_eq!(scale_depth(&[1], 0.6, true), [1]);
        assert_eq!(split_channels(10, 3), [4, 3, 3]);
    }

    #[test]
    fn every_registered_name_decodes() {
        for name in [
            "efficientnet_b0",
            "tf_efficientnet_l2",
            "efficientnetv2_rw_t",
            "tf_efficientnetv2_b3",
            "efficientnetv2_xl",
            "mixnet_xxl",
            "tf_mixnet_s",
            "semnasnet_075",
            "mnasnet_small",
            "mnasnet_140",
            "tinynet_e",
            "mobilenetv3_large_150d",
            "tf_mobilenetv3_small_minimal_100",
            "mobilenetv3_rw",
            "fbnetv3_g",
            "hardcorenas_f",
            "lcnet_035",
        ] {
            let args = EfficientNetArgs::from_name(name).unwrap_or_else(|| panic!("{name}"));
            for stage in args.stages {
                for spec in *stage {
                    BlockSpec::parse(spec);
                }
            }
        }
        for name in [
            "tf_efficientnetv2_rw_t",
            "tf_mobilenetv3_rw",
            "tf_lcnet_100",
            "mobilenetv3_small_150d",
            "efficientnet_b9",
        ] {
            assert_eq!(EfficientNetArgs::from_name(name), None, "{name}");
        }
    }
}
