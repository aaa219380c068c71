//! timm's `tresnet.py`: TResNet M/L/XL and v2-L. A space-to-depth stem (4×4 blocks of pixels
//! become channels) and a 3×3 convolution, then ResNet stages of basic blocks (M/L/XL's first
//! two) and bottlenecks with the paper's SE (none in the last stage), leaky ReLUs (slope 10⁻³)
//! inside the blocks, anti-aliased downsampling (a stride-1 convolution, then a 3×3 binomial blur
//! of stride 2 over reflection padding: timm's `BlurPool2d`) and average-pool shortcuts.

use serde_json::{Map, Value};

use super::args;
use super::layers::{classifier, conv_norm, conv_norm_act, squeeze_excite, ConvShape, SE_PAPER};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Conv2d, Padding, Pool, PoolKind, Slope};

/// The blocks' leaky ReLU, `LeakyReLU(negative_slope=1e-3)`.
const BLOCK_ACT: Activation = leaky(1e-3);
/// The stem's, `nn.LeakyReLU()`.
const STEM_ACT: Activation = leaky(0.01);

const fn leaky(slope: f32) -> Activation {
    match Slope::new(slope) {
        Some(slope) => Activation::LeakyRelu(slope),
        None => panic!("a normal slope"),
    }
}

/// `TResNet`'s constructor arguments (those that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct TResNetArgs {
    layers: [usize; 4],
    width_factor: f64,
    v2: bool,
    in_chans: usize,
}

