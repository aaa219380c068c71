//! timm's `ghostnet.py`, GhostNet v1 (`ghostnet_050/100/130`): ghost modules (a 1×1 convolution
//! and a depthwise "cheap" one on its output, concatenated), MobileNetV3-style SE with a hard
//! sigmoid in some bottlenecks; and `repghost.py`, RepGhostNet (`repghostnet_050…200`), whose
//! ghost modules add the cheap convolution to a BatchNorm of its input instead of concatenating
//! (summed into one convolution here); and GhostNet v2 (`ghostnetv2_100/130/160`), whose
//! expanding ghost modules (all but the first two blocks') are gated by a "decoupled fully
//! connected" attention map; and GhostNet v3 (`ghostnetv3_050…160`), v2 with every ghost
//! module's convolutions and a strided block's depthwise one trained as parallel branches
//! (summed into one convolution each here).

use serde_json::{Map, Value};

use super::args;

use super::layers::{
    classifier, conv_bn, fold_bn_into, folded_conv, identity_conv, linear, make_divisible,
    read_conv, squeeze_excite, sum_convs, ConvShape, SeStyle, BN_EPS,
};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Conv2d, Padding, Pool, PoolKind};

/// `GhostNet.__init__` arguments that change the computation.
#[derive(Clone, Debug, PartialEq)]
pub struct GhostNetArgs {
    version: Version,
    width: f64,
    in_chans: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    /// GhostNet v2: v1's layout, the DFC attention in the blocks after the first two.
    V2,
    /// GhostNet v3: v2's, every convolution of a ghost module and a strided block's depthwise
    /// one re-parameterisable (parallel branches with their BatchNorms, summed here).
    V3,
    /// RepGhostNet; `reparam`: the cheap convolution's identity branch (`fusion_bn`).
    Rep {
        reparam: bool,
    },
}

/// One bottleneck: `(kernel, expansion width, out width, SE, stride)`.
type Cfg = (usize, usize, usize, bool, usize);

/// timm's `_create_ghostnet` configuration, per stage.
const CFGS: &[&[Cfg]] = &[
    &[(3, 16, 16, false, 1)],
    &[(3, 48, 24, false, 2)],
    &[(3, 72, 24, false, 1)],
    &[(5, 72, 40, true, 2)],
    &[(5, 120, 40, true, 1)],
    &[(3, 240, 80, false, 2)],
    &[
        (3, 200, 80, false, 1),
        (3, 184, 80, false, 1),
        (3, 184, 80, false, 1),
        (3, 480, 112, true, 1),
        (3, 672, 112, true, 1),
    ],
    &[(5, 672, 160, true, 2)],
    &[
        (5, 960, 160, false, 1),
        (5, 960, 160, true, 1),
        (5, 960, 160, false, 1),
        (5, 960, 160, true, 1),
    ],
];

/// timm's `_create_repghostnet` configuration, per stage (half v1's expansions at the start).
const REP_CFGS: &[&[Cfg]] = &[
    &[(3, 8, 16, false, 1)],
    &[(3, 24, 24, false, 2)],
    &[(3, 36, 24, false, 1)],
    &[(5, 36, 40, true, 2)],
    &[(5, 60, 40, true, 1)],
    &[(3, 120, 80, false, 2)],
    &[
        (3, 100, 80, false, 1),
        (3, 120, 80, false, 1),
        (3, 120, 80, false, 1),
        (3, 240, 112, true, 1),
        (3, 336, 112, true, 1),
    ],
    &[(5, 336, 160, true, 2)],
    &[
        (5, 480, 160, false, 1),
        (5, 480, 160, true, 1),
        (5, 480, 160, false, 1),
        (5, 480, 160, true, 1),
    ],
];

