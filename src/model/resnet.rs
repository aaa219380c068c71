//! timm's `ResNet` class: resnet*, seresnet*, resnext*, seresnext*, with their stem and
//! downsample variants, parametrised exactly as timm's constructor arguments.

use serde_json::{Map, Value};

use super::layers::{
    classifier, conv_bn, residual_stages, resnet_block, squeeze_excite, BlockSite, ConvShape,
    SE_PAPER,
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
    pub se: bool,
}

impl ResNetArgs {
    /// The arguments timm's registry passes for `name` (e.g. `seresnext26d_32x4d`), or `None` if
    /// the name is not of this family.
    pub fn from_name(name: &str) -> Option<Self> {
        let (se, rest) = match name.strip_prefix("se") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let (next, rest) = if let Some(rest) = rest.strip_prefix("resnext") {
            (true, rest)
        } else {
            (false, rest.strip_prefix("resnet")?)
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
        Some(Self {
            bottleneck,
            layers: layers.to_vec(),
            channels: vec![64, 128, 256, 512],
            cardinality,
            base_width,
            stem_width,
            stem_type: stem_type.into(),
            avg_down,
            down_kernel_size: 1,
            block_reduce_first: 1,
            in_chans: 3,
            se,
        })
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
                    self.se = match attn.and_then(Value::as_str) {
                        Some("se") => true,
                        None if attn.is_none_or(Value::is_null) => false,
                        _ => return Err(bad("only attn_layer 'se' (or none) is supported")),
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
                "replace_stem_pool" if value.as_bool() == Some(false) => {}
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
    stem.push(Layer::Pool(Pool {
        kind: PoolKind::Max,
        kernel: 3,
        stride: 2,
        padding: 1,
        ceil_mode: false,
    }));

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
        let body = if args.bottleneck {
            let width = planes * args.base_width / 64 * args.cardinality;
            let first = width / args.block_reduce_first;
            vec![
                site.conv(
                    weights,
                    1,
                    ConvShape::new(in_channels, first, 1, 1),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    2,
                    ConvShape::new(first, width, 3, stride).groups(args.cardinality),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    3,
                    ConvShape::new(width, out_channels, 1, 1),
                    Activation::None,
                )?,
            ]
        } else {
            let first = planes / args.block_reduce_first;
            vec![
                site.conv(
                    weights,
                    1,
                    ConvShape::new(in_channels, first, 3, stride),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    2,
                    ConvShape::new(first, out_channels, 3, 1),
                    Activation::None,
                )?,
            ]
        };
        let se = args
            .se
            .then(|| {
                let name = format!("{}.se", site.name);
                squeeze_excite(weights, &name, out_channels, SE_PAPER)
            })
            .transpose()?;
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
