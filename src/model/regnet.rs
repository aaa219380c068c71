//! timm's `regnet.py`: RegNetX, RegNetY (SE in every block), RegNetV (pre-activation RegNetY) and
//! RegNetZ (inverted bottlenecks, no shortcut where the shape changes). Stage widths, depths and
//! group sizes come from each model's `RegNetCfg` through timm's `generate_regnet` and
//! `adjust_widths_groups_comp`, in the same f32 arithmetic.

use serde_json::{Map, Value};

use super::args;

use super::layers::{
    batch_norm, classifier, conv_bn, conv_norm_act, make_divisible, read_conv, squeeze_excite,
    ConvShape, SeStyle, BN_EPS,
};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Pool, PoolKind};

/// timm's `RegNetCfg` (the fields that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct RegNetArgs {
    depth: usize,
    w0: usize,
    wa: f32,
    wm: f32,
    group_size: usize,
    bottle_ratio: f64,
    se: bool,
    /// `group_min_ratio` (the `_tv` ports round bottleneck widths with it).
    group_min_ratio: f64,
    downsample: Downsample,
    linear_out: bool,
    preact: bool,
    num_features: usize,
    act: Activation,
    in_chans: usize,
    stem_width: usize,
}

/// The shortcut where a block changes the shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Downsample {
    /// A strided 1×1 convolution (and its norm).
    Conv1x1,
    /// A 2×2 average pool (ceil mode), then a 1×1 convolution.
    Avg,
    /// None: such a block has no residual connection.
    None,
}

