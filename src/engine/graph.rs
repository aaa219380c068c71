//! The graph the engine runs: typed nodes over numbered values, SE blocks as annotations.
//!
//! Every value is an NCHW f32 tensor. Channel counts are static; the spatial size follows from
//! the input's (`Graph::shapes`), except for per-channel vectors (`[N, C, 1, 1]`, after a global
//! pool or a linear layer), which are 1×1 whatever the input. Nodes are kept in an order where
//! every input is defined before it is used, so one walk over `nodes` is a forward pass.
//!
//! This module is the bottom layer: it imports nothing from the backends, the model loaders or
//! the UI (`tests/layering.rs` checks).

use super::ops::{Conv2d, Linear, Pool};
use super::Activation;

pub type ValueId = usize;
pub type NodeId = usize;

/// An element-wise binary op; the second operand may be a per-channel vector (`[N, C, 1, 1]`)
/// broadcast over the first's planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }

    /// The code the WGSL kernel switches on (`binary.wgsl`).
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// One op. Inputs and outputs are listed on the [`Node`].
#[derive(Clone, Debug)]
pub enum Op {
    /// `[x]` → `[act(conv(x))]`, or with `squeeze` `[act(conv(x)), mean over each plane]` (the
    /// SE squeeze summed while each output plane is still in cache; see `passes::fuse`).
    Conv {
        conv: Conv2d,
        act: Activation,
        squeeze: bool,
    },
    /// `[x]` → `[pool(x)]`.
    Pool(Pool),
    /// `[x]` → `[mean of every plane]`, `[N, C, 1, 1]`.
    GlobalAvgPool,
    /// `[x]` → `[max of every plane]`, `[N, C, 1, 1]` (a squeeze that also takes the max).
    GlobalMaxPool,
    /// `[x]` (any `[N, in, …]` with `in` values per image) → `[N, out, 1, 1]`, with its activation.
    Linear(Linear),
    /// `[x]` → `[batch_norm(x)]` in inference mode; folded into the convolution or linear layer
    /// before it where there is one (`passes::fold_batch_norms`), else a per-channel affine.
    BatchNorm(BatchNorm),
    /// `[x]` → `[act(x)]`.
    Act(Activation),
    /// `[a, b]` → `[a ∘ b]`, `b` the same shape as `a` or a per-channel vector.
    Binary(BinaryOp),
    /// `[x, gate?, skip?]` → `[act(x · gate + skip)]`: an SE scale, a residual add and the
    /// activation after it in one pass (`gate` per channel, `skip` the shape of `x`).
    ScaleAddAct {
        gate: bool,
        skip: bool,
        act: Activation,
    },
    /// `[a, b, …]` → their channels one after another.
    Concat,
    /// `[x]` → channels `start .. start + len` of `x` (a channel split is one per part).
    Slice { start: usize, len: usize },
    /// `[x]` → its channels interleaved across `groups` (ShuffleNet's channel shuffle): output
    /// channel `j·groups + i` is input channel `i·(C / groups) + j`.
    ChannelShuffle { groups: usize },
    /// `[x]` → `[x]` repeated `factor` = `[down, across]` times along each axis of its planes:
    /// nearest-neighbour upsampling by whole factors (an ONNX `Resize` in nearest mode).
    Upsample { factor: [usize; 2] },
    /// `[x, like]` → `x` resized to `like`'s height and width, nearest neighbour as PyTorch's
    /// `F.interpolate(size=…, mode='nearest')` picks it: output `i` reads input `⌊i · s⌋` with
    /// `s = in / out` in f32 ([`super::nearest_source`]). (GhostNet v2's attention map, pooled to half
    /// and back to sizes that may be odd.)
    ResizeNearest,
    /// `[x]` → `[x]` padded by `pad` rows and columns on every side with its reflection, the
    /// border itself not repeated (PyTorch's `F.pad(mode='reflect')`, ONNX's reflect `Pad`);
    /// `pad` is less than the plane's height and width.
    ReflectPad { pad: usize },
    /// `[x]` → softmax over the channels of a per-channel vector (a file that ends in one).
    Softmax,
    /// `[x]` → `[x]` (a flatten of a vector, a dropout at inference); removed by the passes.
    Identity,
}

