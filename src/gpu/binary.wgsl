// Element-wise ops in place on `a`: `a = act(a ∘ b)` with `b` either `a`'s shape (`b_plane` 1) or
// one value per channel plane (`b_plane` = H·W), or `a = act(a)` alone (`unary`). `op` is
// `engine::BinaryOp::code()`, `act` a code of activation.wgsl.

struct Params {
    len: u32,
    b_plane: u32,
    op: u32,
    act: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

fn flat_index(group_id: vec3<u32>, groups: vec3<u32>, lane: u32) -> u32 {
    return (group_id.y * groups.x + group_id.x) * 256u + lane;
}

fn combine(x: f32, y: f32, op: u32) -> f32 {
    switch op {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        default: { return x / y; }
    }
}

@compute @workgroup_size(256)
fn binary(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = flat_index(group_id, groups, lane);
    if i < params.len {
        a[i] = activation(combine(a[i], b[i / params.b_plane], params.op), params.act);
    }
}
