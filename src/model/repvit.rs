//! timm's `repvit.py`: RepViT (`repvit_m0_9…m2_3`, and the `legacy` M1/M2/M3), a MobileNetV3-like
//! CNN with a ViT's layout. Each block is a token mixer (a depthwise k×k, a depthwise 1×1 and the
//! identity, summed, then a BatchNorm: one convolution here), an SE in every other block, and a
//! channel mixer (1×1 → GELU → 1×1) with a residual around it. The classifier is a BatchNorm
//! then a linear layer, averaged with a distillation twin: one linear layer here.

use serde_json::{Map, Value};

use super::args;
use super::layers::{
    batch_norm, conv_bn, fold_bn_into, folded_conv, identity_conv, read_conv, squeeze_excite,
    sum_convs, ConvShape, BN_EPS, SE_PAPER,
};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Linear};

const ACT: Activation = Activation::Gelu;

/// `RepVit`'s constructor arguments (those that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct RepVitArgs {
    embed_dim: Vec<usize>,
    depth: Vec<usize>,
    mlp_ratio: usize,
    kernel_size: usize,
    distillation: bool,
    legacy: bool,
    in_chans: usize,
}

impl RepVitArgs {
    /// timm's `repvit_*` registrations, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let (embed_dim, depth, legacy) = match name {
            "repvit_m1" => ([48, 96, 192, 384], [2, 2, 14, 2], true),
            "repvit_m2" => ([64, 128, 256, 512], [2, 2, 12, 2], true),
            "repvit_m3" => ([64, 128, 256, 512], [4, 4, 18, 2], true),
            "repvit_m0_9" => ([48, 96, 192, 384], [2, 2, 14, 2], false),
            "repvit_m1_0" => ([56, 112, 224, 448], [2, 2, 14, 2], false),
            "repvit_m1_1" => ([64, 128, 256, 512], [2, 2, 12, 2], false),
            "repvit_m1_5" => ([64, 128, 256, 512], [4, 4, 24, 4], false),
            "repvit_m2_3" => ([80, 160, 320, 640], [6, 6, 34, 2], false),
            _ => return None,
        };
        Some(Self {
            embed_dim: embed_dim.to_vec(),
            depth: depth.to_vec(),
            mlp_ratio: 2,
            kernel_size: 3,
            distillation: true,
            legacy,
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "RepViT", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "embed_dim" => self.embed_dim = arg.positive_ints()?,
                "depth" => self.depth = arg.positive_ints()?,
                "mlp_ratio" => self.mlp_ratio = arg.positive_int()?,
                "kernel_size" if arg.value.as_u64().is_some_and(|k| k % 2 == 1) => {
                    self.kernel_size = arg.positive_int()?
                }
                "distillation" => self.distillation = arg.flag()?,
                "legacy" => self.legacy = arg.flag()?,
                // The stem's size only, for the feature info.
                "img_size" => {}
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if self.embed_dim.len() != self.depth.len() {
            return Err(ModelError::ModelArg {
                name: "depth".into(),
                reason: "embed_dim and depth must have the same length".into(),
            });
        }
        Ok(())
    }
}

pub fn build(
    args: &RepVitArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let first = args.embed_dim[0];
    let stem = vec![
        conv_norm(
            weights,
            "stem.conv1",
            ConvShape::new(args.in_chans, first / 2, 3, 2),
            ACT,
        )?,
        conv_norm(
            weights,
            "stem.conv2",
            ConvShape::new(first / 2, first, 3, 2),
            Activation::None,
        )?,
    ];
    let mut blocks = Vec::new();
    let mut in_dim = first;
    for (s, (&dim, &depth)) in args.embed_dim.iter().zip(&args.depth).enumerate() {
        let name = format!("stages.{s}");
        if s > 0 {
            blocks.push(downsample(
                args,
                weights,
                &format!("{name}.downsample"),
                in_dim,
                dim,
            )?);
        }
        for i in 0..depth {
            // SE in the first block of each stage and every other one after it.
            let se = i % 2 == 0;
            blocks.push(block(
                args,
                weights,
                &format!("{name}.blocks.{i}"),
                dim,
                se,
            )?);
        }
        in_dim = dim;
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![head(args, weights, in_dim, num_classes)?],
    })
}

/// timm's `ConvNorm` at `module` (`{module}.c`, then the BatchNorm `{module}.bn`).
fn conv_norm(
    weights: &Weights,
    module: &str,
    shape: ConvShape,
    act: Activation,
) -> Result<Layer, ModelError> {
    conv_bn(
        weights,
        &format!("{module}.c"),
        &format!("{module}.bn"),
        shape,
        act,
    )
}

/// `RepViTBlock`: `x = se(token_mixer(x)); x + channel_mixer(x)`.
fn block(
    args: &RepVitArgs,
    weights: &Weights,
    name: &str,
    dim: usize,
    se: bool,
) -> Result<Block, ModelError> {
    let se = se
        .then(|| squeeze_excite(weights, &format!("{name}.se"), dim, SE_PAPER))
        .transpose()?;
    let mixer = mlp(args, weights, &format!("{name}.channel_mixer"), dim)?;
    Ok(Block {
        name: name.into(),
        pre: Vec::new(),
        body: vec![token_mixer(
            args,
            weights,
            &format!("{name}.token_mixer"),
            dim,
        )?],
        se,
        tail: vec![Layer::Block(Box::new(mixer))],
        residual: None,
    })
}