impl RegNetArgs {
    /// timm's `model_cfgs[name]`, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let base = |w0, wa, wm, group_size, depth| Self {
            depth,
            w0,
            wa,
            wm,
            group_size,
            bottle_ratio: 1.0,
            se: false,
            group_min_ratio: 0.0,
            downsample: Downsample::Conv1x1,
            linear_out: false,
            preact: false,
            num_features: 0,
            act: Activation::Relu,
            in_chans: 3,
            stem_width: 32,
        };
        let y = |args: Self| Self { se: true, ..args };
        let tv = |args: Self| Self {
            group_min_ratio: 0.9,
            ..args
        };
        let v = |args: Self| Self {
            preact: true,
            act: Activation::Silu,
            ..y(args)
        };
        let z = |num_features| Self {
            bottle_ratio: 4.0,
            downsample: Downsample::None,
            linear_out: true,
            num_features,
            act: Activation::Silu,
            ..y(base(48, 14.5, 2.226, 8, 28))
        };
        Some(match name {
            "regnetx_002" => base(24, 36.44, 2.49, 8, 13),
            "regnetx_004" => base(24, 24.48, 2.54, 16, 22),
            "regnetx_004_tv" => tv(base(24, 24.48, 2.54, 16, 22)),
            "regnetx_006" => base(48, 36.97, 2.24, 24, 16),
            "regnetx_008" => base(56, 35.73, 2.28, 16, 16),
            "regnetx_016" => base(80, 34.01, 2.25, 24, 18),
            "regnetx_032" => base(88, 26.31, 2.25, 48, 25),
            "regnetx_040" => base(96, 38.65, 2.43, 40, 23),
            "regnetx_064" => base(184, 60.83, 2.07, 56, 17),
            "regnetx_080" => base(80, 49.56, 2.88, 120, 23),
            "regnetx_120" => base(168, 73.36, 2.37, 112, 19),
            "regnetx_160" => base(216, 55.59, 2.1, 128, 22),
            "regnetx_320" => base(320, 69.86, 2.0, 168, 23),
            "regnety_002" => y(base(24, 36.44, 2.49, 8, 13)),
            "regnety_004" => y(base(48, 27.89, 2.09, 8, 16)),
            "regnety_006" => y(base(48, 32.54, 2.32, 16, 15)),
            "regnety_008" => y(base(56, 38.84, 2.4, 16, 14)),
            "regnety_008_tv" => tv(y(base(56, 38.84, 2.4, 16, 14))),
            "regnety_016" => y(base(48, 20.71, 2.65, 24, 27)),
            "regnety_032" => y(base(80, 42.63, 2.66, 24, 21)),
            "regnety_040" => y(base(96, 31.41, 2.24, 64, 22)),
            "regnety_064" => y(base(112, 33.22, 2.27, 72, 25)),
            "regnety_080" => y(base(192, 76.82, 2.19, 56, 17)),
            "regnety_080_tv" => tv(y(base(192, 76.82, 2.19, 56, 17))),
            "regnety_120" => y(base(168, 73.36, 2.37, 112, 19)),
            "regnety_160" => y(base(200, 106.23, 2.48, 112, 18)),
            "regnety_320" => y(base(232, 115.89, 2.53, 232, 20)),
            "regnety_640" => y(base(352, 147.48, 2.4, 328, 20)),
            "regnety_1280" => y(base(456, 160.83, 2.52, 264, 27)),
            "regnety_2560" => y(base(640, 230.83, 2.53, 373, 27)),
            "regnetv_040" => v(base(96, 31.41, 2.24, 64, 22)),
            "regnetv_064" => Self {
                downsample: Downsample::Avg,
                ..v(base(112, 33.22, 2.27, 72, 25))
            },
            "regnetz_005" => Self {
                num_features: 1024,
                ..z(0)
            }
            .with_widths(16, 10.7, 2.51, 4, 21),
            "regnetz_040" => z(0),
            "regnetz_040_h" => z(1536),
            _ => return None,
        })
    }

    fn with_widths(self, w0: usize, wa: f32, wm: f32, group_size: usize, depth: usize) -> Self {
        Self {
            w0,
            wa,
            wm,
            group_size,
            depth,
            ..self
        }
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "RegNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                // The `RegNetCfg` fields timm overlays from kwargs: a narrower or shallower RegNet.
                "depth" => self.depth = arg.positive_int()?,
                "w0" => {
                    self.w0 = arg.positive_int()?;
                    if !self.w0.is_multiple_of(8) {
                        return Err(arg.bad("timm requires a multiple of 8"));
                    }
                }
                "wa" => self.wa = arg.positive_number()? as f32,
                "wm" => {
                    self.wm = arg.positive_number()? as f32;
                    if self.wm <= 1.0 {
                        return Err(arg.bad("timm requires more than 1"));
                    }
                }
                "group_size" => self.group_size = arg.positive_int()?,
                "bottle_ratio" => self.bottle_ratio = arg.positive_number()?,
                "group_min_ratio" => {
                    self.group_min_ratio = arg
                        .value
                        .as_f64()
                        .ok_or_else(|| arg.bad("expected a number"))?
                }
                "stem_width" => self.stem_width = arg.positive_int()?,
                // The SE's width is read from its weights; only whether there is one matters here.
                "se_ratio" => {
                    self.se = arg
                        .value
                        .as_f64()
                        .ok_or_else(|| arg.bad("expected a number"))?
                        > 0.0
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// Per stage: `(out_chs, depth, group_size)`, as `RegNet._get_stage_args` computes them.
    fn stages(&self) -> Vec<(usize, usize, usize)> {
        // `generate_regnet` (float32, like the torch tensors it uses; quant 8).
        let (w0, wa, wm) = (self.w0 as f32, self.wa, self.wm);
        let log_wm = (f64::from(wm)).ln() as f32;
        let mut widths: Vec<usize> = (0..self.depth)
            .map(|i| {
                let continuous = i as f32 * wa + w0;
                let exponent = ((continuous / w0).ln() / log_wm).round_ties_even();
                ((w0 * wm.powf(exponent)) / 8.0).round_ties_even() as usize * 8
            })
            .collect();
        widths.sort_unstable();
        let mut stages: Vec<(usize, usize)> = Vec::new();
        for width in widths {
            match stages.last_mut() {
                Some((w, count)) if *w == width => *count += 1,
                _ => stages.push((width, 1)),
            }
        }
        // `adjust_widths_groups_comp`.
        let ratio = self.bottle_ratio;
        stages
            .into_iter()
            .map(|(width, depth)| {
                let bottleneck = (width as f64 * ratio) as usize;
                let group = self.group_size.min(bottleneck);
                let bottleneck = if self.group_min_ratio > 0.0 {
                    make_divisible(bottleneck as f64, group, self.group_min_ratio)
                } else {
                    ((bottleneck as f64 / group as f64).round_ties_even() * group as f64) as usize
                };
                ((bottleneck as f64 / ratio) as usize, depth, group)
            })
            .collect()
    }
}

pub fn build(
    args: &RegNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let act = args.act;
    let stem_shape = ConvShape::new(args.in_chans, args.stem_width, 3, 2);
    let stem = match args.preact {
        true => vec![Layer::Conv {
            conv: read_conv(weights, "stem", stem_shape)?,
            act: Activation::None,
        }],
        false => vec![conv_bn(weights, "stem.conv", "stem.bn", stem_shape, act)?],
    };
    let stages = args.stages();
    if stages.len() != 4 {
        return Err(ModelError::Config(format!(
            "this RegNet configuration gives {} stages; timm builds 4",
            stages.len()
        )));
    }
    let mut blocks = Vec::new();
    let mut in_channels = args.stem_width;
    for (stage, &(out_channels, depth, group_size)) in stages.iter().enumerate() {
        for index in 0..depth {
            let name = format!("s{}.b{}", stage + 1, index + 1);
            let stride = if index == 0 { 2 } else { 1 };
            let site = Site {
                name: &name,
                in_channels,
                out_channels,
                stride,
                group_size,
            };
            blocks.push(block(args, &site, weights)?);
            in_channels = out_channels;
        }
    }
    let neck = if args.num_features > 0 {
        let shape = ConvShape::new(in_channels, args.num_features, 1, 1);
        in_channels = args.num_features;
        vec![conv_bn(
            weights,
            "final_conv.conv",
            "final_conv.bn",
            shape,
            act,
        )?]
    } else {
        Vec::new()
    };
    // Without a head convolution, `linear_out` and pre-activation nets end in the activation
    // alone (`final_conv`): it goes on the last block's output.
    if args.num_features == 0 && (args.linear_out || args.preact) {
        if let Some(last) = blocks.last_mut() {
            match &mut last.residual {
                Some(residual) => residual.act = act,
                None => set_last_act(&mut last.tail, act),
            }
        }
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head: vec![classifier(weights, "head.fc", in_channels, num_classes)?],
    })
}

