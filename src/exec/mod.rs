//! The one forward pass: [`Execution`] walks a [`Graph`] over any backend's [`Ops`].
//!
//! It owns everything a run means besides arithmetic: which nodes a run needs (an overridden
//! gate's excitation is skipped), the gate overrides themselves, the taps (every SE gate, the
//! feature map asked for), stepping by stages (the page's "block 3 of 17"), and buffer lifetimes
//! (a value is dropped, or handed back as a tap, right after its last reader; an in-place op
//! gets its input's buffer when nothing reads it later). The CPU (`cpu.rs`) and the GPU
//! (`gpu.rs`) only say how each op is computed.

pub mod cpu;
pub mod gpu;
pub mod region;

use crate::engine::graph::{BinaryOp, Graph, NodeId, Op, ValueId};
use crate::engine::{
    Activation, Conv2d, ExcitationTap, FeatureMapTap, GateOverride, Linear, Pool, RunError,
    RunOptions, RunOutput, Tensor,
};

/// How a backend computes each op. `T` is its tensor (host memory, a GPU buffer). Ops that take
/// `x: Self::Tensor` by value work in place on it. `node` identifies weights a backend keeps
/// per node (the GPU's uploaded copies).
pub trait Ops {
    type Tensor;
    type Error: From<RunError>;

    fn upload(&mut self, tensor: &Tensor) -> Result<Self::Tensor, Self::Error>;
    fn copy(&mut self, x: &Self::Tensor) -> Result<Self::Tensor, Self::Error>;
    /// Hands `x` back to the caller when the run finishes (in the order of the calls).
    fn read(&mut self, x: Self::Tensor);
    /// `x` is read no more: its memory may serve a later op's output.
    fn free(&mut self, x: Self::Tensor) {
        drop(x);
    }

    fn conv(
        &mut self,
        node: NodeId,
        conv: &Conv2d,
        act: Activation,
        x: &Self::Tensor,
    ) -> Result<Self::Tensor, Self::Error>;
    /// [`Ops::conv`] and the mean of every output plane (the SE squeeze).
    fn conv_squeezed(
        &mut self,
        node: NodeId,
        conv: &Conv2d,
        act: Activation,
        x: &Self::Tensor,
    ) -> Result<(Self::Tensor, Self::Tensor), Self::Error>;
    fn pool(&mut self, pool: &Pool, x: &Self::Tensor) -> Result<Self::Tensor, Self::Error>;
    fn global_avg_pool(&mut self, x: &Self::Tensor) -> Result<Self::Tensor, Self::Error>;
    fn global_max_pool(&mut self, x: &Self::Tensor) -> Result<Self::Tensor, Self::Error>;
    fn linear(
        &mut self,
        node: NodeId,
        linear: &Linear,
        x: &Self::Tensor,
    ) -> Result<Self::Tensor, Self::Error>;
    fn act(&mut self, act: Activation, x: Self::Tensor) -> Result<Self::Tensor, Self::Error>;
    /// `a ∘ b` in place on `a`; `b` is `a`'s shape or a per-channel vector.
    fn binary(
        &mut self,
        op: BinaryOp,
        a: Self::Tensor,
        b: &Self::Tensor,
    ) -> Result<Self::Tensor, Self::Error>;
    /// `act(x · gate + skip)` in place on `x`.
    fn scale_add_act(
        &mut self,
        x: Self::Tensor,
        gate: Option<&Self::Tensor>,
        skip: Option<&Self::Tensor>,
        act: Activation,
    ) -> Result<Self::Tensor, Self::Error>;
    /// The channels of `parts`, one after another.
    fn concat(&mut self, parts: &[&Self::Tensor]) -> Result<Self::Tensor, Self::Error>;
    /// `x` upsampled by whole factors `[down, across]`, nearest neighbour.
    fn upsample(
        &mut self,
        x: &Self::Tensor,
        factor: [usize; 2],
    ) -> Result<Self::Tensor, Self::Error>;
    /// Channels `start .. start + len` of `x`.
    fn slice(
        &mut self,
        x: &Self::Tensor,
        start: usize,
        len: usize,
    ) -> Result<Self::Tensor, Self::Error>;
    /// `x` resized to `like`'s height and width, nearest neighbour as PyTorch picks it.
    fn resize_nearest(
        &mut self,
        x: &Self::Tensor,
        like: &Self::Tensor,
    ) -> Result<Self::Tensor, Self::Error>;
    /// `x` padded by `pad` on every side with its reflection (PyTorch's `mode='reflect'`).
    fn reflect_pad(&mut self, x: &Self::Tensor, pad: usize) -> Result<Self::Tensor, Self::Error>;
    /// ShuffleNet's channel shuffle: output channel `j·groups + i` is input channel
    /// `i·(C / groups) + j`.
    fn channel_shuffle(
        &mut self,
        x: &Self::Tensor,
        groups: usize,
    ) -> Result<Self::Tensor, Self::Error>;
    /// Softmax over the channels of each image's vector.
    fn softmax(&mut self, x: &Self::Tensor) -> Result<Self::Tensor, Self::Error>;
}

