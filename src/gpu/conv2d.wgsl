// Convolution with BatchNorm folded, + bias, + activation (activation.wgsl), on NCHW tensors.
//
// `tiled`: implicit GEMM. Per image and group, out[m, p] = Σ_k weight[m, k] · patch[k, p], with
// m the output channel, p the output pixel and k = (input channel, ky, kx); the patch matrix is
// never stored, each tile gathers its slice of the input on the fly. A workgroup computes a
// 64 × 64 tile of `out`, staging 16-deep slices of both operands in workgroup memory as vec4s
// (4 channels, 4 pixels); each invocation accumulates 4 channels × 4 adjacent pixels in
// registers, reading one vec4 of each operand per step of k for 16 multiply-adds.
// `direct`: one invocation per output, for grouped convolutions with few channels per group,
// where a 64-channel tile would be mostly idle.
// `depthwise`: one invocation per output of a convolution with one filter per channel
// (MobileNet, EfficientNet), walking the k × k window without `direct`'s per-tap divisions.
// Padding is given per side (`pad_top`, `pad_left`): TensorFlow's "SAME" is asymmetric.

struct Params {
    in_channels: u32,
    in_h: u32,
    in_w: u32,
    out_channels: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    pad_top: u32,
    pad_left: u32,
    group_in: u32,
    group_out: u32,
    groups: u32,
    act: u32,
    batch: u32,
    dilation: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

const TILE_M: u32 = 64u;
const TILE_N: u32 = 64u;
const TILE_K: u32 = 16u;
const THREADS: u32 = 256u; // 16 × 16, each 4 × 4 outputs

var<workgroup> weight_tile: array<vec4<f32>, 256>; // [TILE_K][TILE_M / 4]
var<workgroup> patch_tile: array<vec4<f32>, 256>; // [TILE_K][TILE_N / 4]

// Where output pixel `pixel`'s window starts in the input: [row, column], negative in the padding.
fn window_origin(pixel: u32) -> vec2<i32> {
    let y = i32((pixel / params.out_w) * params.stride) - i32(params.pad_top);
    let x = i32((pixel % params.out_w) * params.stride) - i32(params.pad_left);
    return vec2<i32>(y, x);
}

// The input value under row `k` of the patch matrix at the output pixel whose window starts at
// `origin` (window_origin), 0 in the padding. A 1 × 1 kernel (most of a ResNet's work) skips the
// divisions that split k into channel and tap.
fn patch_value(image: u32, channel0: u32, k: u32, origin: vec2<i32>) -> f32 {
    var channel = channel0 + k;
    var y = origin[0];
    var x = origin[1];
    if params.kernel != 1u {
        let taps = params.kernel * params.kernel;
        let tap = k % taps;
        channel = channel0 + k / taps;
        y += i32(tap / params.kernel * params.dilation);
        x += i32(tap % params.kernel * params.dilation);
    }
    if y < 0 || x < 0 || y >= i32(params.in_h) || x >= i32(params.in_w) {
        return 0.0;
    }
    return input[((image * params.in_channels + channel) * params.in_h + u32(y)) * params.in_w + u32(x)];
}

@compute @workgroup_size(16, 16)
fn tiled(
    @builtin(workgroup_id) tile: vec3<u32>,
    @builtin(local_invocation_id) lane: vec3<u32>,
    @builtin(local_invocation_index) lane_index: u32,
) {
    let pixels = params.out_h * params.out_w;
    let depth = params.group_in * params.kernel * params.kernel; // K of the GEMM
    let image = tile.z / params.groups;
    let group = tile.z % params.groups;
    let m0 = tile.y * TILE_M;
    let p0 = tile.x * TILE_N;
    let weight_row0 = group * params.group_out;
    let channel0 = group * params.group_in;

    // acc_i[j]: output channel m0 + 4·lane.y + i, pixel p0 + 4·lane.x + j (named, not an
    // array, so every backend keeps them in registers).
    var acc0 = vec4<f32>();
    var acc1 = vec4<f32>();
    var acc2 = vec4<f32>();
    var acc3 = vec4<f32>();
    // Each invocation stages the same patch column in every slice (THREADS is a multiple of
    // TILE_N), so its pixel's window is found once.
    let pp = lane_index % TILE_N;
    let origin = window_origin(p0 + pp);
    for (var k0 = 0u; k0 < depth; k0 += TILE_K) {
        for (var r = 0u; r < 4u; r++) {
            let i = lane_index + r * THREADS;
            // Weights: consecutive lanes read consecutive k of one row (coalesced).
            let wm = i / TILE_K;
            let wk = i % TILE_K;
            var w = 0.0;
            if m0 + wm < params.group_out && k0 + wk < depth {
                w = weight[(weight_row0 + m0 + wm) * depth + k0 + wk];
            }
            weight_tile[wk * (TILE_M / 4u) + wm / 4u][wm % 4u] = w;
            // Patches: consecutive lanes read consecutive pixels of one k.
            let pk = i / TILE_N;
            var v = 0.0;
            if k0 + pk < depth && p0 + pp < pixels {
                v = patch_value(image, channel0, k0 + pk, origin);
            }
            patch_tile[pk * (TILE_N / 4u) + pp / 4u][pp % 4u] = v;
        }
        workgroupBarrier();
        for (var k = 0u; k < TILE_K; k++) {
            let a = weight_tile[k * (TILE_M / 4u) + lane.y];
            let b = patch_tile[k * (TILE_N / 4u) + lane.x];
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        workgroupBarrier();
    }

    let m = m0 + 4u * lane.y;
    let p = p0 + 4u * lane.x;
    store(image, weight_row0, m, p, acc0);
    store(image, weight_row0, m + 1u, p, acc1);
    store(image, weight_row0, m + 2u, p, acc2);
    store(image, weight_row0, m + 3u, p, acc3);
}

// Writes one accumulator row (pixels p to p + 3 of the group's channel m) with bias and
// activation, skipping what lies outside the output.
fn store(image: u32, weight_row0: u32, m: u32, p: u32, acc: vec4<f32>) {
    let pixels = params.out_h * params.out_w;
    if m >= params.group_out {
        return;
    }
    let channel = weight_row0 + m;
    let row = (image * params.out_channels + channel) * pixels;
    for (var j = 0u; j < 4u; j++) {
        if p + j < pixels {
            output[row + p + j] = activation(acc[j] + bias[channel], params.act);
        }
    }
}

@compute @workgroup_size(64)
fn direct(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let index = (group_id.y * groups.x + group_id.x) * 64u + lane;
    let pixels = params.out_h * params.out_w;
    if index >= params.batch * params.out_channels * pixels {
        return;
    }
    let pixel = index % pixels;
    let channel = (index / pixels) % params.out_channels;
    let image = index / (pixels * params.out_channels);
    let channel0 = (channel / params.group_out) * params.group_in;
    let depth = params.group_in * params.kernel * params.kernel;
    let origin = window_origin(pixel);
    var sum = 0.0;
    for (var k = 0u; k < depth; k++) {
        sum = fma(weight[channel * depth + k], patch_value(image, channel0, k, origin), sum);
    }
    output[index] = activation(sum + bias[channel], params.act);
}

@compute @workgroup_size(64)
fn depthwise(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let index = (group_id.y * groups.x + group_id.x) * 64u + lane;
    let pixels = params.out_h * params.out_w;
    if index >= params.batch * params.out_channels * pixels {
        return;
    }
    let pixel = index % pixels;
    let plane = index / pixels; // image · channels + channel: input and output planes align
    let channel = plane % params.out_channels;
    let y0 = i32((pixel / params.out_w) * params.stride) - i32(params.pad_top);
    let x0 = i32((pixel % params.out_w) * params.stride) - i32(params.pad_left);
    let source = plane * params.in_h * params.in_w;
    let weight0 = channel * params.kernel * params.kernel;
    var sum = 0.0;
    for (var ky = 0u; ky < params.kernel; ky++) {
        let y = y0 + i32(ky * params.dilation);
        if y < 0 || y >= i32(params.in_h) {
            continue;
        }
        let row = source + u32(y) * params.in_w;
        for (var kx = 0u; kx < params.kernel; kx++) {
            let x = x0 + i32(kx * params.dilation);
            if x >= 0 && x < i32(params.in_w) {
                sum = fma(weight[weight0 + ky * params.kernel + kx], input[row + u32(x)], sum);
            }
        }
    }
    output[index] = activation(sum + bias[channel], params.act);
}
