use super::parallel::for_each_chunk;
use crate::engine::{Pool, PoolKind, Tensor};

/// Max or average pooling with PyTorch's padding and ceil-mode semantics.
pub fn pool2d(input: &Tensor, pool: &Pool) -> Tensor {
    let [batch, channels, height, width] = input.shape;
    let (out_h, out_w) = (pool.output_size(height), pool.output_size(width));
    let mut output = vec![0.0f32; batch * channels * out_h * out_w];
    for_each_chunk(&mut output, out_h * out_w, |plane_index, out| {
        let plane = &input.data[plane_index * height * width..(plane_index + 1) * height * width];
        for oy in 0..out_h {
            let (y0, y1) = window(oy, pool, height);
            for ox in 0..out_w {
                let (x0, x1) = window(ox, pool, width);
                let values =
                    (y0..y1).flat_map(|y| plane[y * width + x0..y * width + x1].iter().copied());
                out[oy * out_w + ox] = match pool.kind {
                    PoolKind::Max => values.fold(f32::NEG_INFINITY, f32::max),
                    PoolKind::Avg => values.sum::<f32>() / ((y1 - y0) * (x1 - x0)) as f32,
                    PoolKind::AvgIncludePad => {
                        let count = pool.padded_span(oy, height) * pool.padded_span(ox, width);
                        values.sum::<f32>() / count as f32
                    }
                };
            }
        }
    });
    Tensor::new([batch, channels, out_h, out_w], output)
}

/// The input range `[start, end)` a window covers, clipped to the input.
fn window(out_index: usize, pool: &Pool, size: usize) -> (usize, usize) {
    let start = (out_index * pool.stride) as isize - pool.padding as isize;
    let end = (start + pool.kernel as isize).min(size as isize);
    (start.max(0) as usize, end as usize)
}