/// What a value handed back with [`Ops::read`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tap {
    Logits,
    /// The gate of SE block `i` (`graph.se_blocks[i]`).
    Gate(usize),
    /// The input of SE block `i`, before its gate scales it.
    FeatureMap(usize),
}

/// One forward pass in progress.
pub struct Execution<'g, B: Ops> {
    graph: &'g Graph,
    ops: B,
    /// Every value while it lives.
    values: Vec<Option<B::Tensor>>,
    /// The nodes this run computes (an overridden gate's excitation is not).
    runs: Vec<bool>,
    /// Readers still to come, per value.
    readers: Vec<usize>,
    /// What a value is, if it is handed back when its last reader is done.
    taps: Vec<Option<Tap>>,
    /// The value whose copy is the feature map asked for.
    feature_map: Option<(ValueId, usize)>,
    /// What each `Ops::read` was, in order.
    reads: Vec<Tap>,
    next: NodeId,
    stage: usize,
}

impl<'g, B: Ops> Execution<'g, B> {
    /// Checks `options` against the graph's SE blocks, then uploads the input and the gate
    /// overrides; no node runs yet.
    pub fn new(
        graph: &'g Graph,
        mut ops: B,
        input: &Tensor,
        options: &RunOptions,
    ) -> Result<Self, B::Error> {
        options.check(graph.gate_widths())?;
        if let Some(node) = graph
            .nodes
            .iter()
            .find(|n| matches!(n.op, Op::BatchNorm(_)))
        {
            return Err(RunError::UnfoldedBatchNorm(node.name.clone()).into());
        }
        let batch = input.shape[0];
        let count = graph.values.len();
        let mut taps = vec![None; count];
        taps[graph.output] = Some(Tap::Logits);
        let mut given = vec![false; count];
        given[graph.input] = true;
        let mut values: Vec<Option<B::Tensor>> = (0..count).map(|_| None).collect();
        values[graph.input] = Some(ops.upload(input)?);
        for (i, se) in graph.se_blocks.iter().enumerate() {
            taps[se.gate] = Some(Tap::Gate(i));
            let shape = [batch, se.channels, 1, 1];
            let gate = match options.gate_overrides.get(&se.name) {
                None => continue,
                Some(GateOverride::Ones) => vec![1.0; batch * se.channels],
                Some(GateOverride::Values(gate)) => gate.repeat(batch),
            };
            values[se.gate] = Some(ops.upload(&Tensor::new(shape, gate))?);
            given[se.gate] = true;
        }
        let feature_map = options.feature_map.as_ref().and_then(|name| {
            let i = graph.se_blocks.iter().position(|se| &se.name == name)?;
            Some((graph.se_blocks[i].input, i))
        });

        // A node runs if a value it computes is needed and not given; its inputs are needed.
        let mut needed = vec![false; count];
        for (value, tap) in taps.iter().enumerate() {
            needed[value] |= tap.is_some();
        }
        if let Some((value, _)) = feature_map {
            needed[value] = true;
        }
        let mut runs = vec![false; graph.nodes.len()];
        let mut readers = vec![0; count];
        for (i, node) in graph.nodes.iter().enumerate().rev() {
            if node.outputs.iter().any(|&v| needed[v] && !given[v]) {
                runs[i] = true;
                for &input in &node.inputs {
                    needed[input] = true;
                    readers[input] += 1;
                }
            }
        }
        let mut execution = Self {
            graph,
            ops,
            values,
            runs,
            readers,
            taps,
            feature_map,
            reads: Vec::new(),
            next: 0,
            stage: 0,
        };
        // The input may be the feature map, and a given gate may be read by nothing.
        execution.produced(graph.input)?;
        for se in &graph.se_blocks {
            if given[se.gate] {
                execution.produced(se.gate)?;
            }
        }
        Ok(execution)
    }

