//! CPU kernels against plain definitions on awkward shapes (odd sizes, padding wider than the
//! image, TensorFlow's asymmetric "SAME", strides, groups, depthwise). Whole-network parity with PyTorch is in model_parity.rs.
#![cfg(not(target_arch = "wasm32"))]

use se_lens::engine::{Activation, Conv2d, Padding, Pool, PoolKind, Tensor, Tolerance};

/// Convolution straight from its definition.
fn conv_reference(x: &Tensor, c: &Conv2d, act: Activation) -> Vec<f32> {
    let [n, _, h, w] = x.shape;
    let g = c.geometry(h, w).expect("the kernel fits");
    let (oh, ow) = (g.out_h, g.out_w);
    let (pad_top, pad_left) = (g.pad_top as isize, g.pad_left as isize);
    let (gi, go) = (c.in_channels / c.groups, c.out_channels / c.groups);
    let mut out = Vec::new();
    for b in 0..n {
        for o in 0..c.out_channels {
            let g = o / go;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = c.bias[o];
                    for i in 0..gi {
                        for ky in 0..c.kernel {
                            for kx in 0..c.kernel {
                                let y = (oy * c.stride + ky * c.dilation) as isize - pad_top;
                                let xx = (ox * c.stride + kx * c.dilation) as isize - pad_left;
                                if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w {
                                    let ci = g * gi + i;
                                    let v = x.data[((b * c.in_channels + ci) * h + y as usize) * w
                                        + xx as usize];
                                    acc += v * c.weight
                                        [((o * gi + i) * c.kernel + ky) * c.kernel + kx];
                                }
                            }
                        }
                    }
                    out.push(act.apply(acc));
                }
            }
        }
    }
    out
}

fn conv(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    groups: usize,
) -> Conv2d {
    let weights = in_channels / groups * kernel * kernel * out_channels;
    Conv2d {
        in_channels,
        out_channels,
        kernel,
        stride,
        dilation: 1,
        padding,
        groups,
        weight: (0..weights)
            .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
            .collect(),
        bias: (0..out_channels).map(|i| i as f32 * 0.1 - 0.2).collect(),
        winograd: Default::default(),
    }
}

/// The Winograd filters a convolution keeps from its first run: one convolution run at sizes
/// that take F(2×2, 3×3), F(4×4, 3×3) and the direct GEMM, in turns, matches its definition every
/// time; a clone whose weights then change does not use the original's filters.
#[test]
fn winograd_filters_kept_between_runs_stay_right() {
    let c = conv(5, 7, 3, 1, Padding::Symmetric(1), 1);
    let check = |c: &Conv2d, [h, w]: [usize; 2]| {
        let x = Tensor::pattern([1, 5, h, w]);
        let ours = se_lens::cpu::conv2d(&x, c, Activation::None);
        Tolerance::new(1e-5, 1e-5)
            .check(&ours.data, &conv_reference(&x, c, Activation::None))
            .unwrap_or_else(|m| panic!("{h}×{w}: {m}"));
    };
    for size in [[13, 17], [29, 31], [5, 5], [13, 17], [29, 31]] {
        check(&c, size);
    }
    let mut changed = c.clone();
    changed.weight.iter_mut().for_each(|w| *w = 0.5 - *w);
    for size in [[13, 17], [29, 31]] {
        check(&changed, size);
    }
    assert!(format!("{:?}", c.winograd).contains("2 made"));
}

