use super::parallel::for_each_chunk;
use crate::engine::{SqueezeExcite, Tensor};

/// Output rows per parallel task of [`dense`]: the SE FCs of deep stages and the head read
/// megabytes of weights, worth splitting; the small ones stay one task.
const ROWS_PER_TASK: usize = 64;

/// The excitation on the squeezed vectors (`[batch, channels]`, the per-channel means):
/// FC → ReLU → FC → sigmoid; returns the gates, `[batch, channels]`.
pub fn excitation(squeezed: &[f32], se: &SqueezeExcite) -> Vec<f32> {
    squeezed
        .chunks_exact(se.channels)
        .flat_map(|z| excitation_steps(z, se).gates)
        .collect()
}

/// Every intermediate of one image's excitation (the teaching view shows each).
#[derive(Clone, Debug, PartialEq)]
pub struct ExcitationSteps {
    /// FC1 → ReLU: the reduced vector, `channels / r` values.
    pub hidden: Vec<f32>,
    /// FC2, before the sigmoid: unbounded, either sign.
    pub logits: Vec<f32>,
    /// sigmoid(logits): the gate, in (0, 1).
    pub gates: Vec<f32>,
}

/// The excitation of one squeezed vector `z` (`channels` values), step by step.
pub fn excitation_steps(z: &[f32], se: &SqueezeExcite) -> ExcitationSteps {
    let mut hidden = dense(&se.fc1_weight, &se.fc1_bias, z);
    hidden.iter_mut().for_each(|v| *v = v.max(0.0));
    let logits = dense(&se.fc2_weight, &se.fc2_bias, &hidden);
    let gates = logits.iter().map(|&v| sigmoid(v)).collect();
    ExcitationSteps {
        hidden,
        logits,
        gates,
    }
}

/// `relu(x · gate + shortcut)`, in place on `x`: the end of every SE residual block.
pub fn scale_add_relu(x: &mut Tensor, gates: Option<&[f32]>, shortcut: &Tensor) {
    let plane = x.shape[2] * x.shape[3];
    for_each_chunk(&mut x.data, plane, |channel, out| {
        let gate = gates.map_or(1.0, |g| g[channel]);
        let skip = &shortcut.data[channel * plane..(channel + 1) * plane];
        for (v, s) in out.iter_mut().zip(skip) {
            *v = (*v * gate + s).max(0.0);
        }
    });
}

/// `weight · x + bias` for a row-major `[out, in]` weight.
pub(super) fn dense(weight: &[f32], bias: &[f32], x: &[f32]) -> Vec<f32> {
    let mut out = bias.to_vec();
    for_each_chunk(&mut out, ROWS_PER_TASK, |task, rows| {
        let first = task * ROWS_PER_TASK;
        for (i, value) in rows.iter_mut().enumerate() {
            let row = first + i;
            *value += dot(&weight[row * x.len()..(row + 1) * x.len()], x);
        }
    });
    out
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
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