/// BatchNorm's statistics and affine parameters, one value per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f64,
}

impl BatchNorm {
    /// `(scale, shift)` per channel, so that `bn(x) = x · scale + shift`, computed in f64:
    /// `scale = γ/√(σ²+ε)`, `shift = β − μ·scale`.
    pub fn scale_shift(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        (0..self.gamma.len()).map(|c| {
            let scale = f64::from(self.gamma[c]) / (f64::from(self.var[c]) + self.eps).sqrt();
            (
                scale,
                f64::from(self.beta[c]) - f64::from(self.mean[c]) * scale,
            )
        })
    }
}

/// One step of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// The framework's module path (`layer1.0.conv1`, `blocks.2.0.se.conv_reduce`).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

/// What is known about a value before the input size is: its channels, and whether it is a
/// per-channel vector (1×1 for any input size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    pub channels: usize,
    pub vector: bool,
}

/// An SE block found in (or built into) the graph: `input · gate`, with `gate` computed from
/// `input` (squeeze → excitation → gate function). The gate is the tap; overriding it replaces
/// the value `gate` for one run; `input` is the feature map the channel view shows.
#[derive(Clone, Debug, PartialEq)]
pub struct SeBlock {
    /// The module path, e.g. `layer3.1.se` or `features.4.block.2`.
    pub name: String,
    pub channels: usize,
    pub input: ValueId,
    pub gate: ValueId,
    /// For a hard-sigmoid gate, `clip(slope · x + offset, 0, 1)` as the model wrote it:
    /// `[slope, offset]` (PyTorch's `[1/6, 1/2]`, Paddle's `[0.2, 0.5]`). The passes fold the
    /// slope into the layer before, so it is recorded here when the block is annotated.
    pub hard_sigmoid: Option<[f32; 2]>,
}

/// A span of nodes the page reports as one step of progress ("block 3 of 16").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    /// One past the stage's last node.
    pub end: NodeId,
}

#[derive(Clone, Debug)]
pub struct Graph {
    pub values: Vec<ValueInfo>,
    /// The image, `[N, in_channels, H, W]`.
    pub input: ValueId,
    /// The logits.
    pub output: ValueId,
    pub nodes: Vec<Node>,
    pub se_blocks: Vec<SeBlock>,
    /// In node order; the last ends at `nodes.len()`.
    pub stages: Vec<Stage>,
}

/// Why a graph is not well formed, or does not fit an input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("{node}: {message}")]
    Node { node: String, message: String },
    #[error("{0}")]
    Input(String),
}

/// Builds a graph node by node: each call appends one node and returns its output value.
#[derive(Debug)]
pub struct GraphBuilder {
    graph: Graph,
}

impl GraphBuilder {
    pub fn new(in_channels: usize) -> Self {
        let input = ValueInfo {
            channels: in_channels,
            vector: false,
        };
        Self {
            graph: Graph {
                values: vec![input],
                input: 0,
                output: 0,
                nodes: Vec::new(),
                se_blocks: Vec::new(),
                stages: Vec::new(),
            },
        }
    }

    pub fn input(&self) -> ValueId {
        self.graph.input
    }

    pub fn info(&self, value: ValueId) -> ValueInfo {
        self.graph.values[value]
    }

    /// The graph so far.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Appends `op` on `inputs`; its output's channels follow from the op. A commutative
    /// binary op with a per-channel vector first gets its operands swapped (the kernels
    /// broadcast the second onto the first).
    pub fn node(
        &mut self,
        name: impl Into<String>,
        op: Op,
        inputs: &[ValueId],
    ) -> Result<ValueId, GraphError> {
        let name = name.into();
        let mut inputs = inputs.to_vec();
        if let (Op::Binary(BinaryOp::Add | BinaryOp::Mul), [a, b]) = (&op, &mut inputs[..]) {
            if self.graph.values[*a].vector && !self.graph.values[*b].vector {
                std::mem::swap(a, b);
            }
        }
        let info =
            output_info(&op, inputs.iter().map(|&v| self.graph.values[v])).map_err(|message| {
                GraphError::Node {
                    node: name.clone(),
                    message,
                }
            })?;
        let output = self.graph.values.len();
        self.graph.values.push(info);
        self.graph.nodes.push(Node {
            name,
            op,
            inputs,
            outputs: vec![output],
        });
        Ok(output)
    }

