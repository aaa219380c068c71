// The end of a residual block, in place: x = act(x · gate[n, c] + shortcut). `scale_add_act`
// applies the SE gate (the channel scale, fused with the residual add so a ResNet block's output
// is written once); `add_act` is the same without a gate. `act` is a code of activation.wgsl.

struct Params {
    len: u32,
    plane: u32,
    act: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> shortcut: array<f32>;
@group(0) @binding(3) var<storage, read> gate: array<f32>;

fn flat_index(group_id: vec3<u32>, groups: vec3<u32>, lane: u32) -> u32 {
    return (group_id.y * groups.x + group_id.x) * 256u + lane;
}

@compute @workgroup_size(256)
fn scale_add_act(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = flat_index(group_id, groups, lane);
    if i < params.len {
        x[i] = activation(fma(x[i], gate[i / params.plane], shortcut[i]), params.act);
    }
}

@compute @workgroup_size(256)
fn add_act(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = flat_index(group_id, groups, lane);
    if i < params.len {
        x[i] = activation(x[i] + shortcut[i], params.act);
    }
}
