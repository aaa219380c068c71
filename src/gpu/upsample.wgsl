// Nearest-neighbour upsampling by whole factors, twin of `cpu::upsample`: one invocation per
// output element, output (y, x) of a plane read from input (y / factor_h, x / factor_w).

struct Params {
    len: u32,
    out_h: u32,
    out_w: u32,
    factor_h: u32,
    factor_w: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

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
    let in_w = params.out_w / params.factor_w;
    let in_h = params.out_h / params.factor_h;
    output[i] = input[(plane * in_h + y / params.factor_h) * in_w + x / params.factor_w];
}
