//! Builders shared by the architectures: conv + BatchNorm folding, SE modules, the head.

use super::template::{Block, Layer, SqueezeExcite};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Conv2d, Linear, Padding};

/// PyTorch's `nn.BatchNorm2d` default.
pub const BN_EPS: f64 = 1e-5;

/// timm's `make_divisible(v, divisor, round_limit=limit)`: the nearest multiple of `divisor`, at
/// least `divisor`, and (for a limit above 0) never more than `1 − limit` below `v`.
pub fn make_divisible(v: f64, divisor: usize, limit: f64) -> usize {
    let rounded = ((v + divisor as f64 / 2.0) as usize / divisor * divisor).max(divisor);
    match (rounded as f64) < limit * v {
        true => rounded + divisor,
        false => rounded,
    }
}

/// The geometry of a convolution before its weights are read.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
}

impl ConvShape {
    /// A bias-free convolution with PyTorch-style padding `kernel / 2`.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize, stride: usize) -> Self {
        Self {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding: Padding::Symmetric(kernel / 2),
            groups: 1,
        }
    }

    pub fn groups(self, groups: usize) -> Self {
        Self { groups, ..self }
    }

    pub fn padding(self, padding: usize) -> Self {
        Self {
            padding: Padding::Symmetric(padding),
            ..self
        }
    }

    /// TensorFlow's "SAME" padding where it is not plain symmetric padding (timm's
    /// `pad_type='same'` picks `Conv2dSame` only then).
    pub fn tf_same(self) -> Self {
        let symmetric = self.stride == 1 && self.kernel % 2 == 1;
        Self {
            padding: if symmetric {
                self.padding
            } else {
                Padding::Same
            },
            ..self
        }
    }
}

/// [`conv_bn_eps`] with PyTorch's default ε.
pub fn conv_bn(
    weights: &Weights,
    conv: &str,
    bn: &str,
    shape: ConvShape,
    act: Activation,
) -> Result<Layer, ModelError> {
    conv_bn_eps(weights, conv, bn, shape, act, BN_EPS)
}

/// Reads the bias-free convolution `conv` and the BatchNorm `bn` after it, folded into one layer
/// ([`fold_bn`]).
pub fn conv_bn_eps(
    weights: &Weights,
    conv: &str,
    bn: &str,
    shape: ConvShape,
    act: Activation,
    eps: f64,
) -> Result<Layer, ModelError> {
    let conv = read_conv(weights, conv, shape)?;
    fold_bn(weights, conv, bn, act, eps)
}

