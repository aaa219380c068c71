//! timm's `ResNet` class: resnet*, seresnet*, resnext*, seresnext*, with their stem and
//! downsample variants, parametrised exactly as timm's constructor arguments.

use serde_json::{Map, Value};

use super::layers::{
    classifier, conv_bn, effective_se, residual_stages, resnet_block, squeeze_excite, BlockSite,
    ConvShape, SE_PAPER,
};
use super::template::{Layer, Network};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Pool, PoolKind};

/// timm `ResNet.__init__` arguments that change the computation.
#[derive(Clone, Debug, PartialEq)]
pub struct ResNetArgs {
    pub bottleneck: bool,
    pub layers: Vec<usize>,
    pub channels: Vec<usize>,
    pub cardinality: usize,
    pub base_width: usize,
    pub stem_width: usize,
    /// `""`, `"deep"` or `"deep_tiered"`.
    pub stem_type: String,
    pub avg_down: bool,
    pub down_kernel_size: usize,
    pub block_reduce_first: usize,
    pub in_chans: usize,
    pub attn: Attention,
    /// Anti-aliased downsampling with a 2×2 average pool (timm's `aa_layer=nn.AvgPool2d`): a
    /// strided 3×3 convolution runs at stride 1 and the pool halves its output; the stem's max
    /// pool is the average pool.
    pub aa: bool,
    /// The stem's max pool is a strided 3×3 convolution (ResNet-RS).
    pub replace_stem_pool: bool,
}

/// The attention module after each block's last convolution (`block_args.attn_layer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attention {
    None,
    /// `se`: the paper's SE (`fc1`, `fc2`).
    Se,
    /// `ese`: one FC and a hard sigmoid (`EffectiveSEModule`).
    EffectiveSe,
}

impl ResNetArgs {
    /// The arguments timm's registry passes for `name` (e.g. `seresnext26d_32x4d`), or `None` if
    /// the name is not of this family.
    pub fn from_name(name: &str) -> Option<Self> {
        if let Some(depth) = name.strip_prefix("resnetrs") {
            // `resnetrs*`: a deep 32-wide stem, its pool a convolution, average-pool downsampling,
            // SE in every bottleneck.
            let layers: &[usize] = match depth {
                "50" => &[3, 4, 6, 3],
                "101" => &[3, 4, 23, 3],
                "152" => &[3, 8, 36, 3],
                "200" => &[3, 24, 36, 3],
                "270" => &[4, 29, 53, 4],
                "350" => &[4, 36, 72, 4],
                "420" => &[4, 44, 87, 4],
                _ => return None,
            };
            return Some(Self {
                replace_stem_pool: true,
                ..Self::bottleneck(layers, 32, "deep", true, Attention::Se)
            });
        }
        match name {
            // timm's ResNet-class SENet-154 (not `legacy_senet154`).
            "senet154" => {
                return Some(Self {
                    cardinality: 64,
                    base_width: 4,
                    down_kernel_size: 3,
                    block_reduce_first: 2,
                    ..Self::bottleneck(&[3, 8, 36, 3], 64, "deep", false, Attention::Se)
                })
            }
            "seresnextaa201d_32x8d" => {
                return Some(Self {
                    cardinality: 32,
                    base_width: 8,
                    aa: true,
                    ..Self::bottleneck(&[3, 24, 36, 4], 64, "deep", true, Attention::Se)
                })
            }
            _ => {}
        }
        let (se, rest) = match name.strip_prefix("se") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let (next, rest) = if let Some(rest) = rest.strip_prefix("resnext") {
            (true, rest)
        } else {
            (false, rest.strip_prefix("resnet")?)
        };
        let (aa, rest) = match rest.strip_prefix("aa") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let (body, grouping) = rest
            .split_once('_')
            .map_or((rest, None), |(b, g)| (b, Some(g)));
        let digits = body
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(body.len());
        let (depth, variant) = body.split_at(digits);
        let (bottleneck, layers): (bool, &[usize]) = match depth {
            "10" => (false, &[1, 1, 1, 1]),
            "14" => (true, &[1, 1, 1, 1]),
            "18" => (false, &[2, 2, 2, 2]),
            "26" => (true, &[2, 2, 2, 2]),
            "34" => (false, &[3, 4, 6, 3]),
            "50" => (true, &[3, 4, 6, 3]),
            "101" => (true, &[3, 4, 23, 3]),
            "152" => (true, &[3, 8, 36, 3]),
            "200" => (true, &[3, 24, 36, 3]),
            "269" => (true, &[3, 30, 48, 8]),
            _ => return None,
        };
        let (stem_width, stem_type, avg_down) = match variant {
            "" | "b" => (64, "", false),
            "c" => (32, "deep", false),
            "d" => (32, "deep", true),
            "e" => (64, "deep", true),
            "s" => (64, "deep", false),
            "t" => (32, "deep_tiered", true),
            _ => return None,
        };
        let (cardinality, base_width) = match grouping {
            None if !next => (1, 64),
            Some(g) if next => {
                let (c, w) = g.strip_suffix('d')?.split_once('x')?;
                (c.parse().ok()?, w.parse().ok()?)
            }
            _ => return None,
        };
        let attn = match se {
            true => Attention::Se,
            false => Attention::None,
        };
        Some(Self {
            bottleneck,
            cardinality,
            base_width,
            aa,
            ..Self::bottleneck(layers, stem_width, stem_type, avg_down, attn)
        })
    }

