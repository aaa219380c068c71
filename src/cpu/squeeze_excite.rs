use super::global_avg_pool;
use super::parallel::for_each_chunk;
use crate::engine::{SqueezeExcite, Tensor};

/// The excitation: squeeze → FC → ReLU → FC → sigmoid; returns the gates, `[batch, channels]`.
pub fn excitation(input: &Tensor, se: &SqueezeExcite) -> Vec<f32> {
    let squeezed = global_avg_pool(input);
    squeezed
        .data
        .chunks_exact(se.channels)
        .flat_map(|z| {
            let hidden: Vec<f32> = dense(&se.fc1_weight, &se.fc1_bias, z)
                .map(|v| v.max(0.0))
                .collect();
            dense(&se.fc2_weight, &se.fc2_bias, &hidden)
                .map(sigmoid)
                .collect::<Vec<_>>()
        })
        .collect()
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
pub(super) fn dense<'a>(
    weight: &'a [f32],
    bias: &'a [f32],
    x: &'a [f32],
) -> impl Iterator<Item = f32> + 'a {
    weight
        .chunks_exact(x.len())
        .zip(bias)
        .map(move |(row, b)| dot(row, x) + b)
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