    /// `clip(alpha · x + beta, 0, 1)`, a hard sigmoid of any slope and offset (PyTorch's is
    /// 1/6 and 1/2, Paddle's 0.2 and 0.5): the kernels' hard sigmoid (`relu6(y + 3) / 6`) after
    /// `y = 6·alpha·x + 6·beta − 3`, an affine written as a BatchNorm so that the passes fold it
    /// into the layer before it.
    pub fn hard_sigmoid(
        &mut self,
        name: &str,
        alpha: f32,
        beta: f32,
        x: ValueId,
    ) -> Result<ValueId, GraphError> {
        let y = if alpha == 1.0 / 6.0 && beta == 0.5 {
            x
        } else {
            let channels = self.graph.values[x].channels;
            let bn = BatchNorm {
                gamma: vec![6.0 * alpha; channels],
                beta: vec![6.0 * beta - 3.0; channels],
                mean: vec![0.0; channels],
                var: vec![1.0; channels],
                eps: 0.0,
            };
            self.node(format!("{name}.affine"), Op::BatchNorm(bn), &[x])?
        };
        self.node(name, Op::Act(Activation::HardSigmoid), &[y])
    }

    /// Marks `input · gate` as an SE block named `name`.
    pub fn se_block(&mut self, name: impl Into<String>, input: ValueId, gate: ValueId) {
        let channels = self.graph.values[input].channels;
        let hard_sigmoid = self.graph.hard_sigmoid_of(gate);
        self.graph.se_blocks.push(SeBlock {
            name: name.into(),
            channels,
            input,
            gate,
            hard_sigmoid,
        });
    }

    /// Ends a stage of progress at the last node added.
    pub fn end_stage(&mut self, name: impl Into<String>) {
        self.graph.stages.push(Stage {
            name: name.into(),
            end: self.graph.nodes.len(),
        });
    }

    /// The graph with `output` as its logits. Nodes after the last stage (the head) join it, so
    /// the stages are the blocks; a graph without stages is one.
    pub fn finish(mut self, output: ValueId) -> Graph {
        self.graph.output = output;
        let end = self.graph.nodes.len();
        match self.graph.stages.last_mut() {
            Some(last) => last.end = end,
            None => self.end_stage("graph"),
        }
        self.graph
    }
}