/// Where a block sits.
struct Site<'a> {
    name: &'a str,
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    group_size: usize,
}

/// timm's `Bottleneck` (or `PreBottleneck` for RegNetV).
fn block(args: &RegNetArgs, site: &Site, weights: &Weights) -> Result<Block, ModelError> {
    let Site {
        name,
        in_channels,
        out_channels,
        stride,
        group_size,
    } = *site;
    let act = args.act;
    let mid = (out_channels as f64 * args.bottle_ratio).round_ties_even() as usize;
    let groups = mid / group_size;
    let shapes = [
        ConvShape::new(in_channels, mid, 1, 1),
        ConvShape::new(mid, mid, 3, stride).groups(groups),
        ConvShape::new(mid, out_channels, 1, 1),
    ];
    let se = args
        .se
        .then(|| {
            let style = SeStyle {
                reduce: "fc1",
                expand: "fc2",
                act,
                gate: Activation::Sigmoid,
            };
            squeeze_excite(weights, &format!("{name}.se"), mid, style)
        })
        .transpose()?;
    let changes_shape = stride != 1 || in_channels != out_channels;
    let down = ConvShape::new(in_channels, out_channels, 1, stride);
    let avg_pool = || {
        Layer::Pool(Pool {
            kind: PoolKind::Avg,
            kernel: 2,
            stride,
            padding: 0,
            ceil_mode: true,
        })
    };
    let (downsample, prefix) = match args.downsample {
        Downsample::Conv1x1 => (down, format!("{name}.downsample")),
        Downsample::Avg => (
            ConvShape::new(in_channels, out_channels, 1, 1),
            format!("{name}.downsample.1"),
        ),
        Downsample::None => (down, String::new()),
    };
    let pool_first = args.downsample == Downsample::Avg && stride > 1;
    let bn =
        |module: &str, channels| batch_norm(weights, &format!("{name}.{module}"), channels, BN_EPS);
    let (pre, body, tail, projection) = if args.preact {
        let conv = |i: usize, shape| -> Result<Layer, ModelError> {
            Ok(Layer::Conv {
                conv: read_conv(weights, &format!("{name}.conv{i}"), shape)?,
                act: Activation::None,
            })
        };
        let [s1, s2, s3] = shapes;
        let pre = vec![Layer::Norm {
            bn: bn("norm1", in_channels)?,
            act,
        }];
        let body = vec![
            conv(1, s1)?,
            Layer::Norm {
                bn: bn("norm2", mid)?,
                act,
            },
            conv(2, s2)?,
        ];
        let tail = vec![
            Layer::Norm {
                bn: bn("norm3", mid)?,
                act,
            },
            conv(3, s3)?,
        ];
        let mut projection = Vec::new();
        if changes_shape && args.downsample != Downsample::None {
            if pool_first {
                projection.push(avg_pool());
            }
            projection.push(Layer::Conv {
                conv: read_conv(weights, &prefix, downsample)?,
                act: Activation::None,
            });
        }
        (pre, body, tail, projection)
    } else {
        let conv = |i: usize, shape, act| {
            conv_bn(
                weights,
                &format!("{name}.conv{i}.conv"),
                &format!("{name}.conv{i}.bn"),
                shape,
                act,
            )
        };
        let [s1, s2, s3] = shapes;
        let body = vec![conv(1, s1, act)?, conv(2, s2, act)?];
        let tail = vec![conv(3, s3, Activation::None)?];
        let mut projection = Vec::new();
        if changes_shape && args.downsample != Downsample::None {
            if pool_first {
                projection.push(avg_pool());
            }
            projection.push(conv_norm_act(
                weights,
                &prefix,
                downsample,
                Activation::None,
            )?);
        }
        (Vec::new(), body, tail, projection)
    };
    // `act3` follows the add (none for `linear_out`; PreBottleneck has none).
    let act3 = match args.linear_out || args.preact {
        true => Activation::None,
        false => act,
    };
    let mut tail = tail;
    let residual = if changes_shape && args.downsample == Downsample::None {
        set_last_act(&mut tail, act3);
        None
    } else {
        Some(Residual {
            projection,
            act: act3,
        })
    };
    Ok(Block {
        name: name.to_owned(),
        pre,
        body,
        se,
        tail,
        residual,
    })
}