    /// `(stages done, stages in all)`.
    pub fn progress(&self) -> (usize, usize) {
        (self.stage, self.graph.stages.len())
    }

    /// Runs the next stage; `false` once every stage has run.
    pub fn step(&mut self) -> Result<bool, B::Error> {
        let Some(stage) = self.graph.stages.get(self.stage) else {
            return Ok(false);
        };
        while self.next < stage.end {
            if self.runs[self.next] {
                self.run_node(self.next)?;
            }
            self.next += 1;
        }
        self.stage += 1;
        Ok(true)
    }

    /// Runs what is left; returns the backend, to finish its reads, and what they are.
    pub fn run_to_end(mut self) -> Result<(B, Pending), B::Error> {
        while self.step()? {}
        let pending = Pending {
            reads: self.reads,
            names: self.graph.se_block_names(),
        };
        Ok((self.ops, pending))
    }

    fn run_node(&mut self, id: NodeId) -> Result<(), B::Error> {
        let graph = self.graph;
        let node = &graph.nodes[id];
        let squeeze = node.outputs.len() > 1 && self.runs_needed(node.outputs[1]);
        let input = |i: usize| node.inputs[i];
        let outputs = match &node.op {
            // In place: the first input's buffer becomes the output's when nothing else reads it.
            Op::Act(act) => {
                let x = self.take_for_writing(input(0))?;
                vec![self.ops.act(*act, x)?]
            }
            Op::Binary(op) => {
                let a = self.take_for_writing(input(0))?;
                let b = self.values[input(1)].as_ref().expect("defined before use");
                vec![self.ops.binary(*op, a, b)?]
            }
            Op::ScaleAddAct { gate, skip, act } => {
                let x = self.take_for_writing(input(0))?;
                let mut rest = node.inputs[1..].iter().map(|&v| self.values[v].as_ref());
                let gate = if *gate { rest.next().flatten() } else { None };
                let skip = if *skip { rest.next().flatten() } else { None };
                vec![self.ops.scale_add_act(x, gate, skip, *act)?]
            }
            // Into a new tensor.
            op => {
                let Self { values, ops, .. } = self;
                let x = values[input(0)].as_ref().expect("defined before use");
                match op {
                    Op::Conv { conv, act, .. } if squeeze => {
                        let (y, mean) = ops.conv_squeezed(id, conv, *act, x)?;
                        vec![y, mean]
                    }
                    Op::Conv { conv, act, .. } => vec![ops.conv(id, conv, *act, x)?],
                    Op::Pool(pool) => vec![ops.pool(pool, x)?],
                    Op::GlobalAvgPool => vec![ops.global_avg_pool(x)?],
                    Op::GlobalMaxPool => vec![ops.global_max_pool(x)?],
                    Op::Linear(linear) => vec![ops.linear(id, linear, x)?],
                    Op::Concat => {
                        let parts: Vec<&B::Tensor> = node
                            .inputs
                            .iter()
                            .map(|&v| values[v].as_ref().expect("defined before use"))
                            .collect();
                        vec![ops.concat(&parts)?]
                    }
                    Op::Slice { start, len } => vec![ops.slice(x, *start, *len)?],
                    Op::Upsample { factor } => vec![ops.upsample(x, *factor)?],
                    Op::ReflectPad { pad } => vec![ops.reflect_pad(x, *pad)?],
                    Op::ResizeNearest => {
                        let like = values[input(1)].as_ref().expect("defined before use");
                        vec![ops.resize_nearest(x, like)?]
                    }
                    Op::Softmax => vec![ops.softmax(x)?],
                    Op::ChannelShuffle { groups } => vec![ops.channel_shuffle(x, *groups)?],
                    Op::Identity => vec![ops.copy(x)?],
                    Op::Act(_) | Op::Binary(_) | Op::ScaleAddAct { .. } => {
                        unreachable!("in-place ops are matched above")
                    }
                    Op::BatchNorm(_) => unreachable!("Execution::new refuses unfolded BatchNorms"),
                }
            }
        };
        for &input in &node.inputs {
            self.readers[input] -= 1;
            if self.readers[input] == 0 {
                self.release(input);
            }
        }
        for (&v, tensor) in node.outputs.iter().zip(outputs) {
            self.values[v] = Some(tensor);
            self.produced(v)?;
        }
        Ok(())
    }