/// The channels of an op's output on inputs with `inputs`' infos, or why it cannot run on them.
fn output_info(
    op: &Op,
    mut inputs: impl ExactSizeIterator<Item = ValueInfo>,
) -> Result<ValueInfo, String> {
    let count = inputs.len();
    let expect = |n: usize| -> Result<(), String> {
        match count == n {
            true => Ok(()),
            false => Err(format!("takes {n} inputs, got {count}")),
        }
    };
    let spatial = |channels| ValueInfo {
        channels,
        vector: false,
    };
    let vector = |channels| ValueInfo {
        channels,
        vector: true,
    };
    match op {
        Op::Conv { conv, .. } => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            if x.channels != conv.in_channels {
                return Err(format!(
                    "takes {} channels, got {}",
                    conv.in_channels, x.channels
                ));
            }
            Ok(ValueInfo {
                channels: conv.out_channels,
                ..x
            })
        }
        Op::Pool(_) | Op::Act(_) | Op::Identity => {
            expect(1)?;
            Ok(inputs.next().expect("one input"))
        }
        Op::BatchNorm(bn) => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            let n = x.channels;
            if [&bn.gamma, &bn.beta, &bn.mean, &bn.var]
                .iter()
                .any(|v| v.len() != n)
            {
                return Err(format!("has parameters for other than its {n} channels"));
            }
            Ok(x)
        }
        Op::GlobalAvgPool | Op::GlobalMaxPool => {
            expect(1)?;
            Ok(vector(inputs.next().expect("one input").channels))
        }
        Op::Linear(linear) => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            if !x.vector || x.channels != linear.in_features {
                return Err(format!(
                    "takes a vector of {} features, got {} channels{}",
                    linear.in_features,
                    x.channels,
                    if x.vector { "" } else { " with planes" }
                ));
            }
            Ok(vector(linear.out_features))
        }
        Op::Binary(_) => {
            expect(2)?;
            let (a, b) = (inputs.next().expect("a"), inputs.next().expect("b"));
            if a.channels != b.channels || (a.vector && !b.vector) {
                return Err(format!(
                    "cannot broadcast {} channels{} onto {} channels{}",
                    b.channels,
                    if b.vector { " (a vector)" } else { "" },
                    a.channels,
                    if a.vector { " (a vector)" } else { "" },
                ));
            }
            Ok(a)
        }
        Op::ScaleAddAct { gate, skip, .. } => {
            expect(1 + usize::from(*gate) + usize::from(*skip))?;
            let x = inputs.next().expect("x");
            for (i, other) in inputs.enumerate() {
                let is_gate = *gate && i == 0;
                if other.channels != x.channels || other.vector != (is_gate || x.vector) {
                    return Err("the gate must be a vector and the skip the shape of x".into());
                }
            }
            Ok(x)
        }
        Op::Slice { start, len } => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            if *len == 0 || start + len > x.channels {
                return Err(format!(
                    "channels {start}..{} of {} channels",
                    start + len,
                    x.channels
                ));
            }
            Ok(ValueInfo {
                channels: *len,
                ..x
            })
        }
        Op::ChannelShuffle { groups } => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            if *groups == 0 || !x.channels.is_multiple_of(*groups) {
                return Err(format!(
                    "cannot shuffle {} channels in {groups} groups",
                    x.channels
                ));
            }
            Ok(x)
        }
        Op::ResizeNearest => {
            expect(2)?;
            let (x, like) = (inputs.next().expect("x"), inputs.next().expect("like"));
            if x.vector || like.vector {
                return Err("resizes planes only".into());
            }
            Ok(x)
        }
        Op::ReflectPad { .. } => {
            expect(1)?;
            Ok(spatial(inputs.next().expect("one input").channels))
        }
        Op::Upsample { factor } => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            if factor.contains(&0) {
                return Err("upsamples by a factor of 0".into());
            }
            Ok(spatial(x.channels))
        }
        Op::Softmax => {
            expect(1)?;
            let x = inputs.next().expect("one input");
            if !x.vector {
                return Err("takes a vector (a softmax over planes is not supported)".into());
            }
            Ok(x)
        }
        Op::Concat => {
            if count == 0 {
                return Err("takes at least one input".into());
            }
            let all: Vec<ValueInfo> = inputs.collect();
            if all.iter().any(|v| v.vector != all[0].vector) {
                return Err("cannot concatenate vectors with planes".into());
            }
            Ok(ValueInfo {
                channels: all.iter().map(|v| v.channels).sum(),
                vector: all[0].vector,
            })
        }
    }
    .map(|info| match info.vector {
        true => info,
        false => spatial(info.channels),
    })
}

impl Graph {
    pub fn in_channels(&self) -> usize {
        self.values[self.input].channels
    }

    /// The node that computes `value`, or `None` for the input.
    pub fn producer(&self, value: ValueId) -> Option<&Node> {
        self.nodes.iter().find(|node| node.outputs.contains(&value))
    }

    /// `[slope, offset]` of the hard sigmoid `clip(slope · x + offset, 0, 1)` computing `value`,
    /// as [`GraphBuilder::hard_sigmoid`] writes it (before the passes fold its affine away);
    /// `None` when `value` is not a hard sigmoid's output.
    pub fn hard_sigmoid_of(&self, value: ValueId) -> Option<[f32; 2]> {
        let node = self.producer(value)?;
        if !matches!(node.op, Op::Act(Activation::HardSigmoid)) {
            return None;
        }
        let pytorch = [1.0 / 6.0, 0.5];
        let affine = match self.producer(node.inputs[0]) {
            Some(Node {
                op: Op::BatchNorm(bn),
                name,
                ..
            }) if name.ends_with(".affine") => bn,
            _ => return Some(pytorch),
        };
        let uniform = |v: &[f32]| v.first().filter(|&&f| v.iter().all(|&x| x == f)).copied();
        let plain = affine.eps == 0.0
            && affine.mean.iter().all(|&m| m == 0.0)
            && affine.var.iter().all(|&v| v == 1.0);
        match (plain, uniform(&affine.gamma), uniform(&affine.beta)) {
            // gamma = 6·slope, beta = 6·offset − 3 (see GraphBuilder::hard_sigmoid)
            (true, Some(gamma), Some(beta)) => Some([gamma / 6.0, (beta + 3.0) / 6.0]),
            _ => Some(pytorch),
        }
    }

