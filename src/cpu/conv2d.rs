use super::buffers;
use super::gemm::{matmul, MatRef};
use super::global_avg_pool::sum;
use super::parallel::{for_each_chunk, for_each_chunk_with};
use super::winograd;
use crate::engine::{Activation, Conv2d, ConvGeometry, Padding, Tensor};

/// Convolution (BatchNorm folded) + bias + activation, as im2col + one GEMM per group, by
/// Winograd's F(2×2, 3×3) or F(4×4, 3×3) for large enough 3×3 stride-1 convolutions (`winograd.rs`
/// says which when), or directly for depthwise convolutions.
///
/// 1×1 stride-1 convolutions skip im2col: the NCHW input already is the `[C, H·W]` matrix. For
/// grouped convolutions im2col runs once over all channels and each group's GEMM reads its rows
/// of that matrix and of the weights in place, without per-group copies. A depthwise
/// convolution (one `k×k` filter per channel) would be a GEMM of one row per group; it runs as
/// a direct loop over each channel's plane instead (see [`depthwise`]).
pub fn conv2d(input: &Tensor, conv: &Conv2d, act: Activation) -> Tensor {
    convolve(input, conv, act, false).0
}

/// [`conv2d`] that also returns the SE squeeze of its output (the mean of every channel plane,
/// `[N·C]`), summed in the bias epilogue while each plane is still in cache instead of in a
/// second pass over the whole tensor. Bit-identical to `global_avg_pool` of the output.
pub fn conv2d_squeezed(input: &Tensor, conv: &Conv2d, act: Activation) -> (Tensor, Vec<f32>) {
    convolve(input, conv, act, true)
}

