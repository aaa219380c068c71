// The SE squeeze: one workgroup reduces one channel plane to its mean (`main`) or its max
// (`max_main`). Each invocation reduces a strided slice, then a tree reduction in workgroup memory.

struct Params {
    plane_len: u32,
    planes: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;

const WORKGROUP: u32 = 256u;
var<workgroup> partial: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let plane = group.y * groups.x + group.x;
    let base = plane * params.plane_len;
    var sum = 0.0;
    if plane < params.planes {
        for (var i = lane; i < params.plane_len; i += WORKGROUP) {
            sum += input[base + i];
        }
    }
    partial[lane] = sum;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if lane < stride {
            partial[lane] += partial[lane + stride];
        }
        workgroupBarrier();
    }
    if lane == 0u && plane < params.planes {
        output[plane] = partial[0] / f32(params.plane_len);
    }
}

@compute @workgroup_size(WORKGROUP)
fn max_main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let plane = group.y * groups.x + group.x;
    let base = plane * params.plane_len;
    var best = 0.0;
    if plane < params.planes {
        // Every lane starts from the plane's first element (max is idempotent), so a lane with
        // no elements of its own needs no "lowest float" constant.
        best = input[base];
        for (var i = lane; i < params.plane_len; i += WORKGROUP) {
            best = max(best, input[base + i]);
        }
    }
    partial[lane] = best;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if lane < stride {
            partial[lane] = max(partial[lane], partial[lane + stride]);
        }
        workgroupBarrier();
    }
    if lane == 0u && plane < params.planes {
        output[plane] = partial[0];
    }
}
