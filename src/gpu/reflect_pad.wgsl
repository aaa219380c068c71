// Reflection padding, twin of `cpu::reflect_pad`: one invocation per output element, padded
// (y, x) of a plane read from input (reflect(y - pad), reflect(x - pad)), the border not repeated.

struct Params {
    len: u32,
    in_h: u32,
    in_w: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

// Padded index i of an axis of `size` → the input index it reflects (pad < size).
fn reflect(i: u32, size: u32) -> u32 {
    let source = u32(abs(i32(i) - i32(params.pad)));
    return select(2u * (size - 1u) - source, source, source < size);
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
    let out_w = params.in_w + 2u * params.pad;
    let out_h = params.in_h + 2u * params.pad;
    let x = i % out_w;
    let y = (i / out_w) % out_h;
    let plane = i / (out_w * out_h);
    output[i] = input[(plane * params.in_h + reflect(y, params.in_h)) * params.in_w + reflect(x, params.in_w)];
}
