//! The shape every timm family shares, which the builders fill and lower to the engine's graph.
//!
//! A network is a stem, a list of blocks, a neck, a global average pool and a head of fully
//! connected layers. A block is `act(tail(se(body(x))) + projection(x))`: ResNet's
//! `relu(se(body(x)) + shortcut(x))` has an empty tail; MobileNetV3's and EfficientNet's inverted
//! residual puts the SE between the depthwise convolution (end of the body) and the projection
//! (the tail), with no activation after the add, and some blocks have no residual connection at
//! all. [`Network::into_graph`] writes it as plain ops (a convolution, then its activation; a
//! multiply, then an add) that `engine::passes::optimize` fuses.

use crate::engine::graph::{BatchNorm, BinaryOp, Graph, GraphBuilder, GraphError, Op, ValueId};
use crate::engine::{Activation, Conv2d, Linear, Pool};

/// One step of a stem, body, tail, projection or neck.
#[derive(Clone, Debug)]
pub enum Layer {
    Conv {
        conv: Conv2d,
        act: Activation,
    },
    Pool(Pool),
    /// Reflection padding of every side (anti-aliasing's blur, TResNet's `BlurPool2d`).
    ReflectPad(usize),
    /// A BatchNorm that no convolution precedes (pre-activation blocks), and its activation.
    Norm {
        bn: BatchNorm,
        act: Activation,
    },
    /// An activation alone (ReXNet's ReLU6 after the SE scale).
    Act(Activation),
    /// VoVNet's one-shot aggregation: `concat(x, y₁, …, yₙ)` where `y₀ = reduction(x)` (or `x`)
    /// and `yₖ = steps[k](yₖ₋₁)`, each step a sequence of layers.
    Aggregate {
        reduction: Vec<Layer>,
        steps: Vec<Vec<Layer>>,
    },
    /// Branches that all read the input, their outputs' channels one after another (an empty
    /// branch passes the input itself): CSPNet's cross stage (one branch a [`Layer::Slice`] and
    /// blocks, the other the rest of the channels), CSPNeXt's main and short paths, SPP's pools.
    Concat(Vec<Vec<Layer>>),
    /// Channels `start .. start + len` of the input.
    Slice {
        start: usize,
        len: usize,
    },
    /// A block inside a layer sequence (a cross stage's blocks).
    Block(Box<Block>),
    /// `main(x) · nearest(gate(x))`: a gate map, at a coarser resolution, resized to `main`'s
    /// planes and multiplied in (GhostNet v2's "DFC" attention).
    SpatialGate {
        main: Vec<Layer>,
        gate: Vec<Layer>,
    },
    /// GhostNet's module: `concat(p, cheap(p))[:, ..out_channels]` where `p = primary(x)`.
    Ghost {
        primary: Box<Layer>,
        cheap: Box<Layer>,
        out_channels: usize,
    },
}

/// An SE block: squeeze (global average pool) → fully connected layers, each with its
/// activation, the last one's being the gate → scale. The paper's is FC → ReLU → FC → sigmoid;
/// MobileNetV3 gates with a hard sigmoid, EfficientNet uses SiLU between the FCs, an "effective
/// SE" (VoVNet) has one FC, ReXNet a BatchNorm after the first (folded into it at load).
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    /// The PyTorch module path, e.g. `layer3.1.se`, `layer2.0.se_module` or `blocks.2.0.se`.
    pub name: String,
    pub channels: usize,
    /// `[out, in]` weights with their biases and activations, in order.
    pub fcs: Vec<Linear>,
}

/// The residual connection of a block: `act(branch + projection(x))`. A shortcut narrower than
/// the branch adds to the branch's first channels (ReXNet).
#[derive(Clone, Debug)]
pub struct Residual {
    /// Empty: the identity.
    pub projection: Vec<Layer>,
    /// After the add: ReLU in ResNets, none in inverted residuals.
    pub act: Activation,
}

