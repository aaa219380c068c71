// Nearest-neighbour resizing to any size, twin of `cpu::resize_nearest`: one invocation per
// output element, output (y, x) of a plane read from input (min(floor(y * scale_h), in_h - 1),
// min(floor(x * scale_w), in_w - 1)). The scales are the host's f32 `in / out` (WGSL's division
// need not be correctly rounded; its product is), so both backends pick PyTorch's pixels.

struct Params {
    len: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    scale_h: f32,
    scale_w: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

fn source(i: u32, scale: f32, size: u32) -> u32 {
    return min(u32(floor(f32(i) * scale)), size - 1u);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = (group_id.y * groups.x + group_id.x) * 256u + lane;
    if i >= params.len {
        return;
    }
    let x = i % params.out_w;
    let y = (i / params.out_w) % params.out_h;
    let plane = i / (params.out_w * params.out_h);
    let row = plane * params.in_h + source(y, params.scale_h, params.in_h);
    output[i] = input[row * params.in_w + source(x, params.scale_w, params.in_w)];
}