impl GhostNetArgs {
    pub fn from_name(name: &str) -> Option<Self> {
        let (version, width) = match name.split_once('_')? {
            ("ghostnet", "050") => (Version::V1, 0.5),
            ("ghostnet", "100") => (Version::V1, 1.0),
            ("ghostnet", "130") => (Version::V1, 1.3),
            ("ghostnetv2", "100") => (Version::V2, 1.0),
            ("ghostnetv2", "130") => (Version::V2, 1.3),
            ("ghostnetv2", "160") => (Version::V2, 1.6),
            ("ghostnetv3", "050") => (Version::V3, 0.5),
            ("ghostnetv3", "100") => (Version::V3, 1.0),
            ("ghostnetv3", "130") => (Version::V3, 1.3),
            ("ghostnetv3", "160") => (Version::V3, 1.6),
            ("repghostnet", width) => {
                let width = match width {
                    "050" => 0.5,
                    "058" => 0.58,
                    "080" => 0.8,
                    "100" => 1.0,
                    "111" => 1.11,
                    "130" => 1.3,
                    "150" => 1.5,
                    "200" => 2.0,
                    _ => return None,
                };
                (Version::Rep { reparam: true }, width)
            }
            _ => return None,
        };
        Some(Self {
            version,
            width,
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "GhostNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "width" => self.width = arg.positive_number()?,
                "version" => match (arg.value.as_str(), self.version) {
                    (Some("v1"), Version::V1)
                    | (Some("v2"), Version::V2)
                    | (Some("v3"), Version::V3) => {}
                    _ => return Ok(false),
                },
                "reparam" => match (&mut self.version, arg.value.as_bool()) {
                    (Version::Rep { reparam }, Some(value)) => *reparam = value,
                    _ => return Ok(false),
                },
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// timm's `make_divisible(c * width, 4)`.
    fn scaled(&self, channels: usize) -> usize {
        make_divisible(channels as f64 * self.width, 4, 0.9)
    }
}

pub fn build(
    args: &GhostNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let relu = Activation::Relu;
    let stem_chs = args.scaled(16);
    let stem_shape = ConvShape::new(args.in_chans, stem_chs, 3, 2);
    let stem = vec![conv_bn(weights, "conv_stem", "bn1", stem_shape, relu)?];
    let mut blocks = Vec::new();
    let mut in_chs = stem_chs;
    let cfgs = match args.version {
        Version::V1 | Version::V2 | Version::V3 => CFGS,
        Version::Rep { .. } => REP_CFGS,
    };
    let blocks_of = cfgs.iter().enumerate().flat_map(|(stage, cfg)| {
        cfg.iter()
            .enumerate()
            .map(move |(index, cfg)| (stage, index, cfg))
    });
    for (module_index, (stage, index, &(kernel, expansion, out, se, stride))) in
        blocks_of.enumerate()
    {
        let name = format!("blocks.{stage}.{index}");
        let (mid, out) = (args.scaled(expansion), args.scaled(out));
        let conv = |module: &str, bn: &str, shape, act| {
            conv_bn(
                weights,
                &format!("{name}.{module}"),
                &format!("{name}.{bn}"),
                shape,
                act,
            )
        };
        // v2's and v3's first ghost module is gated from the third block on (`layer_idx > 1`).
        let gated = |module: &str| module == "ghost1" && module_index > 1;
        let ghost = |module: &str, from: usize, to: usize, act| {
            let path = format!("{name}.{module}");
            let mut layers = match args.version {
                Version::V1 | Version::V2 => ghost_module(weights, &path, from, to, act)?,
                Version::V3 => ghost_module_v3(weights, &path, from, to, act)?,
                Version::Rep { reparam } => {
                    rep_ghost_module(weights, &path, from, to, act, reparam)?
                }
            };
            if matches!(args.version, Version::V2 | Version::V3) && gated(module) {
                let gate = dfc_gate(weights, &path, from, to)?;
                layers = vec![Layer::SpatialGate { main: layers, gate }];
            }
            Ok::<_, ModelError>(layers)
        };
        let mut body = ghost("ghost1", in_chs, mid, relu)?;
        if stride > 1 {
            let depthwise = |k| ConvShape::new(mid, mid, k, stride).groups(mid);
            body.push(match args.version {
                // `dw_rpr_conv.{0,1,2}` (k×k) and `dw_rpr_scale` (1×1, stride 2 too), summed.
                Version::V3 => {
                    let mut branches = (0..3)
                        .map(|i| {
                            conv_bn1(
                                weights,
                                &format!("{name}.dw_rpr_conv.{i}"),
                                depthwise(kernel),
                            )
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    branches.push(conv_bn1(
                        weights,
                        &format!("{name}.dw_rpr_scale"),
                        depthwise(1),
                    )?);
                    Layer::Conv {
                        conv: sum_convs(branches),
                        act: Activation::None,
                    }
                }
                _ => conv("conv_dw", "bn_dw", depthwise(kernel), Activation::None)?,
            });
        }
        let style = SeStyle {
            reduce: "conv_reduce",
            expand: "conv_expand",
            act: relu,
            gate: Activation::HardSigmoid,
        };
        let se = se
            .then(|| squeeze_excite(weights, &format!("{name}.se"), mid, style))
            .transpose()?;
        let tail = ghost("ghost2", mid, out, Activation::None)?;
        let projection = if in_chs == out && stride == 1 {
            Vec::new()
        } else {
            let none = Activation::None;
            let depthwise = ConvShape::new(in_chs, in_chs, kernel, stride).groups(in_chs);
            vec![
                conv("shortcut.0", "shortcut.1", depthwise, none)?,
                conv(
                    "shortcut.2",
                    "shortcut.3",
                    ConvShape::new(in_chs, out, 1, 1),
                    none,
                )?,
            ]
        };
        blocks.push(Block {
            name,
            pre: Vec::new(),
            body,
            se,
            tail,
            residual: Some(Residual {
                projection,
                act: Activation::None,
            }),
        });
        in_chs = out;
    }
    // The last stage: a 1×1 ConvBnAct to the last expansion width; then, on the pooled
    // features, `conv_head` (1×1 with bias) → ReLU → classifier.
    let features = args.scaled(960);
    let last = cfgs.len();
    let neck = vec![conv_bn(
        weights,
        &format!("blocks.{last}.0.conv"),
        &format!("blocks.{last}.0.bn1"),
        ConvShape::new(in_chs, features, 1, 1),
        relu,
    )?];
    let conv_head = linear(weights, "conv_head", [features, 1280], relu, true)?;
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head: vec![
            conv_head,
            classifier(weights, "classifier", 1280, num_classes)?,
        ],
    })
}

/// `GhostModule`: `concat(p, cheap(p))[:, ..to]` where `p = primary(x)`, both halves with the act.
fn ghost_module(
    weights: &Weights,
    name: &str,
    from: usize,
    to: usize,
    act: Activation,
) -> Result<Vec<Layer>, ModelError> {
    let init = to.div_ceil(2);
    let part = |part: &str, shape| {
        let prefix = format!("{name}.{part}");
        conv_bn(
            weights,
            &format!("{prefix}.0"),
            &format!("{prefix}.1"),
            shape,
            act,
        )
    };
    let cheap = ConvShape::new(init, init, 3, 1).groups(init);
    Ok(vec![Layer::Ghost {
        primary: Box::new(part("primary_conv", ConvShape::new(from, init, 1, 1))?),
        cheap: Box::new(part("cheap_operation", cheap)?),
        out_channels: to,
    }])
}

/// `RepGhostModule`: `act(cheap(p) + fusion_bn(p))` where `p = primary(x)` (with the act): the
/// depthwise cheap convolution and the identity's BatchNorm summed into one convolution.
fn rep_ghost_module(
    weights: &Weights,
    name: &str,
    from: usize,
    to: usize,
    act: Activation,
    reparam: bool,
) -> Result<Vec<Layer>, ModelError> {
    let part = |module: &str, shape| {
        let path = format!("{name}.{module}");
        folded_conv(weights, &format!("{path}.0"), &format!("{path}.1"), shape)
    };
    let primary = part("primary_conv", ConvShape::new(from, to, 1, 1))?;
    let mut branches = vec![part(
        "cheap_operation",
        ConvShape::new(to, to, 3, 1).groups(to),
    )?];
    if reparam {
        let bn = format!("{name}.fusion_bn.0");
        branches.push(fold_bn_into(weights, identity_conv(to, to), &bn, BN_EPS)?);
    }
    Ok(vec![
        Layer::Conv { conv: primary, act },
        Layer::Conv {
            conv: sum_convs(branches),
            act,
        },
    ])
}

/// GhostNet v2's "decoupled fully connected" attention on a module's input, as the gate of a
/// [`Layer::SpatialGate`] around the module: `sigmoid(short_conv(avg_pool(x)))` (a 2×2 average
/// pool of stride 2; a 1×1, then a depthwise 1×5 and 5×1, each with its BatchNorm), which the
/// template resizes to the module's output. The 1×5 and 5×1 are 5×5 convolutions here, zeros
/// off their middle row or column.
fn dfc_gate(
    weights: &Weights,
    name: &str,
    from: usize,
    to: usize,
) -> Result<Vec<Layer>, ModelError> {
    let short = |i: usize| format!("{name}.short_conv.{i}");
    let bn = |conv, i| fold_bn_into(weights, conv, &short(i), BN_EPS);
    let first = read_conv(weights, &short(0), ConvShape::new(from, to, 1, 1))?;
    let strip = |i: usize, across: bool| -> Result<Conv2d, ModelError> {
        let shape = if across { [to, 1, 1, 5] } else { [to, 1, 5, 1] };
        let taps = weights.take(&format!("{}.weight", short(i)), &shape)?;
        let mut weight = vec![0.0; to * 25];
        for (channel, five) in taps.chunks_exact(5).enumerate() {
            for (k, &tap) in five.iter().enumerate() {
                let (y, x) = if across { (2, k) } else { (k, 2) };
                weight[channel * 25 + y * 5 + x] = tap;
            }
        }
        Ok(Conv2d {
            in_channels: to,
            out_channels: to,
            kernel: 5,
            stride: 1,
            dilation: 1,
            padding: Padding::Symmetric(2),
            groups: to,
            weight,
            bias: vec![0.0; to],
            winograd: Default::default(),
        })
    };
    let none = Activation::None;
    Ok(vec![
        Layer::Pool(Pool {
            kind: PoolKind::Avg,
            kernel: 2,
            stride: 2,
            padding: 0,
            ceil_mode: false,
        }),
        Layer::Conv {
            conv: bn(first, 1)?,
            act: none,
        },
        Layer::Conv {
            conv: bn(strip(2, true)?, 3)?,
            act: none,
        },
        Layer::Conv {
            conv: bn(strip(4, false)?, 5)?,
            act: Activation::Sigmoid,
        },
    ])
}

/// `GhostModuleV3`: the primary 1×1's three branches summed, and the cheap depthwise 3×3's three
/// branches, its 1×1 and its identity BatchNorm summed, each then the act; concatenated.
fn ghost_module_v3(
    weights: &Weights,
    name: &str,
    from: usize,
    to: usize,
    act: Activation,
) -> Result<Vec<Layer>, ModelError> {
    let init = to.div_ceil(2);
    let branches = |module: &str, shape| {
        (0..3)
            .map(|i| conv_bn1(weights, &format!("{name}.{module}.{i}"), shape))
            .collect::<Result<Vec<_>, _>>()
    };
    let primary = branches("primary_rpr_conv", ConvShape::new(from, init, 1, 1))?;
    let depthwise = |k| ConvShape::new(init, init, k, 1).groups(init);
    let mut cheap = branches("cheap_rpr_conv", depthwise(3))?;
    cheap.push(conv_bn1(
        weights,
        &format!("{name}.cheap_rpr_scale"),
        depthwise(1),
    )?);
    let skip = format!("{name}.cheap_rpr_skip");
    cheap.push(fold_bn_into(
        weights,
        identity_conv(init, init),
        &skip,
        BN_EPS,
    )?);
    Ok(vec![Layer::Ghost {
        primary: Box::new(Layer::Conv {
            conv: sum_convs(primary),
            act,
        }),
        cheap: Box::new(Layer::Conv {
            conv: sum_convs(cheap),
            act,
        }),
        out_channels: to,
    }])
}

/// timm's EfficientNet-block `ConvBnAct` without its act (`{module}.conv`, `{module}.bn1`), as
/// one convolution: a re-parameterisable branch.
fn conv_bn1(weights: &Weights, module: &str, shape: ConvShape) -> Result<Conv2d, ModelError> {
    folded_conv(
        weights,
        &format!("{module}.conv"),
        &format!("{module}.bn1"),
        shape,
    )
}
