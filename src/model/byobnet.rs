//! timm's `byobnet.py` ("bring your own blocks") networks made of bottleneck blocks:
//! SE-ResNeXt-26-TS and SE-ResNet-33-TS (tiered 3-conv stems, SiLU), RegNetZ B16…E8 (inverted
//! bottlenecks sized from the block's input, a linear output, no shortcut where the shape
//! changes), and their attention-free twins; and the re-parameterisable ones, whose parallel
//! branches are summed into one convolution per block here: RepVGG-D2SE (3×3, 1×1 and identity
//! branches) and MobileOne S0…S4 (pairs of depthwise and pointwise blocks, S4 with SE). Each is
//! its `ByoModelCfg`, built as `ByobNet.__init__` builds it: `create_byob_stem`,
//! `create_byob_stages`, `BottleneckBlock`, `RepVggBlock`, `MobileOneBlock`.

use serde_json::{Map, Value};

use super::args;
use super::layers::{
    classifier, conv_norm, conv_norm_act, fold_bn_into, identity_conv, make_divisible,
    squeeze_excite, sum_convs, ConvShape, BN_EPS, SE_PAPER,
};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Pool, PoolKind};

/// A `ByoBlockCfg`'s type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockType {
    Bottle,
    /// `RepVggBlock`: `act(se(conv3×3(x) + conv1×1(x) + bn(x)))`, the identity branch only where
    /// the shape stays.
    Rep,
    /// MobileOne's stage: `depth` pairs of `MobileOneBlock`s, a depthwise k×k one (`branches`
    /// k×k convolutions, a 1×1 and the identity where the shape stays, summed) then a pointwise
    /// one (`branches` 1×1s and the identity); the last `se_blocks` pairs with an SE.
    One {
        branches: usize,
        se_blocks: usize,
    },
}

/// One `ByoBlockCfg`: a stage.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stage {
    kind: BlockType,
    depth: usize,
    channels: f64,
    stride: usize,
    /// Channels per group of the k×k convolution; 0: one group.
    group_size: usize,
    bottle_ratio: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StemType {
    /// Three 3×3 convolutions, `(3c/8, c/2, c)` channels (ResNet-T).
    Tiered,
    /// One strided 3×3 convolution, no pool (RegNet's).
    Conv3x3,
    /// A strided RepVGG block (with the network's SE).
    Rep,
    /// A strided 3×3 `MobileOneBlock` (no SE).
    One,
}

/// A `ByoModelCfg` with `bottle` blocks (the fields that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct ByobArgs {
    stages: [Stage; 4],
    stem: StemType,
    stem_chs: usize,
    stem_maxpool: bool,
    /// The shortcut where a block changes the shape: a 1×1 convolution, or none (RegNetZ).
    conv1x1_downsample: bool,
    /// A 1×1 convolution to this many features before the pool; 0: none.
    num_features: usize,
    width_factor: f64,
    act: Activation,
    se: bool,
    /// The bottleneck's width from the block's input channels rather than its output's.
    bottle_in: bool,
    /// No activation after the residual add.
    linear_out: bool,
    in_chans: usize,
}

