//! Element-wise ops of general graphs: an activation alone, a binary op with channel
//! broadcasting, and a channel concatenation. (The fused SE scale + residual add is
//! `squeeze_excite::scale_add_act`.)

use super::parallel::for_each_chunk;
use crate::engine::{nearest_scale, nearest_source, Activation, BinaryOp, Tensor};

/// `x = act(x)` in place.
pub fn activation(x: &mut Tensor, act: Activation) {
    let plane = x.shape[2] * x.shape[3];
    for_each_chunk(&mut x.data, plane.max(1), |_, out| {
        act.apply_biased(out, 0.0)
    });
}

/// `a = a ∘ b` in place, `b` either `a`'s shape or per channel (`[N, C, 1, 1]`).
pub fn binary(a: &mut Tensor, op: BinaryOp, b: &Tensor) {
    let plane = a.shape[2] * a.shape[3];
    let per_channel = b.shape[2] * b.shape[3] == 1 && plane != 1;
    for_each_chunk(&mut a.data, plane.max(1), |channel, out| {
        if per_channel {
            let v = b.data[channel];
            out.iter_mut().for_each(|x| *x = op.apply(*x, v));
        } else {
            let other = &b.data[channel * plane..(channel + 1) * plane];
            out.iter_mut()
                .zip(other)
                .for_each(|(x, &v)| *x = op.apply(*x, v));
        }
    });
}

/// Channels `start .. start + len` of `x`.
pub fn slice_channels(x: &Tensor, start: usize, len: usize) -> Tensor {
    let [batch, channels, height, width] = x.shape;
    let plane = height * width;
    let data = x
        .data
        .chunks_exact(channels * plane)
        .flat_map(|image| &image[start * plane..(start + len) * plane])
        .copied()
        .collect();
    Tensor::new([batch, len, height, width], data)
}

/// `x` upsampled by whole factors `[down, across]`, nearest neighbour: output `(y, x)` is
/// input `(y / down, x / across)`.
pub fn upsample(x: &Tensor, [down, across]: [usize; 2]) -> Tensor {
    let [batch, channels, height, width] = x.shape;
    let mut data = Vec::with_capacity(x.data.len() * down * across);
    for row in x.data.chunks_exact(width) {
        let start = data.len();
        for &v in row {
            data.extend(std::iter::repeat_n(v, across));
        }
        for _ in 1..down {
            data.extend_from_within(start..start + width * across);
        }
    }
    Tensor::new([batch, channels, height * down, width * across], data)
}

/// `x` resized to `[height, width]`, nearest neighbour as PyTorch's `F.interpolate(size=…,
/// mode='nearest')`.
pub fn resize_nearest(x: &Tensor, [height, width]: [usize; 2]) -> Tensor {
    let [batch, channels, in_h, in_w] = x.shape;
    let (scale_h, scale_w) = (nearest_scale(in_h, height), nearest_scale(in_w, width));
    let columns: Vec<usize> = (0..width)
        .map(|i| nearest_source(i, scale_w, in_w))
        .collect();
    let mut data = Vec::with_capacity(batch * channels * height * width);
    for plane in x.data.chunks_exact(in_h * in_w) {
        for y in 0..height {
            let row = &plane[nearest_source(y, scale_h, in_h) * in_w..][..in_w];
            data.extend(columns.iter().map(|&x| row[x]));
        }
    }
    Tensor::new([batch, channels, height, width], data)
}

/// `x` padded by `pad` on every side with its reflection, the border not repeated (PyTorch's
/// `F.pad(mode='reflect')`): padded row `-k` is row `k`, row `h - 1 + k` is row `h - 1 - k`.
pub fn reflect_pad(x: &Tensor, pad: usize) -> Tensor {
    let [batch, channels, height, width] = x.shape;
    let (out_h, out_w) = (height + 2 * pad, width + 2 * pad);
    // Padded index `i` reads `i − pad`, reflected at both borders.
    let reflect = |i: usize, size: usize| {
        let from = (i as isize - pad as isize).unsigned_abs();
        if from < size {
            from
        } else {
            2 * (size - 1) - from
        }
    };
    let mut data = Vec::with_capacity(batch * channels * out_h * out_w);
    for plane in x.data.chunks_exact(height * width) {
        for y in 0..out_h {
            let row = &plane[reflect(y, height) * width..][..width];
            data.extend((0..out_w).map(|x| row[reflect(x, width)]));
        }
    }
    Tensor::new([batch, channels, out_h, out_w], data)
}

/// ShuffleNet's channel shuffle: output channel `j·groups + i` is input channel `i·(C/groups) + j`.
pub fn channel_shuffle(x: &Tensor, groups: usize) -> Tensor {
    let [_, channels, height, width] = x.shape;
    let (plane, per_group) = (height * width, channels / groups);
    let mut data = Vec::with_capacity(x.data.len());
    for image in x.data.chunks_exact(channels * plane) {
        for out in 0..channels {
            let source = (out % groups) * per_group + out / groups;
            data.extend_from_slice(&image[source * plane..(source + 1) * plane]);
        }
    }
    Tensor::new(x.shape, data)
}

/// The channels of `parts` one after another, image by image.
pub fn concat(parts: &[&Tensor]) -> Tensor {
    let [batch, _, height, width] = parts[0].shape;
    let channels = parts.iter().map(|p| p.shape[1]).sum();
    let mut data = Vec::with_capacity(batch * channels * height * width);
    for n in 0..batch {
        for part in parts {
            let image = part.data.len() / batch;
            data.extend_from_slice(&part.data[n * image..(n + 1) * image]);
        }
    }
    Tensor::new([batch, channels, height, width], data)
}
