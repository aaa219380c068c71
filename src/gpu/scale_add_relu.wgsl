// The end of a residual block, in place: x = relu(x · gate[n, c] + shortcut). `scale_add_relu`
// applies the SE gate (the channel scale, fused here with the residual add so the block's output
// is written once); `add_relu` is the same for blocks without SE.

struct Params {
    len: u32,
    plane: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> shortcut: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;

fn flat_index(group_id: vec3<u32>, groups: vec3<u32>, lane: u32) -> u32 {
    return (group_id.y * groups.x + group_id.x) * 256u + lane;
}

@compute @workgroup_size(256)
fn scale_add_relu(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = flat_index(group_id, groups, lane);
    if i < params.len {
        x[i] = max(fma(x[i], gate[i / params.plane], shortcut[i]), 0.0);
    }
}

@compute @workgroup_size(256)
fn add_relu(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = flat_index(group_id, groups, lane);
    if i < params.len {
        x[i] = max(x[i] + shortcut[i], 0.0);
    }
}
