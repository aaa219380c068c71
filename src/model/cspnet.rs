//! timm's `cspnet.py`: its SiLU cross-stage-partial nets, CS3-DarkNet (`cs3darknet_s/m/l/x`) and
//! its SE variants (`cs3sedarknet_l/x`), CS3-SE-DarkNet-XDW (`cs3sedarknet_xdw`: CSP stages of
//! grouped bottlenecks) and CS3-(SE-)EdgeNet (`cs3edgenet_x`, `cs3se_edgenet_x`), where a stage
//! downsamples, expands, splits its channels in halves, runs its blocks on one half and mixes the
//! two again with a 1×1 convolution; and the plain DarkNets with leaky ReLUs (`darknet17/21/53`,
//! `sedarknet21`), whose stages run their blocks on all channels.

use serde_json::{Map, Value};

use super::args;
use super::layers::{classifier, conv_norm_act, squeeze_excite, ConvShape, SeStyle};
use super::template::{Block, Layer, Network, Residual};
use super::weights::Weights;
use super::ModelError;
use crate::engine::{Activation, Slope};

/// A stage's type: where its blocks run and what follows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StageType {
    /// `CrossStage3`: the blocks on the first half, one transition after the concatenation.
    Cs3,
    /// `CrossStage`: the blocks on the second half and a transition of their own.
    Csp,
    /// `DarkStage`: a strided 3×3, then the blocks on all channels (DarkNet).
    Dark,
}

/// A stage's block type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockType {
    /// `DarkBlock`: 1×1 → SE → 3×3, plus the input.
    Dark,
    /// `EdgeBlock`: 3×3 → SE → 1×1, plus the input.
    Edge,
    /// `BottleneckBlock`: 1×1 → 3×3 → SE → 1×1 (linear), plus the input, then the activation.
    Bottle,
}

/// timm's `CspModelCfg` (the fields that change the computation).
#[derive(Clone, Debug, PartialEq)]
pub struct CspArgs {
    stem: Vec<usize>,
    /// The stem's first convolution's stride (DarkNet's is 1).
    stem_stride: usize,
    depth: Vec<usize>,
    out_chs: Vec<usize>,
    groups: Vec<usize>,
    bottle_ratio: f64,
    stage: StageType,
    block: BlockType,
    se: bool,
    act: Activation,
    in_chans: usize,
}

impl CspArgs {
    /// timm's `model_cfgs[name]`, or `None` for a name of another family.
    pub fn from_name(name: &str) -> Option<Self> {
        let cs3 =
            |stem: [usize; 2], depth: [usize; 4], out_chs: [usize; 4], block, bottle_ratio, se| {
                Self {
                    stem: stem.to_vec(),
                    stem_stride: 2,
                    depth: depth.to_vec(),
                    out_chs: out_chs.to_vec(),
                    groups: vec![1; 4],
                    bottle_ratio,
                    stage: StageType::Cs3,
                    block,
                    se,
                    act: Activation::Silu,
                    in_chans: 3,
                }
            };
        // DarkNet: a stride-1 stem convolution, five dark stages, leaky ReLUs (timm's default
        // `nn.LeakyReLU()`, slope 0.01).
        let darknet = |depth: [usize; 5], se| Self {
            stem: vec![32],
            stem_stride: 1,
            depth: depth.to_vec(),
            out_chs: vec![64, 128, 256, 512, 1024],
            groups: vec![1; 5],
            bottle_ratio: 0.5,
            stage: StageType::Dark,
            block: BlockType::Dark,
            se,
            act: Activation::LeakyRelu(Slope::new(0.01).expect("a normal slope")),
            in_chans: 3,
        };
        let dark = |stem, depth, out_chs, se| cs3(stem, depth, out_chs, BlockType::Dark, 1.0, se);
        let l = ([32, 64], [3, 6, 9, 3], [128, 256, 512, 1024]);
        let x = ([40, 80], [3, 7, 11, 3], [160, 320, 640, 1280]);
        Some(match name {
            "cs3darknet_s" => dark([16, 32], [1, 3, 4, 1], [64, 128, 256, 512], false),
            "cs3darknet_m" => dark([24, 48], [2, 4, 6, 2], [96, 192, 384, 768], false),
            "cs3darknet_l" => dark(l.0, l.1, l.2, false),
            "cs3darknet_x" => dark(x.0, x.1, x.2, false),
            "cs3sedarknet_l" => dark(l.0, l.1, l.2, true),
            "cs3sedarknet_x" => dark(x.0, x.1, x.2, true),
            "cs3edgenet_x" => cs3(x.0, x.1, x.2, BlockType::Edge, 1.5, false),
            "cs3se_edgenet_x" => cs3(x.0, x.1, x.2, BlockType::Edge, 1.5, true),
            "darknet17" => darknet([1; 5], false),
            "darknet21" => darknet([1, 1, 1, 2, 2], false),
            "sedarknet21" => darknet([1, 1, 1, 2, 2], true),
            "darknet53" => darknet([1, 2, 8, 8, 4], false),
            "cs3sedarknet_xdw" => Self {
                groups: vec![1, 1, 256, 512],
                stage: StageType::Csp,
                ..cs3(
                    l.0,
                    [3, 6, 12, 4],
                    [256, 512, 1024, 2048],
                    BlockType::Bottle,
                    0.5,
                    true,
                )
            },
            _ => return None,
        })
    }

    /// Applies `model_args` from config.json; anything that changes the computation in a way
    /// the engine does not implement is refused by name.
    pub fn apply(&mut self, model_args: &Map<String, Value>) -> Result<(), ModelError> {
        args::apply(model_args, "CSPNet", |arg| {
            match arg.name {
                "in_chans" => self.in_chans = arg.positive_int()?,
                _ => return Ok(false),
            }
            Ok(true)
        })
    }
}