/// Puts `act` on the last layer of `layers` (a convolution without one).
fn set_last_act(layers: &mut [Layer], act: Activation) {
    if act == Activation::None {
        return;
    }
    match layers.last_mut() {
        Some(Layer::Conv { act: slot, .. } | Layer::Norm { act: slot, .. }) => *slot = act,
        _ => unreachable!("a RegNet block ends in a convolution"),
    }
}

#[cfg(test)]
mod tests {
    use super::RegNetArgs;

    /// `RegNet._get_stage_args` of timm 1.0.31, per model: `(out_chs, depth, group_size)`.
    /// `(out_chs, depth, group_size)` of each of a model's four stages.
    type Stages = [(usize, usize, usize); 4];

    #[test]
    fn stage_widths_match_timm() {
        let expected: &[(&str, Stages)] = &[
            (
                "regnetx_002",
                [(24, 1, 8), (56, 1, 8), (152, 4, 8), (368, 7, 8)],
            ),
            (
                "regnetx_004",
                [(32, 1, 16), (64, 2, 16), (160, 7, 16), (384, 12, 16)],
            ),
            (
                "regnetx_004_tv",
                [(32, 1, 16), (64, 2, 16), (160, 7, 16), (400, 12, 16)],
            ),
            (
                "regnetx_006",
                [(48, 1, 24), (96, 3, 24), (240, 5, 24), (528, 7, 24)],
            ),
            (
                "regnetx_008",
                [(64, 1, 16), (128, 3, 16), (288, 7, 16), (672, 5, 16)],
            ),
            (
                "regnetx_016",
                [(72, 2, 24), (168, 4, 24), (408, 10, 24), (912, 2, 24)],
            ),
            (
                "regnetx_032",
                [(96, 2, 48), (192, 6, 48), (432, 15, 48), (1008, 2, 48)],
            ),
            (
                "regnetx_040",
                [(80, 2, 40), (240, 5, 40), (560, 14, 40), (1360, 2, 40)],
            ),
            (
                "regnetx_064",
                [(168, 2, 56), (392, 4, 56), (784, 10, 56), (1624, 1, 56)],
            ),
            (
                "regnetx_080",
                [(80, 2, 80), (240, 5, 120), (720, 15, 120), (1920, 1, 120)],
            ),
            (
                "regnetx_120",
                [(224, 2, 112), (448, 5, 112), (896, 11, 112), (2240, 1, 112)],
            ),
            (
                "regnetx_160",
                [(256, 2, 128), (512, 6, 128), (896, 13, 128), (2048, 1, 128)],
            ),
            (
                "regnetx_320",
                [
                    (336, 2, 168),
                    (672, 7, 168),
                    (1344, 13, 168),
                    (2520, 1, 168),
                ],
            ),
            (
                "regnety_002",
                [(24, 1, 8), (56, 1, 8), (152, 4, 8), (368, 7, 8)],
            ),
            (
                "regnety_004",
                [(48, 1, 8), (104, 3, 8), (208, 6, 8), (440, 6, 8)],
            ),
            (
                "regnety_006",
                [(48, 1, 16), (112, 3, 16), (256, 7, 16), (608, 4, 16)],
            ),
            (
                "regnety_008",
                [(64, 1, 16), (128, 3, 16), (320, 8, 16), (768, 2, 16)],
            ),
            (
                "regnety_008_tv",
                [(64, 1, 16), (144, 3, 16), (320, 8, 16), (784, 2, 16)],
            ),
            (
                "regnety_016",
                [(48, 2, 24), (120, 6, 24), (336, 17, 24), (888, 2, 24)],
            ),
            (
                "regnety_032",
                [(72, 2, 24), (216, 5, 24), (576, 13, 24), (1512, 1, 24)],
            ),
            (
                "regnety_040",
                [(128, 2, 64), (192, 6, 64), (512, 12, 64), (1088, 2, 64)],
            ),
            (
                "regnety_064",
                [(144, 2, 72), (288, 7, 72), (576, 14, 72), (1296, 2, 72)],
            ),
            (
                "regnety_080",
                [(168, 2, 56), (448, 4, 56), (896, 10, 56), (2016, 1, 56)],
            ),
            (
                "regnety_080_tv",
                [(224, 2, 56), (448, 4, 56), (896, 10, 56), (2016, 1, 56)],
            ),
            (
                "regnety_120",
                [(224, 2, 112), (448, 5, 112), (896, 11, 112), (2240, 1, 112)],
            ),
            (
                "regnety_160",
                [
                    (224, 2, 112),
                    (448, 4, 112),
                    (1232, 11, 112),
                    (3024, 1, 112),
                ],
            ),
            (
                "regnety_320",
                [
                    (232, 2, 232),
                    (696, 5, 232),
                    (1392, 12, 232),
                    (3712, 1, 232),
                ],
            ),
            (
                "regnety_640",
                [
                    (328, 2, 328),
                    (984, 5, 328),
                    (1968, 12, 328),
                    (4920, 1, 328),
                ],
            ),
            (
                "regnety_1280",
                [
                    (528, 2, 264),
                    (1056, 7, 264),
                    (2904, 17, 264),
                    (7392, 1, 264),
                ],
            ),
            (
                "regnety_2560",
                [
                    (746, 2, 373),
                    (1492, 7, 373),
                    (4103, 17, 373),
                    (10444, 1, 373),
                ],
            ),
            (
                "regnetv_040",
                [(128, 2, 64), (192, 6, 64), (512, 12, 64), (1088, 2, 64)],
            ),
            (
                "regnetv_064",
                [(144, 2, 72), (288, 7, 72), (576, 14, 72), (1296, 2, 72)],
            ),
            (
                "regnetz_005",
                [(16, 1, 4), (40, 4, 4), (104, 9, 4), (256, 7, 4)],
            ),
            (
                "regnetz_040",
                [(48, 2, 8), (104, 6, 8), (240, 14, 8), (528, 6, 8)],
            ),
            (
                "regnetz_040_h",
                [(48, 2, 8), (104, 6, 8), (240, 14, 8), (528, 6, 8)],
            ),
        ];
        for (name, stages) in expected {
            let args = RegNetArgs::from_name(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(args.stages(), stages, "{name}");
        }
        assert_eq!(RegNetArgs::from_name("regnety_040_sgn"), None, "GroupNorm");
    }
}