    /// Whether value `v` is read by a node of this run or is a tap.
    fn runs_needed(&self, v: ValueId) -> bool {
        self.readers[v] > 0 || self.taps[v].is_some()
    }

    /// `x` for an op that overwrites it: its own buffer when this is its last reader and it is
    /// no tap, else a copy.
    fn take_for_writing(&mut self, x: ValueId) -> Result<B::Tensor, B::Error> {
        if self.readers[x] == 1 && self.taps[x].is_none() {
            // Its count drops to 0 after this node; releasing it then finds nothing.
            return Ok(self.values[x].take().expect("defined before use"));
        }
        let value = self.values[x].as_ref().expect("defined before use");
        self.ops.copy(value)
    }

    /// After `v` is computed: copies the feature map, and releases a value nothing reads.
    fn produced(&mut self, v: ValueId) -> Result<(), B::Error> {
        if let Some((map, se)) = self.feature_map {
            if map == v {
                let copy = self
                    .ops
                    .copy(self.values[v].as_ref().expect("just computed"))?;
                self.ops.read(copy);
                self.reads.push(Tap::FeatureMap(se));
            }
        }
        if self.readers[v] == 0 {
            self.release(v);
        }
        Ok(())
    }

    /// `v` has no reader left: hand it back if it is a tap, else free it.
    fn release(&mut self, v: ValueId) {
        let Some(value) = self.values[v].take() else {
            return;
        };
        if let Some(tap) = self.taps[v] {
            self.ops.read(value);
            self.reads.push(tap);
        } else {
            self.ops.free(value);
        }
    }
}

/// What a finished run's reads are; [`Pending::output`] turns them into the run's output.
pub struct Pending {
    reads: Vec<Tap>,
    names: Vec<String>,
}