/// `residual.act(tail(se(body(x))) + residual.projection(x))`, or `tail(se(body(x)))` without a
/// residual connection.
#[derive(Clone, Debug)]
pub struct Block {
    /// The PyTorch module path, e.g. `layer1.0` or `blocks.2.1`.
    pub name: String,
    /// Before the branch and the residual split (a pre-activation block's first norm, whose
    /// output both read); usually empty.
    pub pre: Vec<Layer>,
    /// Everything before the SE (all of a ResNet block's branch).
    pub body: Vec<Layer>,
    pub se: Option<SqueezeExcite>,
    /// After the SE scale (an inverted residual's projection); empty in ResNets.
    pub tail: Vec<Layer>,
    pub residual: Option<Residual>,
}

/// A whole classifier: stem → blocks → neck → global average pool → head.
#[derive(Clone, Debug)]
pub struct Network {
    pub in_channels: usize,
    pub stem: Vec<Layer>,
    pub blocks: Vec<Block>,
    /// After the last block, before the pool (EfficientNet's `conv_head`); often empty.
    pub neck: Vec<Layer>,
    /// On the pooled features; the last layer gives the logits.
    pub head: Vec<Linear>,
}

impl Network {
    /// The graph of this network, as plain ops (a convolution, then its activation; a multiply,
    /// then an add) for [`super::passes::optimize`] to fuse. Weights move, nothing is copied.
    pub fn into_graph(self) -> Result<Graph, GraphError> {
        let mut b = GraphBuilder::new(self.in_channels);
        let input = b.input();
        let mut x = layers(&mut b, "stem", self.stem, input)?;
        for block in self.blocks {
            x = lower_block(&mut b, block, x)?;
        }
        x = layers(&mut b, "neck", self.neck, x)?;
        x = b.node("global_pool", Op::GlobalAvgPool, &[x])?;
        for (i, mut linear) in self.head.into_iter().enumerate() {
            let act = std::mem::take(&mut linear.act);
            x = b.node(format!("head.{i}"), Op::Linear(linear), &[x])?;
            x = activation(&mut b, &format!("head.{i}.act"), act, x)?;
        }
        Ok(b.finish(x))
    }
}

/// `block` on `x`, ending a stage of progress.
fn lower_block(b: &mut GraphBuilder, block: Block, x: ValueId) -> Result<ValueId, GraphError> {
    let name = block.name;
    let input = layers(b, &format!("{name}.pre"), block.pre, x)?;
    let y = layers(b, &format!("{name}.body"), block.body, input)?;
    let scaled = match block.se {
        None => y,
        Some(se) => squeeze_excite(b, se, y)?,
    };
    let mut x = layers(b, &format!("{name}.tail"), block.tail, scaled)?;
    if let Some(residual) = block.residual {
        let skip = layers(b, &format!("{name}.downsample"), residual.projection, input)?;
        x = add_into_first_channels(b, &name, x, skip)?;
        x = activation(b, &format!("{name}.act"), residual.act, x)?;
    }
    b.end_stage(name);
    Ok(x)
}

