use super::parallel::for_each_chunk;
use crate::engine::{Pool, PoolKind, Tensor};

/// Max or average pooling with PyTorch's padding and ceil-mode semantics.
pub fn pool2d(input: &Tensor, pool: &Pool) -> Tensor {
    let [batch, channels, height, width] = input.shape;
    let (out_h, out_w) = (pool.output_size(height), pool.output_size(width));
    let mut output = vec![0.0f32; batch * channels * out_h * out_w];
    for_each_chunk(&mut output, out_h * out_w, |plane_index, out| {
        let plane = &input.data[plane_index * height * width..(plane_index + 1) * height * width];
        match pool.kind {
            PoolKind::Max => max_plane(plane, [height, width], pool, out),
            PoolKind::Avg | PoolKind::AvgIncludePad => avg_plane(plane, [height, width], pool, out),
        }
    });
    Tensor::new([batch, channels, out_h, out_w], output)
}

/// Max pooling of one plane, separably: for each output row, the maximum of its window's rows
/// at every column (whole rows at a time, which vectorise), then of each window's columns of
/// that. A maximum does not depend on the order it is taken in, so this is the window's maximum
/// exactly. 2.4× faster than window by window on SE-ResNet-50's stem (`perf record` of
/// `se-lens bench` on one thread: 2.2 → 0.9 ms a pass).
fn max_plane(plane: &[f32], [height, width]: [usize; 2], pool: &Pool, out: &mut [f32]) {
    let out_w = pool.output_size(width);
    let mut rows_max = vec![0.0f32; width];
    for (oy, out_row) in out.chunks_exact_mut(out_w).enumerate() {
        let (y0, y1) = window(oy, pool, height);
        rows_max.fill(f32::NEG_INFINITY);
        for row in plane[y0 * width..y1 * width].chunks_exact(width) {
            for (m, &v) in rows_max.iter_mut().zip(row) {
                *m = m.max(v);
            }
        }
        for (ox, o) in out_row.iter_mut().enumerate() {
            let (x0, x1) = window(ox, pool, width);
            *o = rows_max[x0..x1]
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max);
        }
    }
}

/// Average pooling of one plane, window by window (the sum's order is PyTorch's).
fn avg_plane(plane: &[f32], [height, width]: [usize; 2], pool: &Pool, out: &mut [f32]) {
    let out_w = pool.output_size(width);
    for (oy, out_row) in out.chunks_exact_mut(out_w).enumerate() {
        let (y0, y1) = window(oy, pool, height);
        for (ox, o) in out_row.iter_mut().enumerate() {
            let (x0, x1) = window(ox, pool, width);
            let sum: f32 = (y0..y1)
                .flat_map(|y| plane[y * width + x0..y * width + x1].iter().copied())
                .sum();
            let count = match pool.kind {
                PoolKind::AvgIncludePad => {
                    pool.padded_span(oy, height) * pool.padded_span(ox, width)
                }
                _ => (y1 - y0) * (x1 - x0),
            };
            *o = sum / count as f32;
        }
    }
}

/// The input range `[start, end)` a window covers, clipped to the input.
fn window(out_index: usize, pool: &Pool, size: usize) -> (usize, usize) {
    let start = (out_index * pool.stride) as isize - pool.padding as isize;
    let end = (start + pool.kernel as isize).min(size as isize);
    (start.max(0) as usize, end as usize)
}