impl TResNetArgs {
    /// timm's `tresnet_*` registrations, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let (layers, width_factor, v2) = match name {
            "tresnet_m" => ([3, 4, 11, 3], 1.0, false),
            "tresnet_l" => ([4, 5, 18, 3], 1.2, false),
            "tresnet_xl" => ([4, 5, 24, 3], 1.3, false),
            "tresnet_v2_l" => ([3, 4, 23, 3], 1.0, true),
            _ => return None,
        };
        Some(Self {
            layers,
            width_factor,
            v2,
            in_chans: 3,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "TResNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                "width_factor" => self.width_factor = arg.positive_number()?,
                "v2" => self.v2 = arg.flag()?,
                "layers" => self.layers = arg.positive_ints_n()?,
                // TResNet's default pool: a plain mean.
                "global_pool" if arg.value.as_str() == Some("fast") => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

pub fn build(
    args: &TResNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let mut planes = (64.0 * args.width_factor) as usize;
    if args.v2 {
        planes = planes / 8 * 8;
    }
    let stem = vec![space_to_depth_conv(weights, args.in_chans, planes)?];
    let mut blocks = Vec::new();
    let mut in_channels = planes;
    for (stage, &depth) in args.layers.iter().enumerate() {
        let bottleneck = args.v2 || stage >= 2;
        let stage_planes = planes << stage;
        let out_channels = stage_planes * if bottleneck { 4 } else { 1 };
        let stride = if stage == 0 { 1 } else { 2 };
        for index in 0..depth {
            let site = Site {
                name: format!("body.layer{}.{index}", stage + 1),
                in_channels,
                planes: stage_planes,
                out_channels,
                stride: if index == 0 { stride } else { 1 },
                se: stage < 3,
            };
            blocks.push(block(weights, &site, bottleneck)?);
            in_channels = out_channels;
        }
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![classifier(weights, "head.fc", in_channels, num_classes)?],
    })
}

/// `SpaceToDepth(4)` then `body.conv1` (3×3, padding 1, on the 16·C channels) as one 12×12
/// convolution of stride 4 and padding 4 on the image: space-to-depth channel `(4·by + bx)·C + c`
/// holds pixel `(4y + by, 4x + bx)` of channel `c`, so tap `(ky, kx)` of that channel is tap
/// `(4ky + by, 4kx + bx)` of channel `c`. (timm refuses sizes that are not multiples of 4.)
fn space_to_depth_conv(
    weights: &Weights,
    in_chans: usize,
    planes: usize,
) -> Result<Layer, ModelError> {
    let conv = conv_norm(
        weights,
        "body.conv1",
        ConvShape::new(in_chans * 16, planes, 3, 1),
    )?;
    let (k, block) = (12, 4);
    let mut weight = vec![0.0; planes * in_chans * k * k];
    for o in 0..planes {
        for (by, bx, c) in (0..block)
            .flat_map(|by| (0..block).flat_map(move |bx| (0..in_chans).map(move |c| (by, bx, c))))
        {
            let channel = (by * block + bx) * in_chans + c;
            for ky in 0..3 {
                for kx in 0..3 {
                    let from = ((o * in_chans * 16 + channel) * 3 + ky) * 3 + kx;
                    let (y, x) = (block * ky + by, block * kx + bx);
                    weight[((o * in_chans + c) * k + y) * k + x] = conv.weight[from];
                }
            }
        }
    }
    Ok(Layer::Conv {
        conv: Conv2d {
            in_channels: in_chans,
            out_channels: planes,
            kernel: k,
            stride: block,
            dilation: 1,
            padding: Padding::Symmetric(block),
            groups: 1,
            weight,
            bias: conv.bias,
            winograd: Default::default(),
        },
        act: STEM_ACT,
    })
}

/// Where a block sits.
struct Site {
    name: String,
    in_channels: usize,
    planes: usize,
    out_channels: usize,
    stride: usize,
    se: bool,
}

/// `BasicBlock` (3×3 → 3×3 → SE) or `Bottleneck` (1×1 → 3×3 → SE → 1×1), plus the shortcut, then
/// a ReLU. A strided 3×3 is anti-aliased: stride 1, its BatchNorm and act, then the blur.
fn block(weights: &Weights, site: &Site, bottleneck: bool) -> Result<Block, ModelError> {
    let Site {
        ref name,
        in_channels,
        planes,
        out_channels,
        stride,
        se,
    } = *site;
    let conv =
        |module: &str, shape, act| conv_norm_act(weights, &format!("{name}.{module}"), shape, act);
    let three = |module: &str, cin: usize| -> Result<Vec<Layer>, ModelError> {
        let mut layers = vec![conv(module, ConvShape::new(cin, planes, 3, 1), BLOCK_ACT)?];
        if stride == 2 {
            layers.extend(blur_pool(planes));
        }
        Ok(layers)
    };
    let none = Activation::None;
    let (body, se_channels, tail) = match bottleneck {
        false => {
            let mut body = three("conv1", in_channels)?;
            body.push(conv("conv2", ConvShape::new(planes, planes, 3, 1), none)?);
            (body, planes, Vec::new())
        }
        true => {
            let mut body = vec![conv(
                "conv1",
                ConvShape::new(in_channels, planes, 1, 1),
                BLOCK_ACT,
            )?];
            body.extend(three("conv2", planes)?);
            let tail = vec![conv(
                "conv3",
                ConvShape::new(planes, out_channels, 1, 1),
                none,
            )?];
            (body, planes, tail)
        }
    };
    let se = se
        .then(|| squeeze_excite(weights, &format!("{name}.se"), se_channels, SE_PAPER))
        .transpose()?;
    let mut projection = Vec::new();
    if stride != 1 || in_channels != out_channels {
        if stride == 2 {
            projection.push(Layer::Pool(Pool {
                kind: PoolKind::Avg,
                kernel: 2,
                stride: 2,
                padding: 0,
                ceil_mode: true,
            }));
        }
        let module = format!("downsample.{}", projection.len());
        let shape = ConvShape::new(in_channels, out_channels, 1, 1);
        projection.push(conv(&module, shape, none)?);
    }
    Ok(Block {
        name: name.clone(),
        pre: Vec::new(),
        body,
        se,
        tail,
        residual: Some(Residual {
            projection,
            act: Activation::Relu,
        }),
    })
}

/// timm's `BlurPool2d(channels)`: reflection padding of 1, then the 3×3 binomial filter
/// `[1, 2, 1]ᵀ[1, 2, 1] / 16` on every channel with stride 2 (its taps exact in f32).
fn blur_pool(channels: usize) -> [Layer; 2] {
    let taps = [0.25f32, 0.5, 0.25];
    let filter: Vec<f32> = taps
        .iter()
        .flat_map(|&a| taps.iter().map(move |&b| a * b))
        .collect();
    [
        Layer::ReflectPad(1),
        Layer::Conv {
            conv: Conv2d {
                in_channels: channels,
                out_channels: channels,
                kernel: 3,
                stride: 2,
                dilation: 1,
                padding: Padding::Symmetric(0),
                groups: channels,
                weight: filter.repeat(channels),
                bias: vec![0.0; channels],
                winograd: Default::default(),
            },
            act: Activation::None,
        },
    ]
}