/// `layers` applied to `x` in order (none: `x` itself).
fn layers(
    b: &mut GraphBuilder,
    prefix: &str,
    steps: Vec<Layer>,
    mut x: ValueId,
) -> Result<ValueId, GraphError> {
    for (i, layer) in steps.into_iter().enumerate() {
        let name = format!("{prefix}.{i}");
        x = match layer {
            Layer::Conv { conv, act } => {
                let op = Op::Conv {
                    conv,
                    act: Activation::None,
                    squeeze: false,
                };
                let y = b.node(name.clone(), op, &[x])?;
                activation(b, &format!("{name}.act"), act, y)?
            }
            Layer::Pool(pool) => b.node(name, Op::Pool(pool), &[x])?,
            Layer::ReflectPad(pad) => b.node(name, Op::ReflectPad { pad }, &[x])?,
            Layer::SpatialGate { main, gate } => {
                let y = layers(b, &format!("{name}.main"), main, x)?;
                let g = layers(b, &format!("{name}.gate"), gate, x)?;
                let g = b.node(format!("{name}.resize"), Op::ResizeNearest, &[g, y])?;
                b.node(format!("{name}.mul"), Op::Binary(BinaryOp::Mul), &[y, g])?
            }
            Layer::Act(act) => activation(b, &name, act, x)?,
            Layer::Aggregate { reduction, steps } => {
                let mut parts = vec![x];
                let mut y = layers(b, &format!("{name}.reduction"), reduction, x)?;
                for (k, step) in steps.into_iter().enumerate() {
                    y = layers(b, &format!("{name}.step{k}"), step, y)?;
                    parts.push(y);
                }
                b.node(format!("{name}.cat"), Op::Concat, &parts)?
            }
            Layer::Ghost {
                primary,
                cheap,
                out_channels,
            } => {
                let p = layers(b, &format!("{name}.primary"), vec![*primary], x)?;
                let c = layers(b, &format!("{name}.cheap"), vec![*cheap], p)?;
                let both = b.node(format!("{name}.cat"), Op::Concat, &[p, c])?;
                match b.info(both).channels > out_channels {
                    true => {
                        let first = Op::Slice {
                            start: 0,
                            len: out_channels,
                        };
                        b.node(format!("{name}.slice"), first, &[both])?
                    }
                    false => both,
                }
            }
            Layer::Norm { bn, act } => {
                let y = b.node(name.clone(), Op::BatchNorm(bn), &[x])?;
                activation(b, &format!("{name}.act"), act, y)?
            }
            Layer::Concat(branches) => {
                let parts = branches
                    .into_iter()
                    .enumerate()
                    .map(|(k, branch)| layers(b, &format!("{name}.branch{k}"), branch, x))
                    .collect::<Result<Vec<_>, _>>()?;
                b.node(format!("{name}.cat"), Op::Concat, &parts)?
            }
            Layer::Slice { start, len } => b.node(name, Op::Slice { start, len }, &[x])?,
            Layer::Block(block) => lower_block(b, *block, x)?,
        };
    }
    Ok(x)
}

/// `x + skip`, or, when `skip` has fewer channels, `concat(x[:c] + skip, x[c:])`.
fn add_into_first_channels(
    b: &mut GraphBuilder,
    name: &str,
    x: ValueId,
    skip: ValueId,
) -> Result<ValueId, GraphError> {
    let (wide, narrow) = (b.info(x).channels, b.info(skip).channels);
    if narrow >= wide {
        return b.node(format!("{name}.add"), Op::Binary(BinaryOp::Add), &[x, skip]);
    }
    let head = Op::Slice {
        start: 0,
        len: narrow,
    };
    let tail = Op::Slice {
        start: narrow,
        len: wide - narrow,
    };
    let first = b.node(format!("{name}.head"), head, &[x])?;
    let rest = b.node(format!("{name}.rest"), tail, &[x])?;
    let sum = b.node(
        format!("{name}.add"),
        Op::Binary(BinaryOp::Add),
        &[first, skip],
    )?;
    b.node(format!("{name}.cat"), Op::Concat, &[sum, rest])
}

/// `act(x)`, or `x` for the identity.
fn activation(
    b: &mut GraphBuilder,
    name: &str,
    act: Activation,
    x: ValueId,
) -> Result<ValueId, GraphError> {
    match act {
        Activation::None => Ok(x),
        act => b.node(name, Op::Act(act), &[x]),
    }
}

/// `y · gate(y)`: squeeze → FCs with their activations (the last one's is the gate) → scale,
/// annotated as an SE block.
fn squeeze_excite(
    b: &mut GraphBuilder,
    se: SqueezeExcite,
    y: ValueId,
) -> Result<ValueId, GraphError> {
    let name = se.name;
    let mut gate = b.node(format!("{name}.pool"), Op::GlobalAvgPool, &[y])?;
    let count = se.fcs.len();
    for (i, mut fc) in se.fcs.into_iter().enumerate() {
        let act = std::mem::take(&mut fc.act);
        let label = match (count, i) {
            (1, _) => "fc".to_owned(),
            _ => format!("fc{}", i + 1),
        };
        gate = b.node(format!("{name}.{label}"), Op::Linear(fc), &[gate])?;
        let act_name = match i + 1 == count {
            true => format!("{name}.gate"),
            false => format!("{name}.act{}", i + 1),
        };
        gate = activation(b, &act_name, act, gate)?;
    }
    b.se_block(name.clone(), y, gate);
    b.node(
        format!("{name}.scale"),
        Op::Binary(BinaryOp::Mul),
        &[y, gate],
    )
}