    fn bottleneck(
        layers: &[usize],
        stem_width: usize,
        stem_type: &str,
        avg_down: bool,
        attn: Attention,
    ) -> Self {
        Self {
            bottleneck: true,
            layers: layers.to_vec(),
            channels: vec![64, 128, 256, 512],
            cardinality: 1,
            base_width: 64,
            stem_width,
            stem_type: stem_type.into(),
            avg_down,
            down_kernel_size: 1,
            block_reduce_first: 1,
            in_chans: 3,
            attn,
            aa: false,
            replace_stem_pool: false,
        }
    }

    /// Applies `model_args` from config.json; arguments that would change the computation in
    /// ways the engine does not implement are refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        for (name, value) in model_args {
            let bad = |reason: &str| ModelError::ModelArg {
                name: name.clone(),
                reason: reason.into(),
            };
            let int = || {
                value
                    .as_u64()
                    .map(|v| v as usize)
                    .filter(|&v| v > 0)
                    .ok_or_else(|| bad("expected a positive integer"))
            };
            let ints = || {
                value
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|v| v.as_u64().map(|v| v as usize).filter(|&v| v > 0))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| bad("expected a list of positive integers"))
            };
            match name.as_str() {
                "layers" => self.layers = ints()?,
                "channels" => self.channels = ints()?,
                "cardinality" => self.cardinality = int()?,
                "base_width" => self.base_width = int()?,
                "stem_width" => self.stem_width = int()?,
                "down_kernel_size" => self.down_kernel_size = int()?,
                "block_reduce_first" => self.block_reduce_first = int()?,
                "in_chans" => self.in_chans = int()?,
                "stem_type" => {
                    self.stem_type = match value.as_str() {
                        Some(t @ ("" | "deep" | "deep_tiered")) => t.into(),
                        _ => return Err(bad("expected '', 'deep' or 'deep_tiered'")),
                    }
                }
                "avg_down" => {
                    self.avg_down = value
                        .as_bool()
                        .ok_or_else(|| bad("expected true or false"))?
                }
                "block_args" => {
                    let attn = value.get("attn_layer");
                    self.attn = match attn.and_then(Value::as_str) {
                        Some("se") => Attention::Se,
                        Some("ese") => Attention::EffectiveSe,
                        None if attn.is_none_or(Value::is_null) => Attention::None,
                        _ => return Err(bad("only attn_layer 'se', 'ese' (or none) is supported")),
                    };
                    if value
                        .as_object()
                        .is_some_and(|args| args.keys().any(|k| k != "attn_layer"))
                    {
                        return Err(bad("only attn_layer is supported in block_args"));
                    }
                }
                "output_stride" if value.as_u64() == Some(32) => {}
                "global_pool" if value.as_str() == Some("avg") => {}
                "replace_stem_pool" => {
                    self.replace_stem_pool = value
                        .as_bool()
                        .ok_or_else(|| bad("expected true or false"))?
                }
                // Training-only: no effect in eval mode.
                "drop_rate" | "drop_path_rate" | "drop_block_rate" | "zero_init_last"
                | "num_classes" => {}
                _ => return Err(bad("this argument is not supported by SE Lens's ResNet")),
            }
        }
        if self.layers.len() != self.channels.len() || self.layers.is_empty() {
            return Err(ModelError::ModelArg {
                name: "layers".into(),
                reason: format!(
                    "{} stages but {} channel widths",
                    self.layers.len(),
                    self.channels.len()
                ),
            });
        }
        if !self.bottleneck && (self.cardinality != 1 || self.base_width != 64) {
            return Err(ModelError::ModelArg {
                name: "cardinality".into(),
                reason: "BasicBlock supports only cardinality=1 and base_width=64".into(),
            });
        }
        Ok(())
    }
}

