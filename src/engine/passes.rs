//! Graph rewrites that make a graph cheaper to run without changing what it computes.
//!
//! Builders and importers emit plain ops (a convolution, then its BatchNorm and activation; a
//! multiply, then an add); [`optimize`] fuses them into the ops the kernels run in one pass:
//! - a `BatchNorm` after a `Conv` or `Linear` is folded into its weights (in f64); any other
//!   becomes a per-channel affine, a depthwise 1×1 convolution;
//! - `Act` after a `Conv`, `Linear` or `ScaleAddAct` becomes that op's activation;
//! - `Mul` by a per-channel vector becomes a `ScaleAddAct` scale, `Add` of two same-shape
//!   values its skip, and a scale followed by an add (an SE ResNet block's end) one op;
//! - a `GlobalAvgPool` of a convolution's output that is also read elsewhere (an SE squeeze)
//!   is summed in the convolution's epilogue (`Conv { squeeze: true }`, two outputs);
//! - identities and nodes nothing reads are dropped.
//!
//! A fusion never removes a value an SE block annotates or the output.

use super::graph::{BatchNorm, BinaryOp, Graph, Node, Op, ValueId};
use super::{Activation, Conv2d, Padding};

/// Every rewrite, in an order where each enables the next.
pub fn optimize(mut graph: Graph) -> Graph {
    remove_identities(&mut graph);
    eliminate_dead(&mut graph);
    fold_batch_norms(&mut graph);
    rewrite_binaries(&mut graph);
    merge_scale_then_add(&mut graph);
    merge_activations(&mut graph);
    squeeze_in_conv(&mut graph);
    graph
}

/// Values a rewrite must keep: the output and every SE block's input and gate.
fn protected(graph: &Graph) -> Vec<bool> {
    let mut keep = vec![false; graph.values.len()];
    keep[graph.output] = true;
    for se in &graph.se_blocks {
        keep[se.input] = true;
        keep[se.gate] = true;
    }
    keep
}

/// Removes the nodes marked `None`, keeping every stage's span over the nodes that remain.
fn compact(graph: &mut Graph, nodes: Vec<Option<Node>>) {
    for stage in &mut graph.stages {
        stage.end = nodes[..stage.end].iter().flatten().count();
    }
    graph.nodes = nodes.into_iter().flatten().collect();
    graph
        .stages
        .dedup_by(|later, earlier| later.end == earlier.end);
}

/// Reads an identity's input wherever its output was read (nodes, the output, SE annotations).
fn remove_identities(graph: &mut Graph) {
    let mut source: Vec<ValueId> = (0..graph.values.len()).collect();
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    for mut node in std::mem::take(&mut graph.nodes) {
        node.inputs.iter_mut().for_each(|v| *v = source[*v]);
        match node.op {
            Op::Identity => {
                source[node.outputs[0]] = node.inputs[0];
                nodes.push(None);
            }
            _ => nodes.push(Some(node)),
        }
    }
    graph.output = source[graph.output];
    for se in &mut graph.se_blocks {
        se.input = source[se.input];
        se.gate = source[se.gate];
    }
    compact(graph, nodes);
}

/// Drops nodes none of whose outputs is read, the output, or annotated.
fn eliminate_dead(graph: &mut Graph) {
    let mut read = protected(graph);
    let mut nodes: Vec<Option<Node>> = std::mem::take(&mut graph.nodes)
        .into_iter()
        .map(Some)
        .collect();
    for slot in nodes.iter_mut().rev() {
        let node = slot.as_ref().expect("not yet removed");
        if node.outputs.iter().any(|&v| read[v]) {
            node.inputs.iter().for_each(|&v| read[v] = true);
        } else {
            *slot = None;
        }
    }
    compact(graph, nodes);
}

/// A BatchNorm after a convolution or linear layer (with no activation yet) that only it reads
/// is folded into its weights: `w' = w·scale`, `b' = b·scale + shift`; any other BatchNorm
/// becomes a depthwise 1×1 convolution with `scale` as weights and `shift` as bias.
fn fold_batch_norms(graph: &mut Graph) {
    merge_pairs(graph, |producer, consumer| {
        let Op::BatchNorm(bn) = &consumer.op else {
            return false;
        };
        match &mut producer.op {
            Op::Conv {
                conv,
                act: Activation::None,
                squeeze: false,
            } => {
                let per_output = conv.weight.len() / conv.out_channels;
                fold(bn, &mut conv.weight, &mut conv.bias, per_output);
            }
            Op::Linear(linear) if linear.act == Activation::None => {
                fold(bn, &mut linear.weight, &mut linear.bias, linear.in_features);
            }
            _ => return false,
        }
        true
    });
    for node in &mut graph.nodes {
        if let Op::BatchNorm(bn) = &node.op {
            let (weight, bias) = bn.scale_shift().map(|(s, t)| (s as f32, t as f32)).unzip();
            let channels = bn.gamma.len();
            node.op = Op::Conv {
                conv: Conv2d {
                    in_channels: channels,
                    out_channels: channels,
                    kernel: 1,
                    stride: 1,
                    dilation: 1,
                    padding: Padding::Symmetric(0),
                    groups: channels,
                    weight,
                    bias,
                    winograd: Default::default(),
                },
                act: Activation::None,
                squeeze: false,
            };
        }
    }
}