/// The bias-free convolution `{name}.weight` of `shape` (its bias zeros until a BatchNorm is
/// folded in).
pub fn read_conv(weights: &Weights, name: &str, shape: ConvShape) -> Result<Conv2d, ModelError> {
    let ConvShape {
        in_channels,
        out_channels,
        kernel,
        groups,
        ..
    } = shape;
    if groups == 0 || in_channels % groups != 0 || out_channels % groups != 0 {
        return Err(ModelError::ModelArg {
            name: "cardinality".into(),
            reason: format!(
                "{groups} groups do not divide {in_channels} → {out_channels} channels ({name})"
            ),
        });
    }
    let weight = weights.take(
        &format!("{name}.weight"),
        &[out_channels, in_channels / groups, kernel, kernel],
    )?;
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

/// timm's `ConvNormAct` at `module` (`{module}.conv`, then the BatchNorm `{module}.bn`), as
/// one convolution and its activation.
pub fn conv_norm_act(
    weights: &Weights,
    module: &str,
    shape: ConvShape,
    act: Activation,
) -> Result<Layer, ModelError> {
    let conv = conv_norm(weights, module, shape)?;
    Ok(Layer::Conv { conv, act })
}

/// [`conv_norm_act`]'s convolution alone (a branch to sum with [`sum_convs`]).
pub fn conv_norm(weights: &Weights, module: &str, shape: ConvShape) -> Result<Conv2d, ModelError> {
    folded_conv(
        weights,
        &format!("{module}.conv"),
        &format!("{module}.bn"),
        shape,
    )
}

/// The bias-free convolution `conv` with the BatchNorm `bn` (PyTorch's ε) folded in, as one
/// convolution: a layer before its activation, or a branch to sum with [`sum_convs`].
pub fn folded_conv(
    weights: &Weights,
    conv: &str,
    bn: &str,
    shape: ConvShape,
) -> Result<Conv2d, ModelError> {
    let conv = read_conv(weights, conv, shape)?;
    fold_bn_into(weights, conv, bn, BN_EPS)
}

/// `conv` followed by the BatchNorm `bn` (ε `eps`), as one layer ([`fold_bn_into`]).
pub fn fold_bn(
    weights: &Weights,
    conv: Conv2d,
    bn: &str,
    act: Activation,
    eps: f64,
) -> Result<Layer, ModelError> {
    let conv = fold_bn_into(weights, conv, bn, eps)?;
    Ok(Layer::Conv { conv, act })
}

/// `conv` followed by the BatchNorm `bn` (ε `eps`), as one convolution:
/// `w' = w·γ/√(σ²+ε)`, `b' = β + (b − μ)·γ/√(σ²+ε)` (computed in f64).
pub fn fold_bn_into(
    weights: &Weights,
    mut conv: Conv2d,
    bn: &str,
    eps: f64,
) -> Result<Conv2d, ModelError> {
    let out_channels = conv.out_channels;
    let per_channel = |name: &str| weights.take(&format!("{bn}.{name}"), &[out_channels]);
    let (gamma, beta) = (per_channel("weight")?, per_channel("bias")?);
    let (mean, var) = (per_channel("running_mean")?, per_channel("running_var")?);
    let fan_in = conv.weight.len() / out_channels;
    for (channel, row) in conv.weight.chunks_exact_mut(fan_in).enumerate() {
        let scale = f64::from(gamma[channel]) / (f64::from(var[channel]) + eps).sqrt();
        row.iter_mut()
            .for_each(|w| *w = (f64::from(*w) * scale) as f32);
        let shift = f64::from(conv.bias[channel]) - f64::from(mean[channel]);
        conv.bias[channel] = (f64::from(beta[channel]) + shift * scale) as f32;
    }
    Ok(conv)
}

/// The sum of parallel convolutions of one input (a re-parameterisable block's branches: RepVGG,
/// MobileOne, PP-LCNetV2) as one convolution, the smaller kernels centred in the largest (each
/// branch pads by half its kernel, so the window positions line up) and the biases added. All
/// share channels, groups and stride.
pub fn sum_convs(branches: Vec<Conv2d>) -> Conv2d {
    let kernel = branches.iter().map(|c| c.kernel).max().expect("a branch");
    let first = &branches[0];
    let fan_in = first.in_channels / first.groups;
    let mut weight = vec![0.0f32; first.out_channels * fan_in * kernel * kernel];
    let mut bias = vec![0.0f32; first.out_channels];
    for branch in &branches {
        let (k, offset) = (branch.kernel, (kernel - branch.kernel) / 2);
        for (row, (&b, total)) in branch.bias.iter().zip(bias.iter_mut()).enumerate() {
            *total += b;
            for i in 0..fan_in {
                for y in 0..k {
                    for x in 0..k {
                        let to = ((row * fan_in + i) * kernel + y + offset) * kernel + x + offset;
                        weight[to] += branch.weight[((row * fan_in + i) * k + y) * k + x];
                    }
                }
            }
        }
    }
    Conv2d {
        in_channels: first.in_channels,
        out_channels: first.out_channels,
        kernel,
        stride: first.stride,
        dilation: first.dilation,
        padding: Padding::Symmetric(kernel / 2),
        groups: first.groups,
        weight,
        bias,
        winograd: Default::default(),
    }
}

/// The identity as a 1×1 convolution of `channels` in `groups` (a re-parameterisable block's
/// skip branch, to fold its BatchNorm into and sum with [`sum_convs`]).
pub fn identity_conv(channels: usize, groups: usize) -> Conv2d {
    let fan_in = channels / groups;
    let mut weight = vec![0.0; channels * fan_in];
    (0..channels).for_each(|c| weight[c * fan_in + c % fan_in] = 1.0);
    Conv2d {
        in_channels: channels,
        out_channels: channels,
        kernel: 1,
        stride: 1,
        dilation: 1,
        padding: Padding::Symmetric(0),
        groups,
        weight,
        bias: vec![0.0; channels],
        winograd: Default::default(),
    }
}

/// How a family names and computes its SE modules.
#[derive(Clone, Copy, Debug)]
pub struct SeStyle {
    /// The two 1×1 convolutions (with bias): `fc1`/`fc2` in ResNets, `conv_reduce`/`conv_expand`
    /// in timm's EfficientNet family.
    pub reduce: &'static str,
    pub expand: &'static str,
    pub act: Activation,
    pub gate: Activation,
}

/// The SE of the paper as timm's ResNets and legacy SENets name it.
pub const SE_PAPER: SeStyle = SeStyle {
    reduce: "fc1",
    expand: "fc2",
    act: Activation::Relu,
    gate: Activation::Sigmoid,
};

/// Reads an SE module; the reduced width comes from the weights.
pub fn squeeze_excite(
    weights: &Weights,
    name: &str,
    channels: usize,
    style: SeStyle,
) -> Result<SqueezeExcite, ModelError> {
    let (reduce, expand) = (style.reduce, style.expand);
    let fc1 = format!("{name}.{reduce}.weight");
    let reduced = weights.shape(&fc1).map_or(0, |shape| shape[0]);
    if reduced == 0 {
        return Err(ModelError::MissingTensor(fc1));
    }
    let fc = |module: &str, shape: [usize; 2], act| {
        linear(weights, &format!("{name}.{module}"), shape, act, true)
    };
    Ok(SqueezeExcite {
        name: name.into(),
        channels,
        fcs: vec![
            fc(reduce, [channels, reduced], style.act)?,
            fc(expand, [reduced, channels], style.gate)?,
        ],
    })
}

/// An "effective SE" (timm's `EffectiveSEModule`, VoVNet's eSE): one 1×1 convolution with bias,
/// `{name}.fc`, then a hard sigmoid.
pub fn effective_se(
    weights: &Weights,
    name: &str,
    channels: usize,
) -> Result<SqueezeExcite, ModelError> {
    let fc = linear(
        weights,
        &format!("{name}.fc"),
        [channels, channels],
        Activation::HardSigmoid,
        true,
    )?;
    Ok(SqueezeExcite {
        name: name.into(),
        channels,
        fcs: vec![fc],
    })
}

/// A linear layer, or (`as_conv`) a 1×1 convolution with bias applied to pooled features
/// (MobileNetV3's `conv_head`): the same numbers, stored `[out, in, 1, 1]`.
pub fn linear(
    weights: &Weights,
    name: &str,
    [in_features, out_features]: [usize; 2],
    act: Activation,
    as_conv: bool,
) -> Result<Linear, ModelError> {
    let shape = [out_features, in_features, 1, 1];
    let shape = if as_conv { &shape[..] } else { &shape[..2] };
    Ok(Linear {
        in_features,
        out_features,
        weight: weights.take(&format!("{name}.weight"), shape)?,
        bias: weights.take(&format!("{name}.bias"), &[out_features])?,
        act,
    })
}

/// The classifier: a plain linear layer giving the logits.
pub fn classifier(
    weights: &Weights,
    name: &str,
    features: usize,
    classes: usize,
) -> Result<Linear, ModelError> {
    linear(weights, name, [features, classes], Activation::None, false)
}

/// A ResNet block: `relu(se(body(x)) + shortcut(x))`, an empty shortcut being the identity.
pub fn resnet_block(
    site: &BlockSite,
    body: Vec<Layer>,
    se: Option<SqueezeExcite>,
    shortcut: Vec<Layer>,
) -> Block {
    Block {
        name: site.name.clone(),
        pre: Vec::new(),
        body,
        se,
        tail: Vec::new(),
        residual: Some(super::template::Residual {
            projection: shortcut,
            act: Activation::Relu,
        }),
    }
}

/// Where a residual block sits, as both ResNet families lay them out.
pub struct BlockSite {
    /// The PyTorch module path, e.g. `layer2.0`.
    pub name: String,
    pub stage: usize,
    pub planes: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    /// 2 for the first block of every stage after the first, else 1.
    pub stride: usize,
    /// The shape changes, so the shortcut needs a projection (`downsample`).
    pub projects: bool,
}

impl BlockSite {
    /// `{block}.conv{i}` folded with `{block}.bn{i}`.
    pub fn conv(
        &self,
        weights: &Weights,
        i: usize,
        shape: ConvShape,
        act: Activation,
    ) -> Result<Layer, ModelError> {
        conv_bn(
            weights,
            &format!("{}.conv{i}", self.name),
            &format!("{}.bn{i}", self.name),
            shape,
            act,
        )
    }
}

/// Builds `layer1…layerN`: `stages` gives each stage's `(planes, blocks)`, `build` one block.
/// Returns the blocks and the channel count of the last one.
pub fn residual_stages(
    stages: impl IntoIterator<Item = (usize, usize)>,
    expansion: usize,
    mut in_channels: usize,
    mut build: impl FnMut(&BlockSite) -> Result<Block, ModelError>,
) -> Result<(Vec<Block>, usize), ModelError> {
    let mut blocks = Vec::new();
    for (stage, (planes, count)) in stages.into_iter().enumerate() {
        let out_channels = planes * expansion;
        for index in 0..count {
            let stride = if stage > 0 && index == 0 { 2 } else { 1 };
            blocks.push(build(&BlockSite {
                name: format!("layer{}.{index}", stage + 1),
                stage,
                planes,
                in_channels,
                out_channels,
                stride,
                projects: stride != 1 || in_channels != out_channels,
            })?);
            in_channels = out_channels;
        }
    }
    Ok((blocks, in_channels))
}

/// The BatchNorm `{name}` over `channels`, for a norm no convolution precedes.
pub fn batch_norm(
    weights: &Weights,
    name: &str,
    channels: usize,
    eps: f64,
) -> Result<crate::engine::graph::BatchNorm, ModelError> {
    let per_channel = |field: &str| weights.take(&format!("{name}.{field}"), &[channels]);
    Ok(crate::engine::graph::BatchNorm {
        gamma: per_channel("weight")?,
        beta: per_channel("bias")?,
        mean: per_channel("running_mean")?,
        var: per_channel("running_var")?,
        eps,
    })
}

/// timm's `SEModule(norm_layer=nn.BatchNorm2d)` (ReXNet's `SEWithNorm`): `fc1` → `bn` → `act` →
/// `fc2` → `gate`, the BatchNorm folded into `fc1` (in f64).
pub fn squeeze_excite_with_norm(
    weights: &Weights,
    name: &str,
    channels: usize,
    style: SeStyle,
) -> Result<SqueezeExcite, ModelError> {
    let mut se = squeeze_excite(weights, name, channels, style)?;
    let fc1 = &mut se.fcs[0];
    let bn = batch_norm(weights, &format!("{name}.bn"), fc1.out_features, BN_EPS)?;
    for ((row, bias), (scale, shift)) in fc1
        .weight
        .chunks_exact_mut(fc1.in_features)
        .zip(&mut fc1.bias)
        .zip(bn.scale_shift())
    {
        row.iter_mut()
            .for_each(|w| *w = (f64::from(*w) * scale) as f32);
        *bias = (f64::from(*bias) * scale + shift) as f32;
    }
    Ok(se)
}