pub fn build(
    args: &ResNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let deep = args.stem_type.starts_with("deep");
    let inplanes = if deep { args.stem_width * 2 } else { 64 };
    let mut stem = Vec::new();
    if deep {
        let first = if args.stem_type == "deep_tiered" {
            3 * (args.stem_width / 4)
        } else {
            args.stem_width
        };
        stem.push(conv_bn(
            weights,
            "conv1.0",
            "conv1.1",
            ConvShape::new(args.in_chans, first, 3, 2),
            Activation::Relu,
        )?);
        stem.push(conv_bn(
            weights,
            "conv1.3",
            "conv1.4",
            ConvShape::new(first, args.stem_width, 3, 1),
            Activation::Relu,
        )?);
        stem.push(conv_bn(
            weights,
            "conv1.6",
            "bn1",
            ConvShape::new(args.stem_width, inplanes, 3, 1),
            Activation::Relu,
        )?);
    } else {
        stem.push(conv_bn(
            weights,
            "conv1",
            "bn1",
            ConvShape::new(args.in_chans, inplanes, 7, 2),
            Activation::Relu,
        )?);
    }
    if args.replace_stem_pool {
        // `maxpool` = a 3×3 stride-2 convolution → BatchNorm → ReLU (`maxpool.0`, `maxpool.1`).
        if args.aa {
            return Err(ModelError::ModelArg {
                name: "replace_stem_pool".into(),
                reason: "together with aa_layer it is not supported by SE Lens's ResNet".into(),
            });
        }
        let shape = ConvShape::new(inplanes, inplanes, 3, 2);
        stem.push(conv_bn(
            weights,
            "maxpool.0",
            "maxpool.1",
            shape,
            Activation::Relu,
        )?);
    } else if args.aa {
        stem.push(aa_pool());
    } else {
        stem.push(Layer::Pool(Pool {
            kind: PoolKind::Max,
            kernel: 3,
            stride: 2,
            padding: 1,
            ceil_mode: false,
        }));
    }

    let expansion = if args.bottleneck { 4 } else { 1 };
    let stages = args
        .channels
        .iter()
        .copied()
        .zip(args.layers.iter().copied());
    let (blocks, features) = residual_stages(stages, expansion, inplanes, |site| {
        let BlockSite {
            in_channels,
            out_channels,
            stride,
            planes,
            ..
        } = *site;
        let shortcut = if site.projects {
            downsample(weights, site, args)?
        } else {
            Vec::new()
        };
        // Anti-aliased: the strided 3×3 convolution runs at stride 1, a 2×2 average pool after
        // its activation halves the map.
        let aa = args.aa && stride == 2;
        let conv_stride = if aa { 1 } else { stride };
        let relu = Activation::Relu;
        let body = if args.bottleneck {
            let width = planes * args.base_width / 64 * args.cardinality;
            let first = width / args.block_reduce_first;
            let grouped = ConvShape::new(first, width, 3, conv_stride).groups(args.cardinality);
            let mut body = vec![
                site.conv(weights, 1, ConvShape::new(in_channels, first, 1, 1), relu)?,
                site.conv(weights, 2, grouped, relu)?,
            ];
            if aa {
                body.push(aa_pool());
            }
            let last = ConvShape::new(width, out_channels, 1, 1);
            body.push(site.conv(weights, 3, last, Activation::None)?);
            body
        } else {
            let first = planes / args.block_reduce_first;
            let shape = ConvShape::new(in_channels, first, 3, conv_stride);
            let mut body = vec![site.conv(weights, 1, shape, relu)?];
            if aa {
                body.push(aa_pool());
            }
            let last = ConvShape::new(first, out_channels, 3, 1);
            body.push(site.conv(weights, 2, last, Activation::None)?);
            body
        };
        let name = format!("{}.se", site.name);
        let se = match args.attn {
            Attention::None => None,
            Attention::Se => Some(squeeze_excite(weights, &name, out_channels, SE_PAPER)?),
            Attention::EffectiveSe => Some(effective_se(weights, &name, out_channels)?),
        };
        Ok(resnet_block(site, body, se, shortcut))
    })?;
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![classifier(weights, "fc", features, num_classes)?],
    })
}

/// timm's `aa_layer=nn.AvgPool2d` as `create_aa` makes it: `AvgPool2d(2)`.
fn aa_pool() -> Layer {
    Layer::Pool(Pool {
        kind: PoolKind::Avg,
        kernel: 2,
        stride: 2,
        padding: 0,
        ceil_mode: false,
    })
}

/// timm's `downsample_conv` / `downsample_avg`.
fn downsample(
    weights: &Weights,
    site: &BlockSite,
    args: &ResNetArgs,
) -> Result<Vec<Layer>, ModelError> {
    let BlockSite {
        in_channels,
        out_channels,
        stride,
        ..
    } = *site;
    let conv = |index: usize, shape: ConvShape| {
        let prefix = format!("{}.downsample", site.name);
        conv_bn(
            weights,
            &format!("{prefix}.{index}"),
            &format!("{prefix}.{}", index + 1),
            shape,
            Activation::None,
        )
    };
    if args.avg_down {
        let mut layers = Vec::new();
        if stride != 1 {
            layers.push(Layer::Pool(Pool {
                kind: PoolKind::Avg,
                kernel: 2,
                stride,
                padding: 0,
                ceil_mode: true,
            }));
        }
        layers.push(conv(1, ConvShape::new(in_channels, out_channels, 1, 1))?);
        Ok(layers)
    } else {
        let kernel = if stride == 1 {
            1
        } else {
            args.down_kernel_size
        };
        let shape = ConvShape::new(in_channels, out_channels, kernel, stride)
            .padding(((stride - 1) + (kernel - 1)) / 2);
        Ok(vec![conv(0, shape)?])
    }
}