/// Folds `bn` into a layer's `weight` (`per_output` values per output channel) and `bias`.
fn fold(bn: &BatchNorm, weight: &mut [f32], bias: &mut [f32], per_output: usize) {
    for ((row, b), (scale, shift)) in weight
        .chunks_exact_mut(per_output)
        .zip(bias.iter_mut())
        .zip(bn.scale_shift())
    {
        row.iter_mut()
            .for_each(|w| *w = (f64::from(*w) * scale) as f32);
        *b = (f64::from(*b) * scale + shift) as f32;
    }
}

/// `Mul(x, per-channel gate)` → a scale; `Add(a, b)` of same-shape values → an add with skip.
fn rewrite_binaries(graph: &mut Graph) {
    for node in &mut graph.nodes {
        let Op::Binary(op) = node.op else { continue };
        let [a, b] = [node.inputs[0], node.inputs[1]];
        let (va, vb) = (graph.values[a].vector, graph.values[b].vector);
        node.op = match (op, va, vb) {
            (BinaryOp::Mul, false, true) => scale(),
            (BinaryOp::Add, false, false) => Op::ScaleAddAct {
                gate: false,
                skip: true,
                act: Activation::None,
            },
            _ => continue,
        };
    }
}

fn scale() -> Op {
    Op::ScaleAddAct {
        gate: true,
        skip: false,
        act: Activation::None,
    }
}

/// The node computing each value (its index in `nodes`), for single-output nodes.
fn producers(nodes: &[Option<Node>], values: usize) -> Vec<Option<usize>> {
    let mut producer = vec![None; values];
    for (i, node) in nodes.iter().enumerate() {
        if let Some(Node { outputs, .. }) = node {
            if let [output] = outputs[..] {
                producer[output] = Some(i);
            }
        }
    }
    producer
}

/// Runs `merge(producer, consumer)` on every pair where the consumer's first input is computed
/// by the producer and read nowhere else (and may disappear: not annotated, not the output).
/// A merge that returns `true` has rewritten the producer to do both; it then takes the
/// consumer's place (where every input is defined) and outputs, and the consumer is gone. Nodes
/// move, weights are never copied.
fn merge_pairs(graph: &mut Graph, merge: impl Fn(&mut Node, &Node) -> bool) {
    let readers = graph.readers();
    let keep = protected(graph);
    let mut nodes: Vec<Option<Node>> = std::mem::take(&mut graph.nodes)
        .into_iter()
        .map(Some)
        .collect();
    let producer_of = producers(&nodes, graph.values.len());
    for c in 0..nodes.len() {
        let Some(consumer) = nodes[c].take() else {
            continue;
        };
        let x = consumer.inputs[0];
        let producer = producer_of[x].filter(|_| readers[x] == 1 && !keep[x]);
        let merged = producer.filter(|&p| nodes[p].as_mut().is_some_and(|n| merge(n, &consumer)));
        let Some(merged) = merged else {
            nodes[c] = Some(consumer);
            continue;
        };
        let mut node = nodes[merged].take().expect("just merged");
        node.outputs = consumer.outputs;
        nodes[c] = Some(node);
    }
    compact(graph, nodes);
}

/// A scale whose only reader adds a skip: `act(x · gate + skip)` in one node.
fn merge_scale_then_add(graph: &mut Graph) {
    merge_pairs(graph, |producer, consumer| {
        let (
            Op::ScaleAddAct {
                gate: true,
                skip: false,
                act: Activation::None,
            },
            Op::ScaleAddAct {
                gate: false,
                skip: true,
                act,
            },
        ) = (&producer.op, &consumer.op)
        else {
            return false;
        };
        producer.op = Op::ScaleAddAct {
            gate: true,
            skip: true,
            act: *act,
        };
        producer.inputs.push(consumer.inputs[1]);
        producer.name = consumer.name.clone();
        true
    });
}

/// An activation whose input only it reads, computed by an op with an activation slot.
fn merge_activations(graph: &mut Graph) {
    merge_pairs(graph, |producer, consumer| {
        let Op::Act(new) = consumer.op else {
            return false;
        };
        let slot = match &mut producer.op {
            Op::Conv {
                act,
                squeeze: false,
                ..
            } => act,
            Op::Linear(linear) => &mut linear.act,
            Op::ScaleAddAct { act, .. } => act,
            _ => return false,
        };
        if *slot != Activation::None {
            return false;
        }
        *slot = new;
        true
    });
}

