// Max or average pooling with PyTorch's padding and ceil-mode semantics (the host computes the
// output size); one invocation per output. Windows are clipped to the input, and an average
// divides by the elements inside it (`average` 1: count_include_pad=False) or by its span inside
// the padded input (`average` 2: count_include_pad=True), as `cpu::pool2d` does.

struct Params {
    planes: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    padding: u32,
    average: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// The input range [start, end) a window covers along one axis, clipped to the input.
fn window(out_index: u32, size: u32) -> vec2<u32> {
    let start = i32(out_index * params.stride) - i32(params.padding);
    let end = min(start + i32(params.kernel), i32(size));
    return vec2<u32>(u32(max(start, 0)), u32(end));
}

// How many elements of the padded input a window covers along one axis (count_include_pad).
fn padded_span(out_index: u32, size: u32) -> u32 {
    let start = out_index * params.stride;
    return min(start + params.kernel, size + 2u * params.padding) - start;
}

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let index = (group_id.y * groups.x + group_id.x) * 64u + lane;
    let out_plane = params.out_h * params.out_w;
    if index >= params.planes * out_plane {
        return;
    }
    let plane = index / out_plane;
    let rows = window((index % out_plane) / params.out_w, params.in_h);
    let cols = window(index % params.out_w, params.in_w);
    let base = plane * params.in_h * params.in_w;
    // Windows are never empty (PyTorch's ceil-mode rule), so the first element starts the max.
    var best = input[base + rows.x * params.in_w + cols.x];
    var sum = 0.0;
    for (var y = rows.x; y < rows.y; y++) {
        for (var x = cols.x; x < cols.y; x++) {
            let v = input[base + y * params.in_w + x];
            best = max(best, v);
            sum += v;
        }
    }
    if params.average == 2u {
        output[index] = sum / f32(padded_span((index % out_plane) / params.out_w, params.in_h)
            * padded_span(index % params.out_w, params.in_w));
    } else if params.average == 1u {
        output[index] = sum / f32((rows.y - rows.x) * (cols.y - cols.x));
    } else {
        output[index] = best;
    }
}