fn convolve(input: &Tensor, conv: &Conv2d, act: Activation, squeeze: bool) -> (Tensor, Vec<f32>) {
    let [batch, channels, height, width] = input.shape;
    debug_assert_eq!(channels, conv.in_channels);
    let geometry = conv
        .geometry(height, width)
        .expect("Network::check_input admits only inputs every window fits");
    let pixels = geometry.out_h * geometry.out_w;
    let group_in = conv.in_channels / conv.groups;
    let group_out = conv.out_channels / conv.groups;
    let k = group_in * conv.kernel * conv.kernel;
    let direct = conv.kernel == 1 && conv.stride == 1 && conv.padding == Padding::Symmetric(0);
    let depthwise = conv.is_depthwise() && conv.kernel > 1;
    let winograd = winograd::applies(conv, geometry, [height, width]);

    // A freed buffer: every kernel below writes all of it, but the depthwise one accumulates.
    let mut output = buffers::take(batch * conv.out_channels * pixels);
    if depthwise {
        output.fill(0.0);
    }
    let mut means = vec![0.0f32; usize::from(squeeze) * batch * conv.out_channels];
    // im2col writes every element.
    let mut columns = match direct || depthwise || winograd {
        true => Vec::new(),
        false => buffers::take(channels * conv.kernel * conv.kernel * pixels),
    };
    for (n, (image, out_image)) in input
        .data
        .chunks_exact(channels * height * width)
        .zip(output.chunks_exact_mut(conv.out_channels * pixels))
        .enumerate()
    {
        if winograd {
            winograd::conv3x3(image, [height, width], conv, out_image);
        } else if depthwise {
            depthwise_conv(image, [height, width], conv, geometry, out_image);
        } else {
            let matrix: &[f32] = if direct {
                image
            } else {
                im2col(
                    image,
                    [channels, height, width],
                    conv,
                    geometry,
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
        }
        let image_means = match squeeze {
            true => &mut means[n * conv.out_channels..(n + 1) * conv.out_channels],
            false => &mut [][..],
        };
        for_each_chunk_with(out_image, pixels, image_means, |channel, plane, mean| {
            act.apply_biased(plane, conv.bias[channel]);
            if let Some(mean) = mean {
                *mean = sum(plane) / pixels as f32;
            }
        });
    }
    buffers::give(columns);
    let output = Tensor::new(
        [batch, conv.out_channels, geometry.out_h, geometry.out_w],
        output,
    );
    (output, means)
}

/// The output columns `[first, last)` whose input column `ox·stride + kx − pad` lies inside
/// `0..size`.
fn inside(kx: usize, pad: usize, stride: usize, size: usize, out: usize) -> (usize, usize) {
    let first = pad.saturating_sub(kx).div_ceil(stride).min(out);
    let last = (size + pad)
        .saturating_sub(kx)
        .div_ceil(stride)
        .clamp(first, out);
    (first, last)
}

/// A depthwise convolution of one image (`[C, H, W]`, one `k×k` filter per channel) into
/// `out` (`[C, out_h·out_w]`, zeroed), without bias: each channel's plane accumulates its `k²`
/// shifted, scaled input rows, a loop over contiguous memory that vectorises at stride 1.
fn depthwise_conv(
    image: &[f32],
    [height, width]: [usize; 2],
    conv: &Conv2d,
    geometry: ConvGeometry,
    out: &mut [f32],
) {
    let (kernel, stride, dilation) = (conv.kernel, conv.stride, conv.dilation);
    let ConvGeometry {
        out_h,
        out_w,
        pad_top,
        pad_left,
    } = geometry;
    for_each_chunk(out, out_h * out_w, |channel, plane| {
        let source = &image[channel * height * width..(channel + 1) * height * width];
        let filter = &conv.weight[channel * kernel * kernel..(channel + 1) * kernel * kernel];
        for ky in 0..kernel {
            let dy = ky * dilation;
            let (y_first, y_last) = inside(dy, pad_top, stride, height, out_h);
            for kx in 0..kernel {
                let w = filter[ky * kernel + kx];
                let dx = kx * dilation;
                let (first, last) = inside(dx, pad_left, stride, width, out_w);
                if first == last {
                    continue;
                }
                let start = first * stride + dx - pad_left;
                for oy in y_first..y_last {
                    let y = oy * stride + dy - pad_top;
                    let row = &source[y * width..(y + 1) * width];
                    let out_row = &mut plane[oy * out_w + first..oy * out_w + last];
                    if stride == 1 {
                        let input = &row[start..start + out_row.len()];
                        // The relaxed-SIMD build fuses the multiply-add (lanes.rs); elsewhere
                        // LLVM vectorises the loop as a multiply and an add.
                        #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
                        super::lanes::axpy::<super::lanes::wasm::Simd>(out_row, w, input);
                        #[cfg(not(all(target_arch = "wasm32", target_feature = "relaxed-simd")))]
                        for (o, v) in out_row.iter_mut().zip(input) {
                            *o += w * v;
                        }
                    } else {
                        for (o, x) in out_row.iter_mut().zip((start..).step_by(stride)) {
                            *o += w * row[x];
                        }
                    }
                }
            }
        }
    });
}

/// Unfolds `image` (`[C, H, W]`) into `[C·k·k, out_h·out_w]`, zero outside the padding.
fn im2col(
    image: &[f32],
    [_, height, width]: [usize; 3],
    conv: &Conv2d,
    geometry: ConvGeometry,
    columns: &mut [f32],
) {
    let (kernel, stride, dilation) = (conv.kernel, conv.stride, conv.dilation);
    let ConvGeometry {
        out_h,
        out_w,
        pad_top,
        pad_left,
    } = geometry;
    let plane = height * width;
    for_each_chunk(columns, out_h * out_w, |row, out| {
        let channel = row / (kernel * kernel);
        // The tap's offset inside the window.
        let (ky, kx) = ((row / kernel) % kernel * dilation, row % kernel * dilation);
        let source = &image[channel * plane..(channel + 1) * plane];
        let (first, last) = inside(kx, pad_left, stride, width, out_w);
        for oy in 0..out_h {
            let out_row = &mut out[oy * out_w..(oy + 1) * out_w];
            let y = (oy * stride + ky) as isize - pad_top as isize;
            if y < 0 || y >= height as isize {
                out_row.fill(0.0);
                continue;
            }
            let source_row = &source[y as usize * width..(y as usize + 1) * width];
            out_row[..first].fill(0.0);
            out_row[last..].fill(0.0);
            if first == last {
                continue;
            }
            let start = first * stride + kx - pad_left;
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