/// A global average pool of a convolution's output that something else reads too (the SE
/// squeeze next to the scale): the convolution sums it while writing its output.
fn squeeze_in_conv(graph: &mut Graph) {
    let readers = graph.readers();
    let mut nodes: Vec<Option<Node>> = std::mem::take(&mut graph.nodes)
        .into_iter()
        .map(Some)
        .collect();
    let producer_of = producers(&nodes, graph.values.len());
    for c in 0..nodes.len() {
        let Some(Node {
            op: Op::GlobalAvgPool,
            inputs,
            outputs,
            ..
        }) = &nodes[c]
        else {
            continue;
        };
        let (y, mean): (ValueId, ValueId) = (inputs[0], outputs[0]);
        if readers[y] < 2 {
            continue;
        }
        let Some(p) = producer_of[y] else {
            continue;
        };
        if let Some(Node {
            op: Op::Conv { squeeze, .. },
            outputs,
            ..
        }) = &mut nodes[p]
        {
            *squeeze = true;
            outputs.push(mean);
            nodes[c] = None;
        }
    }
    compact(graph, nodes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::graph::GraphBuilder;
    use crate::engine::{Conv2d, Linear, Padding};

    fn conv(channels: usize) -> Op {
        Op::Conv {
            conv: Conv2d {
                in_channels: channels,
                out_channels: channels,
                kernel: 1,
                stride: 1,
                dilation: 1,
                padding: Padding::Symmetric(0),
                groups: 1,
                weight: vec![1.0; channels * channels],
                bias: vec![0.0; channels],
                winograd: Default::default(),
            },
            act: Activation::None,
            squeeze: false,
        }
    }

    fn linear(features: usize) -> Op {
        Op::Linear(Linear {
            in_features: features,
            out_features: features,
            weight: vec![0.5; features * features],
            bias: vec![0.0; features],
            act: Activation::None,
        })
    }

    /// An SE ResNet block as a builder emits it, fused into the ops the CPU path always ran.
    #[test]
    fn an_se_resnet_block_fuses_into_three_nodes_and_its_excitation() {
        let mut b = GraphBuilder::new(4);
        let x = b.input();
        let c = b.node("conv", conv(4), &[x]).unwrap();
        let y = b.node("act", Op::Act(Activation::Relu), &[c]).unwrap();
        let z = b.node("se.pool", Op::GlobalAvgPool, &[y]).unwrap();
        let h = b.node("se.fc1", linear(4), &[z]).unwrap();
        let h = b.node("se.act", Op::Act(Activation::Relu), &[h]).unwrap();
        let g = b.node("se.fc2", linear(4), &[h]).unwrap();
        let g = b
            .node("se.gate", Op::Act(Activation::Sigmoid), &[g])
            .unwrap();
        let s = b
            .node("se.mul", Op::Binary(BinaryOp::Mul), &[g, y])
            .unwrap();
        b.se_block("se", y, g);
        let unused = b.node("unused", conv(4), &[x]).unwrap();
        let _ = unused;
        let a = b.node("add", Op::Binary(BinaryOp::Add), &[s, x]).unwrap();
        let out = b.node("relu", Op::Act(Activation::Relu), &[a]).unwrap();
        b.end_stage("block");
        let graph = optimize(b.finish(out));
        let ops: Vec<String> = graph
            .nodes
            .iter()
            .map(|n| {
                format!("{} {:?}", n.name, n.op)
                    .split(['{', '('])
                    .next()
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect();
        assert_eq!(
            ops,
            [
                "conv Conv",
                "se.fc1 Linear",
                "se.fc2 Linear",
                "add ScaleAddAct"
            ]
        );
        assert!(matches!(
            graph.nodes[0].op,
            Op::Conv {
                act: Activation::Relu,
                squeeze: true,
                ..
            }
        ));
        assert_eq!(graph.nodes[0].outputs, [y, z]);
        assert!(matches!(
            graph.nodes[3].op,
            Op::ScaleAddAct {
                gate: true,
                skip: true,
                act: Activation::Relu
            }
        ));
        assert_eq!(graph.nodes[3].inputs, [y, g, x]);
        assert_eq!(graph.nodes[3].outputs, [out]);
        let se = &graph.se_blocks[0];
        let excitation = graph.excitation(se).expect("two linear layers");
        assert_eq!(excitation.fc1.act, Activation::Relu);
        assert_eq!(excitation.fc2.act, Activation::Sigmoid);
        assert_eq!(graph.stages[0].end, 4);
    }
}
