//! GPU kernels against their CPU twins on a real wgpu device (Mesa lavapipe in CI), over random
//! shapes: odd sizes, strides, padding (symmetric and TensorFlow's "SAME"), groups and depthwise
//! (all three conv kernels), every activation, batches.
//!
//! Tolerance: 1e-4 relative / 1e-5 absolute per op. The GPU sums in a different order (tiles of
//! 16, fused multiply-adds), so results differ from the CPU in the last bits; one op's error is
//! ~1e-6 relative.
#![cfg(not(target_arch = "wasm32"))]

use std::rc::Rc;

use se_lens::engine::{
    Activation, BinaryOp, Conv2d, Padding, Pool, PoolKind, Slope, Tensor, Tolerance,
};
use se_lens::gpu::{GpuContext, GpuConv, GpuDense, GpuError};
use se_lens::{cpu, gpu::Encoder};

const OP: Tolerance = Tolerance::new(1e-4, 1e-5);
const ACTIVATIONS: [Activation; 7] = [
    Activation::None,
    Activation::Relu,
    Activation::Silu,
    Activation::HardSwish,
    Activation::Sigmoid,
    Activation::HardSigmoid,
    // TResNet's slope (the WGSL code is its bits).
    Activation::LeakyRelu(match Slope::new(1e-3) {
        Some(slope) => slope,
        None => unreachable!(),
    }),
];