impl Pending {
    /// The output from `tensors`, the backend's reads in order.
    pub fn output(self, tensors: Vec<Tensor>) -> Result<RunOutput, String> {
        if tensors.len() != self.reads.len() {
            return Err(format!(
                "{} results came back, {} were asked for",
                tensors.len(),
                self.reads.len()
            ));
        }
        let mut logits = None;
        let mut gates = Vec::new();
        let mut feature_map = None;
        for (tap, tensor) in self.reads.into_iter().zip(tensors) {
            match tap {
                Tap::Logits => logits = Some(tensor.data),
                Tap::Gate(i) => gates.push((i, tensor.data)),
                Tap::FeatureMap(i) => {
                    feature_map = Some(FeatureMapTap {
                        block: self.names[i].clone(),
                        map: tensor,
                    })
                }
            }
        }
        gates.sort_by_key(|(i, _)| *i);
        Ok(RunOutput {
            logits: logits.ok_or("the logits did not come back")?,
            excitations: gates
                .into_iter()
                .map(|(i, values)| ExcitationTap {
                    block: self.names[i].clone(),
                    values,
                })
                .collect(),
            feature_map,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::cpu::CpuOps;
    use super::*;
    use crate::engine::{passes, GraphBuilder, Padding};

    /// The CPU's ops, counting what the executor asks for.
    #[derive(Default)]
    struct Counting {
        cpu: CpuOps,
        calls: Vec<&'static str>,
    }

    macro_rules! counted {
        ($self:ident, $name:literal, $call:expr) => {{
            $self.calls.push($name);
            $call
        }};
    }

    impl Ops for Counting {
        type Tensor = Tensor;
        type Error = RunError;
        fn upload(&mut self, t: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "upload", self.cpu.upload(t))
        }
        fn copy(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "copy", self.cpu.copy(x))
        }
        fn read(&mut self, x: Tensor) {
            self.cpu.read(x)
        }
        fn conv(
            &mut self,
            n: NodeId,
            c: &Conv2d,
            a: Activation,
            x: &Tensor,
        ) -> Result<Tensor, RunError> {
            counted!(self, "conv", self.cpu.conv(n, c, a, x))
        }
        fn conv_squeezed(
            &mut self,
            n: NodeId,
            c: &Conv2d,
            a: Activation,
            x: &Tensor,
        ) -> Result<(Tensor, Tensor), RunError> {
            counted!(self, "conv_squeezed", self.cpu.conv_squeezed(n, c, a, x))
        }
        fn pool(&mut self, p: &Pool, x: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "pool", self.cpu.pool(p, x))
        }
        fn global_avg_pool(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "global_avg_pool", self.cpu.global_avg_pool(x))
        }
        fn global_max_pool(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "global_max_pool", self.cpu.global_max_pool(x))
        }
        fn linear(&mut self, n: NodeId, l: &Linear, x: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "linear", self.cpu.linear(n, l, x))
        }
        fn act(&mut self, a: Activation, x: Tensor) -> Result<Tensor, RunError> {
            counted!(self, "act", self.cpu.act(a, x))
        }
        fn binary(&mut self, op: BinaryOp, a: Tensor, b: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "binary", self.cpu.binary(op, a, b))
        }
        fn scale_add_act(
            &mut self,
            x: Tensor,
            g: Option<&Tensor>,
            s: Option<&Tensor>,
            a: Activation,
        ) -> Result<Tensor, RunError> {
            counted!(self, "scale_add_act", self.cpu.scale_add_act(x, g, s, a))
        }
        fn concat(&mut self, parts: &[&Tensor]) -> Result<Tensor, RunError> {
            counted!(self, "concat", self.cpu.concat(parts))
        }
        fn upsample(&mut self, x: &Tensor, factor: [usize; 2]) -> Result<Tensor, RunError> {
            counted!(self, "upsample", self.cpu.upsample(x, factor))
        }
        fn slice(&mut self, x: &Tensor, start: usize, len: usize) -> Result<Tensor, RunError> {
            counted!(self, "slice", self.cpu.slice(x, start, len))
        }
        fn resize_nearest(&mut self, x: &Tensor, like: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "resize_nearest", self.cpu.resize_nearest(x, like))
        }
        fn reflect_pad(&mut self, x: &Tensor, pad: usize) -> Result<Tensor, RunError> {
            counted!(self, "reflect_pad", self.cpu.reflect_pad(x, pad))
        }
        fn channel_shuffle(&mut self, x: &Tensor, groups: usize) -> Result<Tensor, RunError> {
            counted!(self, "channel_shuffle", self.cpu.channel_shuffle(x, groups))
        }
        fn softmax(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
            counted!(self, "softmax", self.cpu.softmax(x))
        }
    }

    /// conv → SE (pool, FC, ReLU, FC, sigmoid, scale) → pool → head, fused.
    fn se_graph() -> Graph {
        let linear = |i: usize, o: usize| {
            Op::Linear(Linear {
                in_features: i,
                out_features: o,
                weight: (0..i * o).map(|k| (k % 7) as f32 * 0.1 - 0.3).collect(),
                bias: vec![0.1; o],
                act: Activation::None,
            })
        };
        let conv = Conv2d {
            in_channels: 3,
            out_channels: 4,
            kernel: 3,
            stride: 1,
            dilation: 1,
            padding: Padding::Symmetric(1),
            groups: 1,
            weight: (0..4 * 3 * 9).map(|k| (k % 5) as f32 * 0.1 - 0.2).collect(),
            bias: vec![0.0; 4],
            winograd: Default::default(),
        };
        let mut b = GraphBuilder::new(3);
        let x = b.input();
        let node = |b: &mut GraphBuilder, name: &str, op, inputs: &[ValueId]| {
            b.node(name, op, inputs).expect("a valid node")
        };
        let conv = Op::Conv {
            conv,
            act: Activation::None,
            squeeze: false,
        };
        let y = node(&mut b, "conv", conv, &[x]);
        let y = node(&mut b, "relu", Op::Act(Activation::Relu), &[y]);
        let z = node(&mut b, "se.pool", Op::GlobalAvgPool, &[y]);
        let h = node(&mut b, "se.fc1", linear(4, 2), &[z]);
        let h = node(&mut b, "se.act", Op::Act(Activation::Relu), &[h]);
        let g = node(&mut b, "se.fc2", linear(2, 4), &[h]);
        let g = node(&mut b, "se.gate", Op::Act(Activation::Sigmoid), &[g]);
        b.se_block("se", y, g);
        let s = node(&mut b, "se.scale", Op::Binary(BinaryOp::Mul), &[y, g]);
        let p = node(&mut b, "pool", Op::GlobalAvgPool, &[s]);
        let logits = node(&mut b, "head", linear(4, 3), &[p]);
        b.end_stage("block");
        passes::optimize(b.finish(logits))
    }

    fn calls(graph: &Graph, options: &RunOptions) -> (Vec<&'static str>, RunOutput) {
        let input = Tensor::pattern([1, 3, 6, 5]);
        let run = Execution::new(graph, Counting::default(), &input, options).expect("valid");
        let (ops, pending) = run.run_to_end().expect("a run");
        let output = pending.output(ops.cpu_reads()).expect("every read");
        (ops.calls, output)
    }

    impl Counting {
        fn cpu_reads(&self) -> Vec<Tensor> {
            self.cpu.reads_so_far().to_vec()
        }
    }

    #[test]
    fn a_run_computes_only_what_it_needs_and_writes_in_place() {
        let graph = se_graph();
        let (normal, output) = calls(&graph, &RunOptions::default());
        // The squeeze summed in the conv, the scale in place on its output: no copy.
        assert_eq!(
            normal,
            [
                "upload",
                "conv_squeezed",
                "linear",
                "linear",
                "scale_add_act",
                "global_avg_pool",
                "linear"
            ]
        );
        assert_eq!(output.excitations[0].values.len(), 4);
        // Ablated: the gate is uploaded, its excitation never runs, the conv skips the squeeze.
        let ablated = RunOptions {
            gate_overrides: [("se".to_string(), GateOverride::Ones)].into(),
            ..RunOptions::default()
        };
        let (calls_ablated, output) = calls(&graph, &ablated);
        assert_eq!(
            calls_ablated,
            [
                "upload",
                "upload",
                "conv",
                "scale_add_act",
                "global_avg_pool",
                "linear"
            ]
        );
        assert_eq!(output.excitations[0].values, [1.0; 4]);
        // The feature map is copied once, before the scale overwrites it.
        let tapped = RunOptions {
            feature_map: Some("se".into()),
            ..RunOptions::default()
        };
        let (calls_tapped, output) = calls(&graph, &tapped);
        assert_eq!(calls_tapped.iter().filter(|&&c| c == "copy").count(), 1);
        assert_eq!(output.feature_map.expect("the tap").map.shape, [1, 4, 6, 5]);
    }
}