#[test]
fn conv2d_matches_its_definition() {
    use Padding::{Same, Symmetric};
    let cases = [
        // (in, out, kernel, stride, padding, groups, h, w)
        (3, 5, 7, 2, Symmetric(3), 1, 11, 9),
        (4, 6, 3, 1, Symmetric(1), 2, 5, 7),
        (8, 8, 3, 2, Symmetric(1), 4, 6, 5),
        (6, 4, 1, 1, Symmetric(0), 1, 3, 4),
        (6, 4, 1, 2, Symmetric(0), 1, 7, 7),
        (2, 3, 3, 1, Symmetric(4), 1, 2, 3), // padding wider than the image
        (4, 4, 3, 3, Symmetric(1), 1, 1, 1),
        (3, 5, 3, 2, Same, 1, 10, 9), // one extra zero row/column at the bottom/right only
        // 3×3 stride 1, one group, 12×12 or more: Winograd F(2×2, 3×3), odd and even sizes …
        (5, 7, 3, 1, Symmetric(1), 1, 13, 17),
        (16, 8, 3, 1, Symmetric(1), 1, 12, 14),
        (3, 4, 3, 1, Same, 1, 15, 12),
        (6, 5, 3, 1, Symmetric(1), 1, 144, 1),
        // … and from 28×28 on, F(4×4, 3×3): edges cut 1, 2 and 3 outputs into the last tile
        (5, 7, 3, 1, Symmetric(1), 1, 29, 31),
        (16, 8, 3, 1, Symmetric(1), 1, 28, 30),
        (3, 4, 3, 1, Same, 1, 27, 33),
        (4, 3, 3, 1, Symmetric(1), 1, 1, 785),
        // depthwise: the direct kernel
        (6, 6, 3, 1, Symmetric(1), 6, 7, 5),
        (5, 5, 5, 2, Same, 5, 9, 8),
        (4, 4, 3, 2, Symmetric(1), 4, 1, 2),
        (3, 3, 5, 2, Symmetric(2), 3, 11, 13),
    ];
    // The same cases dilated by 2 where the window still fits (Winograd never takes them).
    let dilated = cases
        .iter()
        .filter(|&&(_, _, k, _, p, _, h, w)| {
            let pad = match p {
                Symmetric(p) => 2 * p,
                _ => 0,
            };
            k > 1 && h + pad > 2 * (k - 1) && w + pad > 2 * (k - 1)
        })
        .map(|&case| (case, 2));
    let cases = cases.iter().map(|&case| (case, 1)).chain(dilated);
    for ((i, o, k, s, p, g, h, w), dilation) in cases {
        let c = Conv2d {
            dilation,
            ..conv(i, o, k, s, p, g)
        };
        let x = Tensor::pattern([2, i, h, w]);
        for act in [
            Activation::None,
            Activation::Relu,
            Activation::Silu,
            Activation::HardSwish,
        ] {
            let ours = se_lens::cpu::conv2d(&x, &c, act);
            Tolerance::new(1e-5, 1e-5)
                .check(&ours.data, &conv_reference(&x, &c, act))
                .unwrap_or_else(|m| {
                    panic!(
                        "case {:?} d{dilation} {act:?}: {m}",
                        (i, o, k, s, p, g, h, w)
                    )
                });
            // The squeeze summed in the conv's epilogue is the global average pool, to the bit.
            let (squeezed_out, means) = se_lens::cpu::conv2d_squeezed(&x, &c, act);
            assert_eq!(squeezed_out.data, ours.data);
            assert_eq!(means, se_lens::cpu::global_avg_pool(&ours).data);
            // Written into freed memory (NaNs, longer than needed), nothing of it shows.
            for _ in 0..8 {
                se_lens::cpu::buffers::give(vec![f32::NAN; 2 * ours.data.len() + 7]);
            }
            assert_eq!(se_lens::cpu::conv2d(&x, &c, act).data, ours.data);
        }
    }
}

#[test]
fn pooling_follows_pytorch_ceil_mode_and_padding() {
    let x = Tensor::new([1, 1, 3, 5], (0..15).map(|v| v as f32).collect());
    // MaxPool2d(3, stride=2, ceil_mode=True): 3×5 → 1×2, the last window clipped to the input.
    let max = Pool {
        kind: PoolKind::Max,
        kernel: 3,
        stride: 2,
        padding: 0,
        ceil_mode: true,
    };
    assert_eq!(se_lens::cpu::pool2d(&x, &max).data, vec![12.0, 14.0]);
    // AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False): partial windows average what they cover.
    let avg = Pool {
        kind: PoolKind::Avg,
        kernel: 2,
        stride: 2,
        padding: 0,
        ceil_mode: true,
    };
    let pooled = se_lens::cpu::pool2d(&x, &avg);
    assert_eq!(pooled.shape, [1, 1, 2, 3]);
    assert_eq!(pooled.data, vec![3.0, 5.0, 6.5, 10.5, 12.5, 14.0]);
    // MaxPool2d(3, stride=2, padding=1): padding never wins.
    let padded = Pool {
        kind: PoolKind::Max,
        kernel: 3,
        stride: 2,
        padding: 1,
        ceil_mode: false,
    };
    let neg = Tensor::new([1, 1, 2, 2], vec![-4.0, -3.0, -2.0, -1.0]);
    assert_eq!(se_lens::cpu::pool2d(&neg, &padded).data, vec![-1.0]);
}

