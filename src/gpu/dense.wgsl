// A fully connected layer, out[n, o] = act(bias[o] + Σ_i weight[o, i] · x[n, i]), for the SE
// excitation's two FCs (ReLU or SiLU, then the gate: sigmoid or hard-sigmoid) and the head.
// `act` is a code of activation.wgsl.
// One workgroup per output value: its 64 invocations sum strided slices of the row, then a
// tree reduction in workgroup memory (the rows are long and few: 2048 inputs, 16–1000 outputs).

struct Params {
    in_features: u32,
    out_features: u32,
    act: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;

const WORKGROUP: u32 = 64u;
var<workgroup> partial: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(
    @builtin(workgroup_id) group_id: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group_id.x; // the output feature
    let image = group_id.y;
    let w0 = row * params.in_features;
    let x0 = image * params.in_features;
    var sum = 0.0;
    for (var i = lane; i < params.in_features; i += WORKGROUP) {
        sum = fma(weight[w0 + i], x[x0 + i], sum);
    }
    partial[lane] = sum;
    workgroupBarrier();
    for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
        if lane < stride {
            partial[lane] += partial[lane + stride];
        }
        workgroupBarrier();
    }
    if lane == 0u {
        output[image * params.out_features + row] = activation(partial[0] + bias[row], params.act);
    }
}
