//! timm's legacy `SENet` class (the original Caffe-trained SE-ResNet / SE-ResNeXt / SENet-154),
//! whose SE modules are named `se_module` and whose stem pool uses `ceil_mode=True`.

use super::layers::{
    classifier, conv_bn, residual_stages, resnet_block, squeeze_excite, BlockSite, ConvShape,
    SE_PAPER,
};
use super::template::{Layer, Network};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Pool, PoolKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// `SEResNetBlock`: two 3×3 convs, ReLU after both, then SE.
    Basic,
    /// `SEResNetBottleneck`: stride on the first 1×1 conv (Caffe style).
    ResNet,
    /// `SEResNeXtBottleneck`: grouped 3×3 of width ⌊planes·4/64⌋·groups.
    ResNeXt,
    /// `SEBottleneck` (SENet-154): 1×1 to 2·planes, grouped 3×3 to 4·planes.
    SeNet,
}

/// The `SENet.__init__` arguments of each registered legacy model.
#[derive(Clone, Debug, PartialEq)]
pub struct SeNetArgs {
    block: Block,
    layers: [usize; 4],
    groups: usize,
    inplanes: usize,
    input_3x3: bool,
    downsample_kernel_size: usize,
    downsample_padding: usize,
    in_chans: usize,
}

impl SeNetArgs {
    pub fn from_name(name: &str) -> Option<Self> {
        let resnet = |block, layers| Self {
            block,
            layers,
            groups: 1,
            inplanes: 64,
            input_3x3: false,
            downsample_kernel_size: 1,
            downsample_padding: 0,
            in_chans: 3,
        };
        let resnext = |layers| Self {
            groups: 32,
            ..resnet(Block::ResNeXt, layers)
        };
        Some(match name.strip_prefix("legacy_")? {
            "seresnet18" => resnet(Block::Basic, [2, 2, 2, 2]),
            "seresnet34" => resnet(Block::Basic, [3, 4, 6, 3]),
            "seresnet50" => resnet(Block::ResNet, [3, 4, 6, 3]),
            "seresnet101" => resnet(Block::ResNet, [3, 4, 23, 3]),
            "seresnet152" => resnet(Block::ResNet, [3, 8, 36, 3]),
            "seresnext26_32x4d" => resnext([2, 2, 2, 2]),
            "seresnext50_32x4d" => resnext([3, 4, 6, 3]),
            "seresnext101_32x4d" => resnext([3, 4, 23, 3]),
            "senet154" => Self {
                groups: 64,
                inplanes: 128,
                input_3x3: true,
                downsample_kernel_size: 3,
                downsample_padding: 1,
                ..resnet(Block::SeNet, [3, 8, 36, 3])
            },
            _ => return None,
        })
    }

    pub fn apply(
        &mut self,
        model_args: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ModelError> {
        for (name, value) in model_args {
            match (name.as_str(), value.as_u64()) {
                ("in_chans", Some(c)) if c > 0 => self.in_chans = c as usize,
                ("num_classes" | "drop_rate", _) => {}
                ("global_pool", _) if value.as_str() == Some("avg") => {}
                _ => {
                    return Err(ModelError::ModelArg {
                        name: name.clone(),
                        reason: "not supported for legacy SENet models".into(),
                    })
                }
            }
        }
        Ok(())
    }
}

pub fn build(
    args: &SeNetArgs,
    num_classes: usize,
    weights: &Weights,
) -> Result<Network, ModelError> {
    let layer0 = |conv: &str, bn: &str, shape| {
        conv_bn(
            weights,
            &format!("layer0.{conv}"),
            &format!("layer0.{bn}"),
            shape,
            Activation::Relu,
        )
    };
    let mut stem = if args.input_3x3 {
        vec![
            layer0("conv1", "bn1", ConvShape::new(args.in_chans, 64, 3, 2))?,
            layer0("conv2", "bn2", ConvShape::new(64, 64, 3, 1))?,
            layer0("conv3", "bn3", ConvShape::new(64, args.inplanes, 3, 1))?,
        ]
    } else {
        vec![layer0(
            "conv1",
            "bn1",
            ConvShape::new(args.in_chans, args.inplanes, 7, 2),
        )?]
    };
    stem.push(Layer::Pool(Pool {
        kind: PoolKind::Max,
        kernel: 3,
        stride: 2,
        padding: 0,
        ceil_mode: true,
    }));

    let expansion = if args.block == Block::Basic { 1 } else { 4 };
    let stages = [64, 128, 256, 512].into_iter().zip(args.layers);
    let (blocks, features) = residual_stages(stages, expansion, args.inplanes, |site| {
        let BlockSite {
            in_channels,
            out_channels,
            stride,
            planes,
            ..
        } = *site;
        let shortcut = if site.projects {
            let (kernel, padding) = if site.stage == 0 {
                (1, 0)
            } else {
                (args.downsample_kernel_size, args.downsample_padding)
            };
            let shape = ConvShape::new(in_channels, out_channels, kernel, stride).padding(padding);
            let prefix = format!("{}.downsample", site.name);
            vec![conv_bn(
                weights,
                &format!("{prefix}.0"),
                &format!("{prefix}.1"),
                shape,
                Activation::None,
            )?]
        } else {
            Vec::new()
        };
        let groups = args.groups;
        let body = match args.block {
            Block::Basic => vec![
                site.conv(
                    weights,
                    1,
                    ConvShape::new(in_channels, planes, 3, stride),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    2,
                    ConvShape::new(planes, planes, 3, 1).groups(groups),
                    Activation::Relu,
                )?,
            ],
            Block::ResNet => vec![
                site.conv(
                    weights,
                    1,
                    ConvShape::new(in_channels, planes, 1, stride),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    2,
                    ConvShape::new(planes, planes, 3, 1).groups(groups),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    3,
                    ConvShape::new(planes, out_channels, 1, 1),
                    Activation::None,
                )?,
            ],
            Block::ResNeXt => {
                let width = planes * 4 / 64 * groups;
                vec![
                    site.conv(
                        weights,
                        1,
                        ConvShape::new(in_channels, width, 1, 1),
                        Activation::Relu,
                    )?,
                    site.conv(
                        weights,
                        2,
                        ConvShape::new(width, width, 3, stride).groups(groups),
                        Activation::Relu,
                    )?,
                    site.conv(
                        weights,
                        3,
                        ConvShape::new(width, out_channels, 1, 1),
                        Activation::None,
                    )?,
                ]
            }
            Block::SeNet => vec![
                site.conv(
                    weights,
                    1,
                    ConvShape::new(in_channels, planes * 2, 1, 1),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    2,
                    ConvShape::new(planes * 2, planes * 4, 3, stride).groups(groups),
                    Activation::Relu,
                )?,
                site.conv(
                    weights,
                    3,
                    ConvShape::new(planes * 4, out_channels, 1, 1),
                    Activation::None,
                )?,
            ],
        };
        let name = format!("{}.se_module", site.name);
        let se = squeeze_excite(weights, &name, out_channels, SE_PAPER)?;
        Ok(resnet_block(site, body, Some(se), shortcut))
    })?;
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![classifier(weights, "last_linear", features, num_classes)?],
    })
}