    /// How many node inputs read each value (the output counts as one more reader).
    pub fn readers(&self) -> Vec<usize> {
        let mut readers = vec![0; self.values.len()];
        for node in &self.nodes {
            for &input in &node.inputs {
                readers[input] += 1;
            }
        }
        readers[self.output] += 1;
        readers
    }

    pub fn se_block(&self, name: &str) -> Option<&SeBlock> {
        self.se_blocks.iter().find(|se| se.name == name)
    }

    /// Every SE block's module path, in order.
    pub fn se_block_names(&self) -> Vec<String> {
        self.se_blocks.iter().map(|se| se.name.clone()).collect()
    }

    /// Every SE block's gate function, in order (`None` where the gate is not an activation).
    pub fn gate_functions(&self) -> Vec<Option<Activation>> {
        self.se_blocks
            .iter()
            .map(|se| self.gate_function(se))
            .collect()
    }

    /// Every SE block's name and channel count, for [`super::RunOptions::check`].
    pub fn gate_widths(&self) -> impl Iterator<Item = (&str, usize)> + Clone {
        self.se_blocks
            .iter()
            .map(|se| (se.name.as_str(), se.channels))
    }

    /// The function that makes an SE block's gate (the activation of the op computing it).
    pub fn gate_function(&self, se: &SeBlock) -> Option<Activation> {
        match &self.producer(se.gate)?.op {
            Op::Linear(linear) => Some(linear.act),
            Op::Act(act) | Op::Conv { act, .. } | Op::ScaleAddAct { act, .. } => Some(*act),
            _ => None,
        }
    }

