use super::parallel::{for_each_chunk, for_each_chunk_reading};
use crate::engine::graph::Excitation;
use crate::engine::{with_formula, Activation, Linear, Tensor};

/// Output rows per parallel task of [`dense`]: the SE FCs of deep stages and the head read
/// megabytes of weights, worth splitting; the small ones stay one task.
const ROWS_PER_TASK: usize = 64;

/// A linear layer and its activation on every image of `x` (`in_features` values per image):
/// `[N, out, 1, 1]`.
pub fn linear(x: &Tensor, linear: &Linear) -> Tensor {
    let data = x
        .data
        .chunks_exact(linear.in_features)
        .flat_map(|features| dense(&linear.weight, &linear.bias, features, linear.act))
        .collect();
    Tensor::new([x.shape[0], linear.out_features, 1, 1], data)
}

/// Every intermediate of one image's excitation (the teaching view shows each).
#[derive(Clone, Debug, PartialEq)]
pub struct ExcitationSteps {
    /// FC1 → ReLU (SiLU in EfficientNet): the reduced vector, `channels / r` values.
    pub hidden: Vec<f32>,
    /// FC2, before the gate function: unbounded, either sign.
    pub logits: Vec<f32>,
    /// sigmoid(logits) (hard-sigmoid in MobileNetV3): the gate, in [0, 1].
    pub gates: Vec<f32>,
}

/// The classic excitation of one squeezed vector `z` (`channels` values), step by step: `fc1`
/// with its activation, then `fc2` before and after its (gate) activation.
pub fn excitation_steps(z: &[f32], excitation: Excitation) -> ExcitationSteps {
    let (fc1, fc2) = (excitation.fc1, excitation.fc2);
    let hidden = dense(&fc1.weight, &fc1.bias, z, fc1.act);
    let logits = dense(&fc2.weight, &fc2.bias, &hidden, Activation::None);
    let gates = logits.iter().map(|&v| fc2.act.apply(v)).collect();
    ExcitationSteps {
        hidden,
        logits,
        gates,
    }
}

/// `act(x · gate + shortcut)` in place on `x`, with `gates` `[N, C]` (one per channel plane):
/// the end of an SE ResNet block in one pass (ReLU), the scale alone (no shortcut, no
/// activation), or the residual add alone (no gates).
pub fn scale_add_act(
    x: &mut Tensor,
    gates: Option<&[f32]>,
    shortcut: Option<&Tensor>,
    act: Activation,
) {
    let plane = x.shape[2] * x.shape[3];
    for_each_chunk(&mut x.data, plane, |channel, out| {
        let gate = gates.map_or(1.0, |g| g[channel]);
        match shortcut {
            Some(shortcut) => {
                let skip = &shortcut.data[channel * plane..(channel + 1) * plane];
                with_formula!(act, f => out
                    .iter_mut()
                    .zip(skip)
                    .for_each(|(v, s)| *v = f(*v * gate + s)))
            }
            None => with_formula!(act, f => out.iter_mut().for_each(|v| *v = f(*v * gate))),
        }
    });
}

/// `act(weight · x + bias)` for a row-major `[out, in]` weight.
fn dense(weight: &[f32], bias: &[f32], x: &[f32], act: Activation) -> Vec<f32> {
    let mut out = bias.to_vec();
    for_each_chunk_reading(&mut out, ROWS_PER_TASK, x.len(), |task, rows| {
        let first = task * ROWS_PER_TASK;
        for (i, value) in rows.iter_mut().enumerate() {
            let row = first + i;
            *value = act.apply(*value + dot(&weight[row * x.len()..(row + 1) * x.len()], x));
        }
    });
    out
}

/// A dot product the compiler vectorises (eight independent accumulators, like `sum`).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}
