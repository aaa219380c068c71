use super::gemm::{matmul, MatRef};
use super::global_avg_pool::sum;
use super::parallel::{for_each_chunk, for_each_chunk_with};
use crate::engine::{Conv2d, Tensor};

/// Convolution (BatchNorm folded) + bias + optional ReLU, as im2col + one GEMM per group.
///
/// 1×1 stride-1 convolutions skip im2col: the NCHW input already is the `[C, H·W]` matrix. For
/// grouped convolutions im2col runs once over all channels and each group's GEMM reads its rows
/// of that matrix and of the weights in place, without per-group copies.
pub fn conv2d(input: &Tensor, conv: &Conv2d, relu: bool) -> Tensor {
    convolve(input, conv, relu, false).0
}

/// [`conv2d`] that also returns the SE squeeze of its output (the mean of every channel plane,
/// `[N·C]`), summed in the bias epilogue while each plane is still in cache instead of in a
/// second pass over the whole tensor. Bit-identical to `global_avg_pool` of the output.
pub fn conv2d_squeezed(input: &Tensor, conv: &Conv2d, relu: bool) -> (Tensor, Vec<f32>) {
    convolve(input, conv, relu, true)
}

fn convolve(input: &Tensor, conv: &Conv2d, relu: bool, squeeze: bool) -> (Tensor, Vec<f32>) {
    let [batch, channels, height, width] = input.shape;
    debug_assert_eq!(channels, conv.in_channels);
    let (out_h, out_w) = conv.output_size(height, width);
    let pixels = out_h * out_w;
    let group_in = conv.in_channels / conv.groups;
    let group_out = conv.out_channels / conv.groups;
    let k = group_in * conv.kernel * conv.kernel;
    let direct = conv.kernel == 1 && conv.stride == 1 && conv.padding == 0;

    let mut output = vec![0.0f32; batch * conv.out_channels * pixels];
    let mut means = vec![0.0f32; usize::from(squeeze) * batch * conv.out_channels];
    let mut columns = if direct {
        Vec::new()
    } else {
        vec![0.0f32; channels * conv.kernel * conv.kernel * pixels]
    };
    for (n, (image, out_image)) in input
        .data
        .chunks_exact(channels * height * width)
        .zip(output.chunks_exact_mut(conv.out_channels * pixels))
        .enumerate()
    {
        let matrix: &[f32] = if direct {
            image
        } else {
            im2col(
                image,
                [channels, height, width],
                conv,
                (out_h, out_w),
                &mut columns,
            );
            &columns
        };
        for group in 0..conv.groups {
            let weights = MatRef {
                data: &conv.weight[group * group_out * k..],
                rows: group_out,
                cols: k,
                row_stride: k,
            };
            let patches = MatRef {
                data: &matrix[group * k * pixels..],
                rows: k,
                cols: pixels,
                row_stride: pixels,
            };
            matmul(
                &mut out_image[group * group_out * pixels..],
                pixels,
                weights,
                patches,
            );
        }
        let image_means = match squeeze {
            true => &mut means[n * conv.out_channels..(n + 1) * conv.out_channels],
            false => &mut [][..],
        };
        for_each_chunk_with(out_image, pixels, image_means, |channel, plane, mean| {
            let bias = conv.bias[channel];
            if relu {
                plane.iter_mut().for_each(|v| *v = (*v + bias).max(0.0));
            } else {
                plane.iter_mut().for_each(|v| *v += bias);
            }
            if let Some(mean) = mean {
                *mean = sum(plane) / pixels as f32;
            }
        });
    }
    let output = Tensor::new([batch, conv.out_channels, out_h, out_w], output);
    (output, means)
}

/// Unfolds `image` (`[C, H, W]`) into `[C·k·k, out_h·out_w]`, zero outside the padding.
fn im2col(
    image: &[f32],
    [_, height, width]: [usize; 3],
    conv: &Conv2d,
    (out_h, out_w): (usize, usize),
    columns: &mut [f32],
) {
    let (kernel, stride, padding) = (conv.kernel, conv.stride, conv.padding);
    let plane = height * width;
    for_each_chunk(columns, out_h * out_w, |row, out| {
        let channel = row / (kernel * kernel);
        let (ky, kx) = ((row / kernel) % kernel, row % kernel);
        let source = &image[channel * plane..(channel + 1) * plane];
        for oy in 0..out_h {
            let out_row = &mut out[oy * out_w..(oy + 1) * out_w];
            let y = (oy * stride + ky) as isize - padding as isize;
            if y < 0 || y >= height as isize {
                out_row.fill(0.0);
                continue;
            }
            let source_row = &source[y as usize * width..(y as usize + 1) * width];
            // Output columns whose input column `ox·stride + kx − padding` lies inside the row.
            let first = padding.saturating_sub(kx).div_ceil(stride).min(out_w);
            let last = (width + padding)
                .saturating_sub(kx)
                .div_ceil(stride)
                .clamp(first, out_w);
            out_row[..first].fill(0.0);
            out_row[last..].fill(0.0);
            if first == last {
                continue;
            }
            let start = first * stride + kx - padding;
            if stride == 1 {
                out_row[first..last].copy_from_slice(&source_row[start..start + last - first]);
            } else {
                for (value, x) in out_row[first..last]
                    .iter_mut()
                    .zip((start..).step_by(stride))
                {
                    *value = source_row[x];
                }
            }
        }
    });
}
