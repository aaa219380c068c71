//! timm's `nfnet.py`: normalization-free networks with SE. NFNet-F0…F7 and the DeepMind ports
//! `dm_nfnet_f0…f6`, NFNet-L0, NF-RegNet B0…B5 and NF-SE-ResNet 26/50/101 (and the plain
//! NF-ResNets). No BatchNorm: every convolution is a `ScaledStdConv2d` whose weight is
//! standardised per output channel on each call; here it is standardised once at load. The
//! block's scalars (β on its input, the activations' γ, α and the SE's gain on its output) go
//! into the adjacent convolutions' weights where they are linear, and into a scaling step where
//! they are not.

use serde_json::{Map, Value};

use super::args;
use super::layers::{classifier, make_divisible, read_conv, squeeze_excite, ConvShape, SE_PAPER};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::graph::BatchNorm;
use crate::engine::{Activation, Conv2d, Pool, PoolKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StemType {
    /// Four 3×3 convolutions, `(c/8, c/4, c/2, c)` channels, strides 2, 1, 1, 2.
    DeepQuad,
    /// One strided 3×3 convolution.
    Conv3x3,
    /// A strided 7×7 convolution and a 3×3 max pool.
    Conv7x7Pool,
}

/// timm's `NfCfg` (the fields that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct NfArgs {
    depths: [usize; 4],
    channels: [usize; 4],
    alpha: f64,
    stem: StemType,
    /// `None`: the first stage's channels.
    stem_chs: Option<usize>,
    /// Channels per group of the 3×3 convolutions; 0: one group.
    group_size: usize,
    se: bool,
    attn_gain: f64,
    width_factor: f64,
    bottle_ratio: f64,
    num_features: usize,
    ch_div: usize,
    /// RegNet-style blocks: the bottleneck from the input width (1 in the first block), the SE
    /// between the 3×3 and the last 1×1 convolution (else after the last).
    reg: bool,
    extra_conv: bool,
    /// γ multiplies the activations' output (`GammaAct`), else the convolutions' weights.
    gamma_in_act: bool,
    same_padding: bool,
    std_conv_eps: f64,
    /// A learned scalar on each block's branch (`skipinit_gain`).
    skipinit: bool,
    act: Activation,
    in_chans: usize,
}

