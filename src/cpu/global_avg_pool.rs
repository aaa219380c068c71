use super::parallel::for_each_chunk_reading;
use crate::engine::Tensor;

/// Channels per parallel task: enough work per task to amortise scheduling.
const CHANNELS_PER_TASK: usize = 16;

/// The SE "squeeze": the mean of every channel plane, `[N, C, H, W]` → `[N, C, 1, 1]`.
pub fn global_avg_pool(input: &Tensor) -> Tensor {
    let plane = input.shape[2] * input.shape[3];
    per_plane(input, |values| sum(values) / plane as f32)
}

/// The max of every channel plane, `[N, C, H, W]` → `[N, C, 1, 1]` (the squeeze of SE blocks
/// that add a max to the mean, and of CBAM's channel attention).
pub fn global_max_pool(input: &Tensor) -> Tensor {
    per_plane(input, |values| {
        values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    })
}

/// `reduce` of every channel plane, `[N, C, H, W]` → `[N, C, 1, 1]`.
fn per_plane(input: &Tensor, reduce: impl Fn(&[f32]) -> f32 + Sync) -> Tensor {
    let [n, c, h, w] = input.shape;
    let plane = h * w;
    let mut reduced = vec![0.0f32; n * c];
    for_each_chunk_reading(&mut reduced, CHANNELS_PER_TASK, plane, |task, out| {
        for (i, value) in out.iter_mut().enumerate() {
            let start = (task * CHANNELS_PER_TASK + i) * plane;
            *value = reduce(&input.data[start..start + plane]);
        }
    });
    Tensor::new([n, c, 1, 1], reduced)
}

/// A sum the compiler vectorises: eight independent accumulators instead of one serial chain.
pub(super) fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The mean of the `values` whose `mask` is set, summed in [`sum`]'s order (the others count as
/// 0), so that a full mask gives exactly [`global_avg_pool`]'s value. `NaN` for an empty mask.
pub fn masked_mean(values: &[f32], mask: &[bool]) -> f32 {
    debug_assert_eq!(values.len(), mask.len());
    let kept: Vec<f32> = values
        .iter()
        .zip(mask)
        .map(|(&v, &m)| if m { v } else { 0.0 })
        .collect();
    sum(&kept) / mask.iter().filter(|&&m| m).count() as f32
}

/// The max of the `values` whose `mask` is set (`-inf` for an empty mask).
pub fn masked_max(values: &[f32], mask: &[bool]) -> f32 {
    values
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .fold(f32::NEG_INFINITY, |max, (&v, _)| max.max(v))
}