/// Max pooling (computed separably, rows then columns) is each window's maximum, over kernels,
/// strides, padding and ceil mode, odd and even sizes.
#[test]
fn max_pooling_is_each_windows_maximum() {
    for (kernel, stride, padding, ceil_mode) in [
        (3, 2, 1, false),
        (3, 2, 0, true),
        (2, 2, 0, false),
        (2, 2, 0, true),
        (3, 1, 1, false),
        (5, 3, 2, true),
        (1, 1, 0, false),
    ] {
        let pool = Pool {
            kind: PoolKind::Max,
            kernel,
            stride,
            padding,
            ceil_mode,
        };
        for [h, w] in [[7, 9], [8, 8], [5, 12], [3, 3]] {
            let x = Tensor::pattern([2, 3, h, w]);
            let ours = se_lens::cpu::pool2d(&x, &pool);
            let (oh, ow) = (pool.output_size(h), pool.output_size(w));
            assert_eq!(ours.shape, [2, 3, oh, ow]);
            let span = |o: usize, size: usize| {
                let start = (o * stride) as isize - padding as isize;
                start.max(0) as usize..((start + kernel as isize).min(size as isize)) as usize
            };
            for (plane, out) in x.data.chunks(h * w).zip(ours.data.chunks(oh * ow)) {
                for (i, &got) in out.iter().enumerate() {
                    let (ys, xs) = (span(i / ow, h), span(i % ow, w));
                    let want = ys
                        .flat_map(|y| xs.clone().map(move |x| plane[y * w + x]))
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(got, want, "{pool:?} on {h}×{w}, output {i}");
                }
            }
        }
    }
}

#[test]
fn reflect_padding_follows_pytorch() {
    // F.pad(torch.arange(12.).view(1, 1, 3, 4), (2, 2, 2, 2), mode='reflect')[0, 0, :, :3]
    let x = Tensor::new([1, 1, 3, 4], (0..12).map(|v| v as f32).collect());
    let padded = se_lens::cpu::reflect_pad(&x, 2);
    assert_eq!(padded.shape, [1, 1, 7, 8]);
    let rows: Vec<&[f32]> = padded.data.chunks_exact(8).map(|row| &row[..3]).collect();
    let expected: [[f32; 3]; 7] = [
        [10.0, 9.0, 8.0],
        [6.0, 5.0, 4.0],
        [2.0, 1.0, 0.0],
        [6.0, 5.0, 4.0],
        [10.0, 9.0, 8.0],
        [6.0, 5.0, 4.0],
        [2.0, 1.0, 0.0],
    ];
    assert_eq!(rows, expected.iter().map(|r| &r[..]).collect::<Vec<_>>());
}

#[test]
fn nearest_resizing_follows_pytorch() {
    // F.interpolate(torch.arange(12.).view(1, 1, 3, 4), size=…, mode='nearest')
    let x = Tensor::new([1, 1, 3, 4], (0..12).map(|v| v as f32).collect());
    let up = se_lens::cpu::resize_nearest(&x, [7, 9]);
    let rows: Vec<Vec<f32>> = up.data.chunks_exact(9).map(<[f32]>::to_vec).collect();
    let row = |r: [f32; 4]| vec![r[0], r[0], r[0], r[1], r[1], r[2], r[2], r[3], r[3]];
    let (a, b, c) = (
        row([0.0, 1.0, 2.0, 3.0]),
        row([4.0, 5.0, 6.0, 7.0]),
        row([8.0, 9.0, 10.0, 11.0]),
    );
    assert_eq!(rows, [&a, &a, &a, &b, &b, &c, &c].map(Vec::clone));
    let down = se_lens::cpu::resize_nearest(&x, [2, 3]);
    assert_eq!(down.data, [0.0, 1.0, 2.0, 4.0, 5.0, 6.0]);
}