fn context() -> Rc<GpuContext> {
    Rc::new(
        pollster::block_on(GpuContext::new())
            .expect("a Vulkan adapter (install mesa-vulkan-drivers for lavapipe)"),
    )
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn values(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| (self.next() % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    fn tensor(&mut self, shape: [usize; 4]) -> Tensor {
        Tensor::new(shape, self.values(shape.iter().product()))
    }
}

/// Records `ops` on `input`, submits, and returns the one tensor they produce.
fn run_on_gpu(
    context: &GpuContext,
    input: &Tensor,
    ops: impl FnOnce(&mut Encoder, se_lens::gpu::GpuTensor) -> Result<se_lens::gpu::GpuTensor, GpuError>,
) -> Tensor {
    let mut encoder = context.encoder();
    let x = encoder.upload(input).expect("upload");
    let y = ops(&mut encoder, x).expect("ops recorded");
    encoder.read(y);
    let mut results = pollster::block_on(encoder.finish()).expect("gpu run");
    results.pop().expect("one result")
}

fn check(what: &str, gpu: &Tensor, cpu: &Tensor) {
    assert_eq!(gpu.shape, cpu.shape, "{what}: shapes differ");
    OP.check(&gpu.data, &cpu.data)
        .unwrap_or_else(|m| panic!("{what}: {m}"));
}

#[test]
fn conv2d_matches_cpu_on_random_shapes() {
    let context = context();
    let mut rng = Rng(0x5e1e_5e1e);
    for case in 0..60 {
        let groups = [1, 1, 1, 2, 3, 4, 32][rng.below(7)];
        // Every third case is wide enough per group for the tiled kernel, every fourth depthwise.
        let (groups, group_in, group_out) = match case % 4 {
            3 => (rng.range(1, 40), 1, 1),
            _ if case % 3 == 0 => (groups, rng.range(1, 24), rng.range(32, 80)),
            _ => (groups, rng.range(1, 24), rng.range(1, 12)),
        };
        let kernel = [1, 1, 3, 3, 5, 7][rng.below(6)];
        let stride = rng.range(1, 2);
        let padding = match rng.below(3) {
            0 => Padding::Same,
            _ => Padding::Symmetric(rng.range(0, kernel / 2 + 1)),
        };
        // Every fifth case dilated (its window spans 2·(k − 1) + 1).
        let dilation = if case % 5 == 4 { 2 } else { 1 };
        let span = dilation * (kernel - 1) + 1;
        let (h, w) = (rng.range(span, 23), rng.range(span, 29));
        let batch = rng.range(1, 2);
        let (in_channels, out_channels) = (group_in * groups, group_out * groups);
        let conv = Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            dilation,
            padding,
            groups,
            weight: rng.values(out_channels * group_in * kernel * kernel),
            bias: rng.values(out_channels),
            winograd: Default::default(),
        };
        let act = ACTIVATIONS[rng.below(4)];
        let input = rng.tensor([batch, in_channels, h, w]);
        let weights = GpuConv::upload(&context, &conv).expect("upload");
        let gpu = run_on_gpu(&context, &input, |e, x| e.conv2d(&x, &weights, act));
        let what = format!(
            "case {case}: {in_channels}→{out_channels} k{kernel} s{stride} d{dilation} {padding:?} g{groups} \
             {act:?} on {batch}×{h}×{w}"
        );
        let cpu = cpu::conv2d(&input, &conv, act);
        // Absolute error grows with the output's scale (sums of up to a thousand products, where
        // an output near 0 is a cancellation): 1e-5 of the largest output, at least 1e-5.
        let scale = cpu.data.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        assert_eq!(gpu.shape, cpu.shape, "{what}: shapes differ");
        Tolerance::new(OP.rtol, OP.atol * scale)
            .check(&gpu.data, &cpu.data)
            .unwrap_or_else(|m| panic!("{what}: {m}"));
    }
}

#[test]
fn pooling_matches_cpu_with_padding_and_ceil_mode() {
    let context = context();
    let mut rng = Rng(0xbeef);
    for case in 0..30 {
        let kernel = rng.range(1, 4);
        let pool = Pool {
            kind: [PoolKind::Max, PoolKind::Avg, PoolKind::AvgIncludePad][rng.below(3)],
            kernel,
            stride: rng.range(1, 3),
            padding: rng.range(0, kernel / 2),
            ceil_mode: rng.below(2) == 1,
        };
        let shape = [
            rng.range(1, 2),
            rng.range(1, 9),
            rng.range(kernel, 17),
            rng.range(kernel, 19),
        ];
        let input = rng.tensor(shape);
        let gpu = run_on_gpu(&context, &input, |e, x| e.pool2d(&x, &pool));
        check(
            &format!("case {case}: {pool:?} on {shape:?}"),
            &gpu,
            &cpu::pool2d(&input, &pool),
        );
    }
}

#[test]
fn global_avg_pool_matches_cpu_on_odd_shapes() {
    let context = context();
    let mut rng = Rng(7);
    // Planes smaller and larger than a workgroup, odd sizes, several images.
    for shape in [
        [1, 3, 1, 1],
        [2, 5, 7, 9],
        [1, 64, 56, 56],
        [3, 17, 33, 19],
        [1, 2048, 7, 7],
    ] {
        let input = rng.tensor(shape);
        let gpu = run_on_gpu(&context, &input, |e, x| e.global_avg_pool(&x));
        check(&format!("{shape:?}"), &gpu, &cpu::global_avg_pool(&input));
    }
}

#[test]
fn dense_matches_cpu_with_each_activation() {
    let context = context();
    let mut rng = Rng(11);
    for (batch, inputs, outputs) in [(1, 1, 1), (2, 64, 4), (1, 2048, 1000), (3, 37, 129)] {
        let (weight, bias) = (rng.values(inputs * outputs), rng.values(outputs));
        let layer = GpuDense::upload(&context, &weight, &bias).expect("upload");
        let x = rng.tensor([batch, inputs, 1, 1]);
        for activation in ACTIVATIONS {
            let gpu = run_on_gpu(&context, &x, |e, x| e.dense(&x, &layer, activation));
            let cpu: Vec<f32> = x
                .data
                .chunks_exact(inputs)
                .flat_map(|row| {
                    let mut out = bias.clone();
                    for (o, value) in out.iter_mut().enumerate() {
                        let dot: f64 = (0..inputs)
                            .map(|i| f64::from(weight[o * inputs + i]) * f64::from(row[i]))
                            .sum();
                        *value = (f64::from(*value) + dot) as f32;
                    }
                    out.into_iter().map(move |v| activation.apply(v))
                })
                .collect();
            let cpu = Tensor::new([batch, outputs, 1, 1], cpu);
            check(
                &format!("{batch}×{inputs}→{outputs} {activation:?}"),
                &gpu,
                &cpu,
            );
        }
    }
}

#[test]
fn scale_add_act_and_scale_match_cpu() {
    let context = context();
    let mut rng = Rng(13);
    for shape in [[1, 3, 5, 7], [2, 16, 9, 9], [1, 256, 56, 56]] {
        let (x, shortcut) = (rng.tensor(shape), rng.tensor(shape));
        let gates = rng.tensor([shape[0], shape[1], 1, 1]);
        for (gated, act) in [
            (true, Activation::Relu),
            (false, Activation::Relu),
            (true, Activation::None),
            (false, Activation::HardSwish),
        ] {
            let gpu = run_on_gpu(&context, &x, |e, y| {
                let skip = e.upload(&shortcut)?;
                let g = e.upload(&gates)?;
                e.scale_add_act(&y, gated.then_some(&g), &skip, act)?;
                Ok(y)
            });
            let mut cpu = x.clone();
            let gate_values = gated.then_some(&gates.data[..]);
            cpu::scale_add_act(&mut cpu, gate_values, Some(&shortcut), act);
            check(&format!("{shape:?} gated {gated} {act:?}"), &gpu, &cpu);
        }
    }
}

#[test]
fn binary_ops_activations_and_concat_match_cpu() {
    let context = context();
    let mut rng = Rng(17);
    for shape in [[1, 3, 5, 7], [2, 16, 9, 9], [1, 64, 56, 56]] {
        // Divisors kept away from zero, where a quotient is inf on either side.
        let away_from_zero = |mut t: Tensor| {
            t.data.iter_mut().for_each(|v| *v = 0.5 + v.abs());
            t
        };
        let a = rng.tensor(shape);
        let full = away_from_zero(rng.tensor(shape));
        let per_channel = away_from_zero(rng.tensor([shape[0], shape[1], 1, 1]));
        for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
            for b in [&full, &per_channel] {
                let gpu = run_on_gpu(&context, &a, |e, x| {
                    let b = e.upload(b)?;
                    e.binary(op, &x, &b, Activation::None)?;
                    Ok(x)
                });
                let mut cpu = a.clone();
                cpu::binary(&mut cpu, op, b);
                check(&format!("{shape:?} {op:?} by {:?}", b.shape), &gpu, &cpu);
            }
        }
        for act in [
            Activation::Relu,
            Activation::Silu,
            Activation::HardSigmoid,
            Activation::Relu6,
            Activation::Tanh,
            Activation::Gelu,
            Activation::LeakyRelu(Slope::new(0.01).expect("a slope")),
        ] {
            let gpu = run_on_gpu(&context, &a, |e, x| {
                e.activation(&x, act)?;
                Ok(x)
            });
            let mut cpu = a.clone();
            cpu::activation(&mut cpu, act);
            check(&format!("{shape:?} {act:?}"), &gpu, &cpu);
        }
        let narrow = rng.tensor([shape[0], 5, shape[2], shape[3]]);
        let gpu = run_on_gpu(&context, &a, |e, x| {
            let narrow = e.upload(&narrow)?;
            e.concat(&[&narrow, &x, &narrow])
        });
        let cpu = cpu::concat(&[&narrow, &a, &narrow]);
        check(&format!("{shape:?} concat"), &gpu, &cpu);
        let groups = if shape[1] % 4 == 0 { 4 } else { shape[1] };
        let gpu = run_on_gpu(&context, &a, |e, x| e.channel_shuffle(&x, groups));
        let cpu = cpu::channel_shuffle(&a, groups);
        check(&format!("{shape:?} shuffle"), &gpu, &cpu);
        for size in [
            [11, 15],
            [2 * shape[2], 2 * shape[3]],
            [shape[2] / 2 + 1, 3],
        ] {
            let gpu = run_on_gpu(&context, &a, |e, x| e.resize_nearest(&x, size));
            let cpu = cpu::resize_nearest(&a, size);
            check(&format!("{shape:?} resized to {size:?}"), &gpu, &cpu);
        }
        for pad in [1, 4] {
            let gpu = run_on_gpu(&context, &a, |e, x| e.reflect_pad(&x, pad));
            let cpu = cpu::reflect_pad(&a, pad);
            check(&format!("{shape:?} reflect pad {pad}"), &gpu, &cpu);
        }
        let gpu = run_on_gpu(&context, &a, |e, x| e.slice_channels(&x, 1, shape[1] - 2));
        let cpu = cpu::slice_channels(&a, 1, shape[1] - 2);
        check(&format!("{shape:?} slice"), &gpu, &cpu);
    }
}

