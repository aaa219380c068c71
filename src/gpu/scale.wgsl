// The SE channel scale alone, in place: x[n, c, ·] *= gate[n, c]. For inverted residuals, whose
// projection follows the SE (ResNets fuse the scale into scale_add_act instead).

struct Params {
    len: u32,
    plane: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> gate: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = (group_id.y * groups.x + group_id.x) * 256u + lane;
    if i < params.len {
        x[i] *= gate[i / params.plane];
    }
}