/// `RepVggDw`: `bn(conv(x) + conv1(x) + x)` (legacy: `conv(x) + conv1(x) + x`, `conv1` with a
/// BatchNorm of its own), every branch depthwise, as one convolution.
fn token_mixer(
    args: &RepVitArgs,
    weights: &Weights,
    name: &str,
    dim: usize,
) -> Result<Layer, ModelError> {
    let shape = |kernel| ConvShape::new(dim, dim, kernel, 1).groups(dim);
    let with_bn = |module: &str, kernel| {
        let path = format!("{name}.{module}");
        folded_conv(
            weights,
            &format!("{path}.c"),
            &format!("{path}.bn"),
            shape(kernel),
        )
    };
    let conv1 = match args.legacy {
        true => with_bn("conv1", 1)?,
        false => {
            let mut conv = read_conv(weights, &format!("{name}.conv1"), shape(1))?;
            conv.bias = weights.take(&format!("{name}.conv1.bias"), &[dim])?;
            conv
        }
    };
    let sum = sum_convs(vec![
        with_bn("conv", args.kernel_size)?,
        conv1,
        identity_conv(dim, dim),
    ]);
    let conv = match args.legacy {
        true => sum,
        false => fold_bn_into(weights, sum, &format!("{name}.bn"), BN_EPS)?,
    };
    Ok(Layer::Conv {
        conv,
        act: Activation::None,
    })
}

/// `RepVitMlp` with its residual: `x + conv2(gelu(conv1(x)))`.
fn mlp(args: &RepVitArgs, weights: &Weights, name: &str, dim: usize) -> Result<Block, ModelError> {
    let hidden = dim * args.mlp_ratio;
    Ok(Block {
        name: name.into(),
        pre: Vec::new(),
        body: vec![
            conv_norm(
                weights,
                &format!("{name}.conv1"),
                ConvShape::new(dim, hidden, 1, 1),
                ACT,
            )?,
            conv_norm(
                weights,
                &format!("{name}.conv2"),
                ConvShape::new(hidden, dim, 1, 1),
                Activation::None,
            )?,
        ],
        se: None,
        tail: Vec::new(),
        residual: Some(Residual {
            projection: Vec::new(),
            act: Activation::None,
        }),
    })
}

/// `RepVitDownsample`: a block without SE, a strided depthwise k×k and a 1×1 to the new width,
/// then the feed-forward with its residual.
fn downsample(
    args: &RepVitArgs,
    weights: &Weights,
    name: &str,
    in_dim: usize,
    out_dim: usize,
) -> Result<Block, ModelError> {
    let k = args.kernel_size;
    let spatial = ConvShape::new(in_dim, in_dim, k, 2).groups(in_dim);
    let channel = ConvShape::new(in_dim, out_dim, 1, 1);
    let pre_block = block(args, weights, &format!("{name}.pre_block"), in_dim, false)?;
    let none = Activation::None;
    Ok(Block {
        name: name.into(),
        pre: vec![
            Layer::Block(Box::new(pre_block)),
            conv_norm(
                weights,
                &format!("{name}.spatial_downsample"),
                spatial,
                none,
            )?,
            conv_norm(
                weights,
                &format!("{name}.channel_downsample"),
                channel,
                none,
            )?,
        ],
        ..mlp(args, weights, &format!("{name}.ffn"), out_dim)?
    })
}

/// `RepVitClassifier`: `NormLinear` (a BatchNorm, then the linear layer) at `head.head`, and with
/// distillation the mean of it and `head.head_dist`; folded into one linear layer in f64 (the
/// BatchNorm's scale into the columns, its shift through the weights into the bias).
fn head(
    args: &RepVitArgs,
    weights: &Weights,
    features: usize,
    classes: usize,
) -> Result<Linear, ModelError> {
    let mut heads = vec!["head.head"];
    if args.distillation {
        heads.push("head.head_dist");
    }
    let share = 1.0 / heads.len() as f64;
    let mut weight = vec![0.0f64; classes * features];
    let mut bias = vec![0.0f64; classes];
    for head in heads {
        let bn = batch_norm(weights, &format!("{head}.bn"), features, BN_EPS)?;
        let (scale, shift): (Vec<f64>, Vec<f64>) = bn.scale_shift().unzip();
        let w = weights.take(&format!("{head}.l.weight"), &[classes, features])?;
        let b = weights.take(&format!("{head}.l.bias"), &[classes])?;
        for (class, row) in w.chunks_exact(features).enumerate() {
            let mut total = f64::from(b[class]);
            for (i, &value) in row.iter().enumerate() {
                weight[class * features + i] += share * f64::from(value) * scale[i];
                total += f64::from(value) * shift[i];
            }
            bias[class] += share * total;
        }
    }
    Ok(Linear {
        in_features: features,
        out_features: classes,
        weight: weight.into_iter().map(|w| w as f32).collect(),
        bias: bias.into_iter().map(|b| b as f32).collect(),
        act: Activation::None,
    })
}