impl NfArgs {
    /// timm's `model_cfgs[name]`, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let base = Self {
            depths: [1, 2, 6, 3],
            channels: [256, 512, 1536, 1536],
            alpha: 0.2,
            stem: StemType::DeepQuad,
            stem_chs: Some(128),
            group_size: 128,
            se: true,
            attn_gain: 2.0,
            width_factor: 1.0,
            bottle_ratio: 0.5,
            num_features: 3072,
            ch_div: 8,
            reg: false,
            extra_conv: true,
            gamma_in_act: false,
            same_padding: false,
            std_conv_eps: 1e-5,
            skipinit: false,
            act: Activation::Gelu,
            in_chans: 3,
        };
        let f_depths = |i: usize| [i, 2 * i, 6 * i, 3 * i];
        let nfres = |depths, se| Self {
            depths,
            channels: [256, 512, 1024, 2048],
            stem: StemType::Conv7x7Pool,
            stem_chs: Some(64),
            group_size: 0,
            se,
            bottle_ratio: 0.25,
            num_features: 0,
            extra_conv: false,
            act: Activation::Relu,
            ..base.clone()
        };
        let nfreg = |depths, channels, num_features| Self {
            depths,
            channels,
            stem: StemType::Conv3x3,
            stem_chs: None,
            group_size: 8,
            width_factor: 0.75,
            bottle_ratio: 2.25,
            num_features,
            reg: true,
            extra_conv: false,
            act: Activation::Silu,
            ..base.clone()
        };
        let f = |variant: &str| variant.parse::<usize>().ok().filter(|i| *i <= 7);
        if let Some(i) = name.strip_prefix("nfnet_f").and_then(f) {
            return Some(Self {
                depths: f_depths(i + 1),
                ..base
            });
        }
        if let Some(i) = name
            .strip_prefix("dm_nfnet_f")
            .and_then(f)
            .filter(|i| *i <= 6)
        {
            return Some(Self {
                depths: f_depths(i + 1),
                gamma_in_act: true,
                same_padding: true,
                skipinit: true,
                ..base
            });
        }
        Some(match name {
            "nfnet_l0" => Self {
                group_size: 64,
                bottle_ratio: 0.25,
                num_features: 2304,
                act: Activation::Silu,
                ..base
            },
            "nf_regnet_b0" => nfreg([1, 3, 6, 6], [48, 104, 208, 440], 1280),
            "nf_regnet_b1" => nfreg([2, 4, 7, 7], [48, 104, 208, 440], 1280),
            "nf_regnet_b2" => nfreg([2, 4, 8, 8], [56, 112, 232, 488], 1419),
            "nf_regnet_b3" => nfreg([2, 5, 9, 9], [56, 128, 248, 528], 1536),
            "nf_regnet_b4" => nfreg([2, 6, 11, 11], [64, 144, 288, 616], 1792),
            "nf_regnet_b5" => nfreg([3, 7, 14, 14], [80, 168, 336, 704], 2048),
            "nf_seresnet26" => nfres([2, 2, 2, 2], true),
            "nf_seresnet50" => nfres([3, 4, 6, 3], true),
            "nf_seresnet101" => nfres([3, 4, 23, 3], true),
            "nf_resnet26" => nfres([2, 2, 2, 2], false),
            "nf_resnet50" => nfres([3, 4, 6, 3], false),
            "nf_resnet101" => nfres([3, 4, 23, 3], false),
            _ => return None,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "NFNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                // `NfCfg` fields timm overlays from kwargs.
                "width_factor" => self.width_factor = arg.positive_number()?,
                "group_size" => self.group_size = arg.positive_int()?,
                "depths" => self.depths = arg.positive_ints_n()?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `_nonlin_gamma[act_layer]`: the activation's output scale that restores unit variance.
    fn gamma(&self) -> f64 {
        match self.act {
            Activation::Relu => 1.713_958_859_443_664_6,
            Activation::Silu => 1.788_129_329_681_396_5,
            _ => 1.701_504_349_708_557_1, // GELU
        }
    }

    /// The scale an activation's output carries into the next convolution.
    fn act_gain(&self) -> f64 {
        if self.gamma_in_act {
            self.gamma()
        } else {
            1.0
        }
    }

    fn divisible(&self, v: f64) -> usize {
        make_divisible(v, self.ch_div, 0.9)
    }
}

pub fn build(args: &NfArgs, num_classes: usize, weights: &Weights) -> Result<Network, ModelError> {
    let stem_chs =
        args.divisible(args.stem_chs.unwrap_or(args.channels[0]) as f64 * args.width_factor);
    let (stem, stem_stride) = stem(args, stem_chs, weights)?;
    let mut blocks = Vec::new();
    let mut in_channels = stem_chs;
    let mut expected_var = 1.0_f64;
    for (s, &depth) in args.depths.iter().enumerate() {
        let stride = if s == 0 && stem_stride > 2 { 1 } else { 2 };
        let out_channels = args.divisible(args.channels[s] as f64 * args.width_factor);
        for index in 0..depth {
            let site = Site {
                name: format!("stages.{s}.{index}"),
                in_channels,
                out_channels,
                stride: if index == 0 { stride } else { 1 },
                beta: 1.0 / expected_var.sqrt(),
                bottle_ratio: match args.reg && s == 0 && index == 0 {
                    true => 1.0,
                    false => args.bottle_ratio,
                },
            };
            blocks.push(block(args, &site, weights)?);
            if index == 0 {
                expected_var = 1.0;
            }
            expected_var += args.alpha * args.alpha;
            in_channels = out_channels;
        }
    }
    let mut neck = Vec::new();
    if args.num_features > 0 {
        let features = args.divisible(args.width_factor * args.num_features as f64);
        let shape = ConvShape::new(in_channels, features, 1, 1);
        neck.push(Layer::Conv {
            conv: std_conv(args, weights, "final_conv", shape, 1.0)?,
            act: Activation::None,
        });
        in_channels = features;
    }
    // `final_act`; its γ (with `gamma_in_act`) goes through the average pool into the classifier.
    neck.push(Layer::Act(args.act));
    let mut fc = classifier(weights, "head.fc", in_channels, num_classes)?;
    scale(&mut fc.weight, args.act_gain());
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck,
        head: vec![fc],
    })
}