impl ByobArgs {
    /// timm's `model_cfgs[name]`, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let stage = |depth, channels, stride, group_size, bottle_ratio| Stage {
            kind: BlockType::Bottle,
            depth,
            channels,
            stride,
            group_size,
            bottle_ratio,
        };
        let ts = |gs, depths: [usize; 4], widths: [f64; 4]| {
            let strides = [1, 2, 2, 2];
            std::array::from_fn(|i| stage(depths[i], widths[i], strides[i], gs, 0.25))
        };
        let resnext26 = Self {
            stages: ts(32, [2; 4], [256.0, 512.0, 1024.0, 2048.0]),
            stem: StemType::Tiered,
            stem_chs: 64,
            stem_maxpool: true,
            conv1x1_downsample: true,
            num_features: 0,
            width_factor: 1.0,
            act: Activation::Silu,
            se: false,
            bottle_in: false,
            linear_out: false,
            in_chans: 3,
        };
        let resnet33 = |num_features| Self {
            stages: ts(0, [2, 3, 3, 2], [256.0, 512.0, 1536.0, 1536.0]),
            stem_maxpool: false,
            num_features,
            ..resnext26.clone()
        };
        // RegNetZ: 4 stages of (depth, channels), all with one group size and bottleneck ratio.
        let regnetz = |stem, stem_chs, first_stride, gs, ratio, stages: [(usize, f64); 4], nf| {
            let strides = [first_stride, 2, 2, 2];
            Self {
                stages: std::array::from_fn(|i| {
                    stage(stages[i].0, stages[i].1, strides[i], gs, ratio)
                }),
                stem,
                stem_chs,
                stem_maxpool: false,
                conv1x1_downsample: false,
                num_features: nf,
                se: true,
                bottle_in: true,
                linear_out: true,
                ..resnext26.clone()
            }
        };
        let z_small = [(2, 48.0), (6, 96.0), (12, 192.0), (2, 288.0)];
        let z_d = [(3, 64.0), (6, 128.0), (12, 256.0), (3, 384.0)];
        let z_e = [(3, 96.0), (8, 192.0), (16, 384.0), (3, 512.0)];
        let (tiered, conv3) = (StemType::Tiered, StemType::Conv3x3);
        Some(match name {
            "resnext26ts" => resnext26,
            "seresnext26ts" => Self {
                se: true,
                ..resnext26
            },
            "resnet32ts" => resnet33(0),
            "resnet33ts" => resnet33(1280),
            "seresnet33ts" => Self {
                se: true,
                ..resnet33(1280)
            },
            "regnetz_b16" => regnetz(conv3, 32, 2, 16, 3.0, z_small, 1536),
            "regnetz_c16" => regnetz(conv3, 32, 2, 16, 4.0, z_small, 1536),
            "regnetz_d32" => regnetz(tiered, 64, 1, 32, 4.0, z_d, 1792),
            "regnetz_d8" => regnetz(tiered, 64, 1, 8, 4.0, z_d, 1792),
            "regnetz_e8" => regnetz(tiered, 64, 1, 8, 4.0, z_e, 2048),
            // `_rep_vgg_bcfg(d=(8, 14, 24, 1), wf=(2.5, 2.5, 2.5, 5.0))`.
            "repvgg_d2se" => {
                let rep = |depth, channels| Stage {
                    kind: BlockType::Rep,
                    ..stage(depth, channels, 2, 0, 1.0)
                };
                Self {
                    stages: [
                        rep(8, 160.0),
                        rep(14, 320.0),
                        rep(24, 640.0),
                        rep(1, 2560.0),
                    ],
                    stem: StemType::Rep,
                    stem_maxpool: false,
                    act: Activation::Relu,
                    se: true,
                    ..resnext26
                }
            }
            // `_mobileone_bcfg(wf=…, se_blocks=…, num_conv_branches=…)`.
            "mobileone_s0" | "mobileone_s1" | "mobileone_s2" | "mobileone_s3" | "mobileone_s4" => {
                let (stem_chs, wf, branches, se) = match name {
                    "mobileone_s0" => (48, [0.75, 1.0, 1.0, 2.0], 4, [0; 4]),
                    "mobileone_s1" => (64, [1.5, 1.5, 2.0, 2.5], 1, [0; 4]),
                    "mobileone_s2" => (64, [1.5, 2.0, 2.5, 4.0], 1, [0; 4]),
                    "mobileone_s3" => (64, [2.0, 2.5, 3.0, 4.0], 1, [0; 4]),
                    _ => (64, [3.0, 3.5, 3.5, 4.0], 1, [0, 0, 5, 1]),
                };
                let (depths, widths) = ([2, 8, 10, 1], [64.0, 128.0, 256.0, 512.0]);
                Self {
                    stages: std::array::from_fn(|i| Stage {
                        kind: BlockType::One {
                            branches,
                            se_blocks: se[i],
                        },
                        ..stage(depths[i], widths[i] * wf[i], 2, 0, 1.0)
                    }),
                    stem: StemType::One,
                    stem_chs,
                    stem_maxpool: false,
                    act: Activation::Relu,
                    ..resnext26
                }
            }
            _ => return None,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "ByobNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                // `ByoModelCfg` fields timm overlays from kwargs.
                "width_factor" => self.width_factor = arg.positive_number()?,
                "stem_chs" => self.stem_chs = arg.positive_int()?,
                // The SE's width comes from its weights.
                "attn_kwargs"
                    if arg.value.as_object().is_some_and(|kwargs| {
                        kwargs.keys().all(|k| k == "rd_ratio" || k == "rd_divisor")
                    }) => {}
                "num_features" => {
                    self.num_features = arg
                        .value
                        .as_u64()
                        .ok_or_else(|| arg.bad("expected an integer"))?
                        as usize
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

pub fn build(
    args: &ByobArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let act = args.act;
    // `int(round(stem_chs * width_factor))`; Python rounds half to even.
    let stem_chs = (args.stem_chs as f64 * args.width_factor).round_ties_even() as usize;
    let (stem, mut in_channels) = match args.stem {
        StemType::Rep | StemType::One => (Vec::new(), args.in_chans),
        _ => stem(args, stem_chs, weights)?,
    };
    let mut blocks = Vec::new();
    if matches!(args.stem, StemType::Rep | StemType::One) {
        let site = Site {
            name: "stem".into(),
            in_channels,
            out_channels: stem_chs,
            stride: 2,
            stage: &args.stages[0],
        };
        blocks.push(match args.stem {
            StemType::Rep => rep_vgg(args, &site, weights)?,
            _ => mobile_one(args, &site, 3, 1, 1, false, weights)?,
        });
        in_channels = stem_chs;
    }
    // MobileOne's depthwise blocks keep the previous block's width, unrounded; the first one's
    // is `min(64, c₀·wf₀)`.
    let mut prev_width = args.stages[0].channels.min(64.0);
    for (s, stage) in args.stages.iter().enumerate() {
        let out_channels = make_divisible(stage.channels * args.width_factor, 8, 0.9);
        if let BlockType::One {
            branches,
            se_blocks,
        } = stage.kind
        {
            for pair in 0..stage.depth {
                let dw_channels = make_divisible(prev_width * args.width_factor, 8, 0.9);
                let se = pair + se_blocks >= stage.depth;
                let mut site = Site {
                    name: format!("stages.{s}.{}", 2 * pair),
                    in_channels,
                    out_channels: dw_channels,
                    stride: if pair == 0 { stage.stride } else { 1 },
                    stage,
                };
                blocks.push(mobile_one(
                    args,
                    &site,
                    3,
                    in_channels,
                    branches,
                    se,
                    weights,
                )?);
                site.name = format!("stages.{s}.{}", 2 * pair + 1);
                (site.in_channels, site.out_channels, site.stride) = (dw_channels, out_channels, 1);
                blocks.push(mobile_one(args, &site, 1, 1, branches, se, weights)?);
                in_channels = out_channels;
                prev_width = stage.channels;
            }
            continue;
        }
        for index in 0..stage.depth {
            let site = Site {
                name: format!("stages.{s}.{index}"),
                in_channels,
                out_channels,
                stride: if index == 0 { stage.stride } else { 1 },
                stage,
            };
            blocks.push(match stage.kind {
                BlockType::Bottle => bottleneck(args, &site, weights)?,
                _ => rep_vgg(args, &site, weights)?,
            });
            in_channels = out_channels;
        }
    }
    let mut neck = Vec::new();
    if args.num_features > 0 {
        let features = (args.num_features as f64 * args.width_factor).round_ties_even() as usize;
        let shape = ConvShape::new(in_channels, features, 1, 1);
        neck.push(conv_norm_act(weights, "final_conv", shape, act)?);
        in_channels = features;
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head: vec![classifier(weights, "head.fc", in_channels, num_classes)?],
    })
}

/// `create_byob_stem`: the layers and their output channels.
fn stem(args: &ByobArgs, chs: usize, weights: &Weights) -> Result<(Vec<Layer>, usize), ModelError> {
    let act = args.act;
    match args.stem {
        StemType::Rep | StemType::One => unreachable!("the RepVGG and MobileOne stems are blocks"),
        StemType::Conv3x3 => {
            let shape = ConvShape::new(args.in_chans, chs, 3, 2);
            Ok((vec![conv_norm_act(weights, "stem", shape, act)?], chs))
        }
        StemType::Tiered => {
            // `Stem(stride=4)`: the first convolution strided, and the last too without a pool.
            let widths = [3 * chs / 8, chs / 2, chs];
            let mut layers = Vec::new();
            let mut prev = args.in_chans;
            for (i, &width) in widths.iter().enumerate() {
                let stride = match i {
                    0 => 2,
                    2 if !args.stem_maxpool => 2,
                    _ => 1,
                };
                let shape = ConvShape::new(prev, width, 3, stride);
                layers.push(conv_norm_act(
                    weights,
                    &format!("stem.conv{}", i + 1),
                    shape,
                    act,
                )?);
                prev = width;
            }
            if args.stem_maxpool {
                layers.push(Layer::Pool(Pool {
                    kind: PoolKind::Max,
                    kernel: 3,
                    stride: 2,
                    padding: 1,
                    ceil_mode: false,
                }));
            }
            Ok((layers, chs))
        }
    }
}

/// Where a block sits.
struct Site<'a> {
    name: String,
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    stage: &'a Stage,
}

/// `BottleneckBlock`: 1×1 → k×k (grouped, strided) → SE → 1×1, plus the shortcut, then the
/// activation (none with `linear_out`).
fn bottleneck(args: &ByobArgs, site: &Site, weights: &Weights) -> Result<Block, ModelError> {
    let Site {
        ref name,
        in_channels,
        out_channels,
        stride,
        stage,
    } = *site;
    let act = args.act;
    let base = if args.bottle_in {
        in_channels
    } else {
        out_channels
    };
    let mid = make_divisible(base as f64 * stage.bottle_ratio, 8, 0.9);
    let groups = match stage.group_size {
        0 => 1,
        size if mid.is_multiple_of(size) => mid / size,
        size => {
            return Err(ModelError::Config(format!(
                "{name}: {mid} bottleneck channels do not split into groups of {size}"
            )))
        }
    };
    let conv =
        |module: &str, shape, act| conv_norm_act(weights, &format!("{name}.{module}"), shape, act);
    let body = vec![
        conv("conv1_1x1", ConvShape::new(in_channels, mid, 1, 1), act)?,
        conv(
            "conv2_kxk",
            ConvShape::new(mid, mid, 3, stride).groups(groups),
            act,
        )?,
    ];
    let se = args
        .se
        .then(|| squeeze_excite(weights, &format!("{name}.attn"), mid, SE_PAPER))
        .transpose()?;
    let out_act = if args.linear_out {
        Activation::None
    } else {
        act
    };
    let changes_shape = stride != 1 || in_channels != out_channels;
    let (tail, residual) = match (changes_shape, args.conv1x1_downsample) {
        (true, false) => {
            // No shortcut: `self.act(x)` still follows the last convolution.
            let shape = ConvShape::new(mid, out_channels, 1, 1);
            (vec![conv("conv3_1x1", shape, out_act)?], None)
        }
        (changes_shape, _) => {
            let projection = match changes_shape {
                true => vec![conv(
                    "shortcut",
                    ConvShape::new(in_channels, out_channels, 1, stride),
                    Activation::None,
                )?],
                false => Vec::new(),
            };
            let shape = ConvShape::new(mid, out_channels, 1, 1);
            let tail = vec![conv("conv3_1x1", shape, Activation::None)?];
            (
                tail,
                Some(Residual {
                    projection,
                    act: out_act,
                }),
            )
        }
    };
    Ok(Block {
        name: name.clone(),
        pre: Vec::new(),
        body,
        se,
        tail,
        residual,
    })
}

/// `RepVggBlock` (one group: `gs=0` in every RepVGG-D2SE stage): its 3×3, 1×1 and identity
/// branches, each with its BatchNorm folded in, summed into one 3×3 convolution; then the SE and
/// the activation.
fn rep_vgg(args: &ByobArgs, site: &Site, weights: &Weights) -> Result<Block, ModelError> {
    let branches = [("conv_kxk".into(), 3), ("conv_1x1".into(), 1)];
    summed(args, site, &branches, 1, args.se, weights)
}

/// `MobileOneBlock` with a `kernel`×`kernel` convolution in `groups`: its `branches` k×k
/// convolutions, the 1×1 "scale" one where k > 1 and the identity, summed; then the SE and the
/// activation.
fn mobile_one(
    args: &ByobArgs,
    site: &Site,
    kernel: usize,
    groups: usize,
    branches: usize,
    se: bool,
    weights: &Weights,
) -> Result<Block, ModelError> {
    let mut convs = (0..branches)
        .map(|i| (format!("conv_kxk.{i}"), kernel))
        .collect::<Vec<_>>();
    if kernel > 1 {
        convs.push(("conv_scale".into(), 1));
    }
    summed(args, site, &convs, groups, se, weights)
}

/// A re-parameterisable block: the `(module, kernel)` ConvNormAct branches in `groups` and, where
/// the shape stays, the identity's BatchNorm `{name}.identity`, summed into one convolution
/// ([`sum_convs`]); then the SE (`{name}.attn`, with `se`) and the activation.
fn summed(
    args: &ByobArgs,
    site: &Site,
    branches: &[(String, usize)],
    groups: usize,
    se: bool,
    weights: &Weights,
) -> Result<Block, ModelError> {
    let Site {
        ref name,
        in_channels,
        out_channels,
        stride,
        ..
    } = *site;
    let mut convs = branches
        .iter()
        .map(|(module, kernel)| {
            let kernel = *kernel;
            let shape = ConvShape::new(in_channels, out_channels, kernel, stride).groups(groups);
            conv_norm(weights, &format!("{name}.{module}"), shape)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if in_channels == out_channels && stride == 1 {
        let bn = format!("{name}.identity");
        let identity = identity_conv(out_channels, groups);
        convs.push(fold_bn_into(weights, identity, &bn, BN_EPS)?);
    }
    let se = se
        .then(|| squeeze_excite(weights, &format!("{name}.attn"), out_channels, SE_PAPER))
        .transpose()?;
    Ok(Block {
        name: name.clone(),
        pre: Vec::new(),
        body: vec![Layer::Conv {
            conv: sum_convs(convs),
            act: Activation::None,
        }],
        se,
        tail: vec![Layer::Act(args.act)],
        residual: None,
    })
}