    /// The classic excitation of an SE block, when it has one: `gate = fc2(fc1(squeeze))`, two
    /// linear layers whose activations are the hidden one and the gate function (what the
    /// teaching view shows step by step).
    pub fn excitation(&self, se: &SeBlock) -> Option<Excitation<'_>> {
        let linear = |value| match self.producer(value) {
            Some(Node {
                op: Op::Linear(linear),
                inputs,
                ..
            }) => Some((linear, inputs[0])),
            _ => None,
        };
        let (fc2, hidden) = linear(se.gate)?;
        let (fc1, squeezed) = linear(hidden)?;
        let squeezes_input = match self.producer(squeezed)? {
            Node {
                op: Op::GlobalAvgPool,
                inputs,
                ..
            } => inputs[0] == se.input,
            Node {
                op: Op::Conv { squeeze: true, .. },
                outputs,
                ..
            } => outputs == &[se.input, squeezed],
            _ => false,
        };
        squeezes_input.then_some(Excitation { fc1, fc2 })
    }

    /// Every value's `[N, C, H, W]` on an `input` of that shape, or why the input does not fit
    /// (wrong channels, a window larger than its padded input, mismatched planes).
    pub fn shapes(&self, input: [usize; 4]) -> Result<Vec<[usize; 4]>, GraphError> {
        let [batch, channels, height, width] = input;
        if batch == 0 || channels != self.in_channels() {
            return Err(GraphError::Input(format!(
                "input is [{batch}, {channels}, {height}, {width}]; this network takes [N ≥ 1, {}, H, W]",
                self.in_channels()
            )));
        }
        let too_small = || {
            GraphError::Input(format!(
                "a {height}×{width} input is too small for this network"
            ))
        };
        if height == 0 || width == 0 {
            return Err(too_small());
        }
        let mut shapes = vec![[0; 4]; self.values.len()];
        shapes[self.input] = input;
        for node in &self.nodes {
            infer_shape(node, &mut shapes).map_err(|e| match e {
                ShapeError::TooSmall => too_small(),
                ShapeError::Node(e) => e,
            })?;
        }
        Ok(shapes)
    }

    /// Checks that an `[N, C, H, W]` input fits; the executor assumes it does.
    pub fn check_input(&self, input: [usize; 4]) -> Result<(), String> {
        self.shapes(input).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Multiply-accumulates of one forward pass on a `height × width` image (convolutions and
    /// linear layers; pooling and element-wise work not counted). GFLOP = 2·MACs / 10⁹.
    pub fn macs(&self, height: usize, width: usize) -> u64 {
        let Ok(shapes) = self.shapes([1, self.in_channels(), height, width]) else {
            return 0;
        };
        self.nodes
            .iter()
            .map(|node| match &node.op {
                Op::Conv { conv, .. } => {
                    let [_, _, h, w] = shapes[node.outputs[0]];
                    (conv.macs_per_pixel() * h * w) as u64
                }
                Op::Linear(linear) => (linear.in_features * linear.out_features) as u64,
                _ => 0,
            })
            .sum()
    }
}

/// Why a node's output shape cannot be inferred.
pub enum ShapeError {
    /// A window (convolution, pooling) larger than its padded input.
    TooSmall,
    Node(GraphError),
}

/// Sets the shapes of `node`'s outputs from its inputs' (the step of [`Graph::shapes`], for an
/// importer that needs sizes while it builds).
pub fn infer_shape(node: &Node, shapes: &mut [[usize; 4]]) -> Result<(), ShapeError> {
    let x = shapes[node.inputs[0]];
    let [n, c, h, w] = x;
    let out = match &node.op {
        Op::Conv { conv, .. } => {
            let g = conv.geometry(h, w).ok_or(ShapeError::TooSmall)?;
            [n, conv.out_channels, g.out_h, g.out_w]
        }
        Op::Pool(pool) => {
            if h + 2 * pool.padding < pool.kernel || w + 2 * pool.padding < pool.kernel {
                return Err(ShapeError::TooSmall);
            }
            [n, c, pool.output_size(h), pool.output_size(w)]
        }
        Op::GlobalAvgPool | Op::GlobalMaxPool => [n, c, 1, 1],
        Op::Linear(linear) => [n, linear.out_features, 1, 1],
        Op::Act(_) | Op::BatchNorm(_) | Op::Softmax | Op::Identity | Op::ChannelShuffle { .. } => x,
        Op::Slice { len, .. } => [n, *len, h, w],
        Op::Upsample { factor } => [n, c, h * factor[0], w * factor[1]],
        Op::ResizeNearest => {
            let [_, _, like_h, like_w] = shapes[node.inputs[1]];
            [n, c, like_h, like_w]
        }
        Op::ReflectPad { pad } if *pad >= h || *pad >= w => return Err(ShapeError::TooSmall),
        Op::ReflectPad { pad } => [n, c, h + 2 * pad, w + 2 * pad],
        Op::Binary(_) | Op::ScaleAddAct { .. } => {
            for &other in &node.inputs[1..] {
                let [_, _, oh, ow] = shapes[other];
                if (oh, ow) != (h, w) && (oh, ow) != (1, 1) {
                    return Err(ShapeError::Node(GraphError::Node {
                        node: node.name.clone(),
                        message: format!("a {oh}×{ow} operand does not broadcast onto {h}×{w}"),
                    }));
                }
            }
            x
        }
        Op::Concat => {
            let mut out = x;
            out[1] = 0;
            for &part in &node.inputs {
                let [_, pc, ph, pw] = shapes[part];
                if (ph, pw) != (h, w) {
                    return Err(ShapeError::Node(GraphError::Node {
                        node: node.name.clone(),
                        message: format!("concatenates {ph}×{pw} planes with {h}×{w}"),
                    }));
                }
                out[1] += pc;
            }
            out
        }
    };
    shapes[node.outputs[0]] = out;
    if let Some(&mean) = node.outputs.get(1) {
        shapes[mean] = [out[0], out[1], 1, 1];
    }
    Ok(())
}

/// The two linear layers of a classic excitation (FC → act → FC → gate function).
#[derive(Clone, Copy, Debug)]
pub struct Excitation<'a> {
    pub fc1: &'a Linear,
    pub fc2: &'a Linear,
}