/// `create_stem`: its layers and its stride.
fn stem(args: &NfArgs, chs: usize, weights: &Weights) -> Result<(Vec<Layer>, usize), ModelError> {
    let conv = |name: &str, shape, input_scale, act| -> Result<Layer, ModelError> {
        Ok(Layer::Conv {
            conv: std_conv(args, weights, name, shape, input_scale)?,
            act,
        })
    };
    Ok(match args.stem {
        StemType::DeepQuad => {
            let widths = [chs / 8, chs / 4, chs / 2, chs];
            let strides = [2, 1, 1, 2];
            let mut layers = Vec::new();
            let mut prev = args.in_chans;
            for (i, (&width, &stride)) in widths.iter().zip(&strides).enumerate() {
                let act = if i < 3 { args.act } else { Activation::None };
                let input_scale = if i == 0 { 1.0 } else { args.act_gain() };
                let shape = ConvShape::new(prev, width, 3, stride);
                layers.push(conv(
                    &format!("stem.conv{}", i + 1),
                    shape,
                    input_scale,
                    act,
                )?);
                prev = width;
            }
            (layers, 4)
        }
        StemType::Conv3x3 => {
            let shape = ConvShape::new(args.in_chans, chs, 3, 2);
            (vec![conv("stem.conv", shape, 1.0, Activation::None)?], 2)
        }
        StemType::Conv7x7Pool => {
            let shape = ConvShape::new(args.in_chans, chs, 7, 2);
            let pool = Layer::Pool(Pool {
                kind: PoolKind::Max,
                kernel: 3,
                stride: 2,
                padding: 1,
                ceil_mode: false,
            });
            (
                vec![conv("stem.conv", shape, 1.0, Activation::None)?, pool],
                4,
            )
        }
    })
}

/// Where a block sits.
struct Site {
    name: String,
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    /// `1/√(expected variance)` of the block's input.
    beta: f64,
    bottle_ratio: f64,
}

/// `NormFreeBlock`: `x + α·branch(β·act(x))`, the shortcut a 1×1 convolution (after a 2×2
/// average pool where strided) of `β·act(x)` where the shape changes.
fn block(args: &NfArgs, site: &Site, weights: &Weights) -> Result<Block, ModelError> {
    let Site {
        ref name,
        in_channels,
        out_channels,
        stride,
        beta,
        bottle_ratio,
    } = *site;
    let act = args.act;
    let width = if args.reg { in_channels } else { out_channels };
    let mut mid = args.divisible(width as f64 * bottle_ratio);
    let groups = match args.group_size {
        0 => 1,
        size => mid / size,
    };
    if args.group_size > 0 && args.group_size.is_multiple_of(args.ch_div) {
        mid = args.group_size * groups;
    }
    let conv = |module: &str, shape: ConvShape, input_scale, act| -> Result<Layer, ModelError> {
        Ok(Layer::Conv {
            conv: std_conv(
                args,
                weights,
                &format!("{name}.{module}"),
                shape,
                input_scale,
            )?,
            act,
        })
    };
    let gain = args.act_gain();
    let changes_shape = stride != 1 || in_channels != out_channels;
    let mut body = Vec::new();
    let (pre, residual) = match changes_shape {
        true => {
            let mut projection = Vec::new();
            if stride > 1 {
                projection.push(Layer::Pool(Pool {
                    kind: PoolKind::Avg,
                    kernel: 2,
                    stride,
                    padding: 0,
                    ceil_mode: true,
                }));
            }
            let shape = ConvShape::new(in_channels, out_channels, 1, 1);
            projection.push(conv(
                "downsample.conv",
                shape,
                gain * beta,
                Activation::None,
            )?);
            (vec![Layer::Act(act)], projection)
        }
        // The identity shortcut reads `x`, not the activation.
        false => {
            body.push(Layer::Act(act));
            (Vec::new(), Vec::new())
        }
    };
    body.push(conv(
        "conv1",
        ConvShape::new(in_channels, mid, 1, 1),
        gain * beta,
        act,
    )?);
    let conv2 = ConvShape::new(mid, mid, 3, stride).groups(groups);
    let conv2_act = if args.extra_conv {
        act
    } else {
        Activation::None
    };
    body.push(conv("conv2", conv2, gain, conv2_act)?);
    if args.extra_conv {
        let conv2b = ConvShape::new(mid, mid, 3, 1).groups(groups);
        body.push(conv("conv2b", conv2b, gain, Activation::None)?);
    }
    let skipinit = match args.skipinit {
        true => f64::from(weights.take(&format!("{name}.skipinit_gain"), &[])?[0]),
        false => 1.0,
    };
    // α and the skip-init gain scale the branch's output: into conv3 where it is last, into a
    // scaling step after the SE where the SE is (its gate is not linear in its input).
    let branch_scale = args.alpha * skipinit;
    let se_at = |module: &str, channels| {
        squeeze_excite(weights, &format!("{name}.{module}"), channels, SE_PAPER)
    };
    let conv3 = ConvShape::new(mid, out_channels, 1, 1);
    let (se, tail) = match (args.se, args.reg) {
        (false, _) => {
            body.push(Layer::Act(act));
            (
                None,
                vec![conv("conv3", conv3, gain * branch_scale, Activation::None)?],
            )
        }
        // `conv3(act3(attn_gain · se(y)))`.
        (true, true) => {
            let tail = vec![
                multiply(mid, args.attn_gain, act),
                conv("conv3", conv3, gain * branch_scale, Activation::None)?,
            ];
            (Some(se_at("attn", mid)?), tail)
        }
        // `attn_gain · se(conv3(act3(y)))`.
        (true, false) => {
            body.push(Layer::Act(act));
            body.push(conv("conv3", conv3, gain, Activation::None)?);
            let tail = vec![multiply(
                out_channels,
                args.attn_gain * branch_scale,
                Activation::None,
            )];
            (Some(se_at("attn_last", out_channels)?), tail)
        }
    };
    Ok(Block {
        name: name.clone(),
        pre,
        body,
        se,
        tail,
        residual: Some(Residual {
            projection: residual,
            act: Activation::None,
        }),
    })
}

