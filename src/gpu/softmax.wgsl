// Softmax over the channels of each image's vector (`[N, C, 1, 1]`), numerically stable like
// `engine::softmax`: one invocation per image, the vectors are a classifier's logits.

struct Params {
    images: u32,
    channels: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let image = id.x;
    if image >= params.images {
        return;
    }
    let base = image * params.channels;
    var largest = x[base];
    for (var c = 1u; c < params.channels; c++) {
        largest = max(largest, x[base + c]);
    }
    var sum = 0.0;
    for (var c = 0u; c < params.channels; c++) {
        let e = exp(x[base + c] - largest);
        y[base + c] = e;
        sum += e;
    }
    for (var c = 0u; c < params.channels; c++) {
        y[base + c] /= sum;
    }
}