pub fn build(args: &CspArgs, num_classes: usize, weights: &Weights) -> Result<Network, ModelError> {
    let act = args.act;
    let conv = |module: &str, shape, act| conv_norm_act(weights, module, shape, act);
    // `create_csp_stem` without a pool: the first convolution strided (or none).
    let mut stem = Vec::new();
    let mut in_channels = args.in_chans;
    for (i, &chs) in args.stem.iter().enumerate() {
        let stride = if i == 0 { args.stem_stride } else { 1 };
        let shape = ConvShape::new(in_channels, chs, 3, stride);
        stem.push(conv(&format!("stem.conv{}", i + 1), shape, act)?);
        in_channels = chs;
    }
    let mut blocks = Vec::new();
    for s in 0..args.depth.len() {
        let name = format!("stages.{s}");
        let (out, groups) = (args.out_chs[s], args.groups[s]);
        if args.stage == StageType::Dark {
            // `block_ratio` 1: the blocks keep the stage's width.
            let down = ConvShape::new(in_channels, out, 3, 2).groups(groups);
            blocks.push(Block {
                name: format!("{name}.conv_down"),
                pre: Vec::new(),
                body: vec![conv(&format!("{name}.conv_down"), down, act)?],
                se: None,
                tail: Vec::new(),
                residual: None,
            });
            for i in 0..args.depth[s] {
                blocks.push(block(
                    args,
                    &format!("{name}.blocks.{i}"),
                    out,
                    groups,
                    weights,
                )?);
            }
            in_channels = out;
            continue;
        }
        // `expand_ratio` 1, `block_ratio` 0.5: the blocks keep half the channels.
        let (exp, half) = (out, out / 2);
        let down = ConvShape::new(in_channels, in_channels, 3, 2).groups(groups);
        let mut body = vec![
            conv(&format!("{name}.conv_down"), down, act)?,
            conv(
                &format!("{name}.conv_exp"),
                ConvShape::new(in_channels, exp, 1, 1),
                act,
            )?,
        ];
        let stage_blocks = (0..args.depth[s])
            .map(|i| block(args, &format!("{name}.blocks.{i}"), half, groups, weights))
            .collect::<Result<Vec<_>, _>>()?;
        // The blocks run on one half of the channels, the other half passes by.
        let mut main = stage_blocks
            .into_iter()
            .map(|block| Layer::Block(Box::new(block)))
            .collect::<Vec<_>>();
        let rest = exp - half;
        let (first, second) = (
            Layer::Slice {
                start: 0,
                len: half,
            },
            Layer::Slice {
                start: half,
                len: rest,
            },
        );
        body.push(Layer::Concat(if args.stage == StageType::Cs3 {
            main.insert(0, first);
            vec![main, vec![second]]
        } else {
            main.insert(0, second);
            let shape = ConvShape::new(rest, rest, 1, 1);
            main.push(conv(&format!("{name}.conv_transition_b"), shape, act)?);
            vec![vec![first], main]
        }));
        let transition = ConvShape::new(exp, out, 1, 1);
        body.push(conv(&format!("{name}.conv_transition"), transition, act)?);
        blocks.push(Block {
            name,
            pre: Vec::new(),
            body,
            se: None,
            tail: Vec::new(),
            residual: None,
        });
        in_channels = out;
    }
    Ok(Network {
        in_channels: args.in_chans,
        stem,
        blocks,
        neck: Vec::new(),
        head: vec![classifier(weights, "head.fc", in_channels, num_classes)?],
    })
}

/// One block of `channels` in and out (`mid = round(channels · bottle_ratio)`), an identity
/// shortcut.
fn block(
    args: &CspArgs,
    name: &str,
    channels: usize,
    groups: usize,
    weights: &Weights,
) -> Result<Block, ModelError> {
    let mid = (channels as f64 * args.bottle_ratio).round_ties_even() as usize;
    let conv =
        |module: &str, shape, act| conv_norm_act(weights, &format!("{name}.{module}"), shape, act);
    let se = |module: &str| -> Result<_, ModelError> {
        if !args.se {
            return Ok(None);
        }
        // timm passes the network's activation to the SE (`attn_layer(chs, act_layer=...)`).
        let style = SeStyle {
            reduce: "fc1",
            expand: "fc2",
            act: args.act,
            gate: Activation::Sigmoid,
        };
        Ok(Some(squeeze_excite(
            weights,
            &format!("{name}.{module}"),
            mid,
            style,
        )?))
    };
    let three = |cin, cout| ConvShape::new(cin, cout, 3, 1).groups(groups);
    let one = |cin, cout| ConvShape::new(cin, cout, 1, 1);
    let act = args.act;
    let (body, se, tail, out_act) = match args.block {
        BlockType::Dark => (
            vec![conv("conv1", one(channels, mid), act)?],
            se("attn")?,
            vec![conv("conv2", three(mid, channels), act)?],
            Activation::None,
        ),
        BlockType::Edge => (
            vec![conv("conv1", three(channels, mid), act)?],
            se("attn")?,
            vec![conv("conv2", one(mid, channels), act)?],
            Activation::None,
        ),
        BlockType::Bottle => (
            vec![
                conv("conv1", one(channels, mid), act)?,
                conv("conv2", three(mid, mid), act)?,
            ],
            se("attn2")?,
            vec![conv("conv3", one(mid, channels), Activation::None)?],
            act,
        ),
    };
    Ok(Block {
        name: name.into(),
        pre: Vec::new(),
        body,
        se,
        tail,
        residual: Some(Residual {
            projection: Vec::new(),
            act: out_act,
        }),
    })
}
