// An activation alone, in place: a = act(a). `act` is a code of activation.wgsl.

struct Params {
    len: u32,
    _b_plane: u32,
    _op: u32,
    act: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = (group_id.y * groups.x + group_id.x) * 256u + lane;
    if i < params.len {
        a[i] = activation(a[i], params.act);
    }
}