/// `act(x · factor)` on `channels` channels, as a norm layer (`γ = factor`, `σ² = 1`, `ε = 0`).
fn multiply(channels: usize, factor: f64, act: Activation) -> Layer {
    Layer::Norm {
        bn: BatchNorm {
            gamma: vec![factor as f32; channels],
            beta: vec![0.0; channels],
            mean: vec![0.0; channels],
            var: vec![1.0; channels],
            eps: 0.0,
        },
        act,
    }
}

/// timm's `ScaledStdConv2d` `name`, its weight standardised as its `forward` does on each call,
/// per output channel `w' = gain·γ/√fan_in · (w − mean)/√(var + ε)` (biased variance; γ only
/// where the activations do not carry it), times `input_scale`, the scalar its input carries.
fn std_conv(
    args: &NfArgs,
    weights: &Weights,
    name: &str,
    shape: ConvShape,
    input_scale: f64,
) -> Result<Conv2d, ModelError> {
    let shape = if args.same_padding {
        shape.tf_same()
    } else {
        shape
    };
    let mut conv = read_conv(weights, name, shape)?;
    let out = conv.out_channels;
    conv.bias = weights.take(&format!("{name}.bias"), &[out])?;
    let gain = weights.take(&format!("{name}.gain"), &[out, 1, 1, 1])?;
    let fan_in = conv.weight.len() / out;
    let gamma = if args.gamma_in_act { 1.0 } else { args.gamma() };
    let scale = gamma / (fan_in as f64).sqrt();
    for (o, w) in conv.weight.chunks_exact_mut(fan_in).enumerate() {
        let n = fan_in as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        // `(gain · scale)` is one f32 tensor in timm.
        let factor =
            f64::from((f64::from(gain[o]) * scale) as f32) / (var + args.std_conv_eps).sqrt();
        for v in w.iter_mut() {
            *v = ((f64::from(*v) - mean) * factor * input_scale) as f32;
        }
    }
    Ok(conv)
}

fn scale(values: &mut [f32], factor: f64) {
    if factor != 1.0 {
        for v in values {
            *v = (f64::from(*v) * factor) as f32;
        }
    }
}
