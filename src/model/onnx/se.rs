//! SE blocks found by what they compute, in the lowered graph (before any fusion): a value `x`
//! scaled per channel by a gate computed from `x` itself.
//!
//! `x · gate` is an SE block when `gate` is a sigmoid or hard sigmoid of one or two linear
//! layers (1×1 convolutions and Gemm/MatMul both lower to them), with optional BatchNorms and
//! activations between, of the mean of every plane of that same `x` (with, optionally, the max
//! of every plane beside it: summed with the mean, or run through the same layers and summed
//! after them). So SiLU (`x · sigmoid(x)`, no squeeze) is not one, nor a multiply whose gate
//! comes from another value.

use crate::engine::graph::{Graph, Node, Op, ValueId};
use crate::engine::{Activation, BinaryOp};

/// A multiply the graph scales by an SE gate: its node, the scaled value, and the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub node: usize,
    pub input: ValueId,
    pub gate: ValueId,
}

/// Every SE multiply of `graph`, in graph order.
pub fn find(graph: &Graph) -> Vec<Found> {
    let mut producer = vec![None; graph.values.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        for &v in &node.outputs {
            producer[v] = Some(i);
        }
    }
    let node_of = |v: ValueId| producer[v].map(|i: usize| &graph.nodes[i]);
    graph
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, node)| {
            let (Op::Binary(BinaryOp::Mul), [x, gate]) = (&node.op, &node.inputs[..]) else {
                return None;
            };
            let (xi, gi) = (graph.values[*x], graph.values[*gate]);
            let shapes_fit = !xi.vector && gi.vector && xi.channels == gi.channels;
            (shapes_fit && gate_of(node_of, *gate) == Some(*x)).then_some(Found {
                node: i,
                input: *x,
                gate: *gate,
            })
        })
        .collect()
}

/// The value whose planes `gate` is computed from, when it is an SE gate.
fn gate_of<'g>(node_of: impl Fn(ValueId) -> Option<&'g Node>, gate: ValueId) -> Option<ValueId> {
    let last = node_of(gate)?;
    if !matches!(
        last.op,
        Op::Act(Activation::Sigmoid | Activation::HardSigmoid)
    ) {
        return None;
    }
    let squeeze = squeeze_of(&node_of, last.inputs[0], 0)?;
    (squeeze.mean && (1..=2).contains(&squeeze.linears)).then_some(squeeze.input)
}

/// Where an excitation value's walk back ends: the squeezed value.
struct Squeeze {
    input: ValueId,
    /// The most linear layers on a path from the squeeze.
    linears: usize,
    /// Whether a mean is among the squeezes (a max alone is not an SE squeeze).
    mean: bool,
}

/// Walks back from `value` through linear layers, BatchNorms and activations to the squeeze,
/// and through a sum of two branches that squeeze the same value: a mean and a max, summed
/// before the linear layers (timm's `add_maxpool`) or after them (CBAM's channel attention).
fn squeeze_of<'g>(
    node_of: &impl Fn(ValueId) -> Option<&'g Node>,
    value: ValueId,
    linears: usize,
) -> Option<Squeeze> {
    let node = node_of(value)?;
    let input = node.inputs[0];
    match &node.op {
        Op::GlobalAvgPool | Op::GlobalMaxPool => Some(Squeeze {
            input,
            linears,
            mean: matches!(node.op, Op::GlobalAvgPool),
        }),
        Op::Linear(_) => squeeze_of(node_of, input, linears + 1),
        Op::Conv { conv, .. } if conv.kernel == 1 => squeeze_of(node_of, input, linears + 1),
        Op::BatchNorm(_) | Op::Act(_) | Op::Identity => squeeze_of(node_of, input, linears),
        Op::Binary(BinaryOp::Add) => {
            let a = squeeze_of(node_of, input, linears)?;
            let b = squeeze_of(node_of, node.inputs[1], linears)?;
            (a.input == b.input).then_some(Squeeze {
                input: a.input,
                linears: a.linears.max(b.linears),
                mean: a.mean || b.mean,
            })
        }
        _ => None,
    }
}