#[test]
fn softmax_matches_cpu() {
    let context = context();
    let mut rng = Rng(19);
    for shape in [[1, 5, 1, 1], [3, 1000, 1, 1]] {
        let mut x = rng.tensor(shape);
        x.data.iter_mut().for_each(|v| *v *= 20.0); // large logits: the max is subtracted
        let gpu = run_on_gpu(&context, &x, |e, x| e.softmax(&x));
        let cpu: Vec<f32> = x
            .data
            .chunks_exact(shape[1])
            .flat_map(se_lens::engine::softmax)
            .collect();
        check(
            &format!("{shape:?} softmax"),
            &gpu,
            &Tensor::new(shape, cpu),
        );
    }
}

#[test]
fn a_tensor_over_the_device_limit_is_an_error_not_a_crash() {
    let context = context();
    // 65 536 output channels of 256 × 256: 16 GiB, over any storage-buffer limit.
    let conv = Conv2d {
        in_channels: 1,
        out_channels: 1 << 16,
        kernel: 1,
        stride: 1,
        dilation: 1,
        padding: Padding::Symmetric(0),
        groups: 1,
        weight: vec![0.5; 1 << 16],
        bias: vec![0.0; 1 << 16],
        winograd: Default::default(),
    };
    let weights = GpuConv::upload(&context, &conv).expect("upload");
    let mut encoder = context.encoder();
    let x = encoder
        .upload(&Tensor::new([1, 1, 256, 256], vec![1.0; 256 * 256]))
        .expect("upload");
    match encoder.conv2d(&x, &weights, Activation::None) {
        Err(GpuError::Limit {
            what,
            needed,
            limit,
        }) => {
            assert_eq!(what, "a tensor");
            assert!(needed > limit);
        }
        Err(other) => panic!("another error: {other}"),
        Ok(_) => panic!("a 16 GiB tensor was accepted"),
    }
}
