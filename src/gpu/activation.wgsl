// Element-wise activations, prepended to every kernel that applies one. The codes are
// `engine::Activation::code()`, the formulas PyTorch's (the CPU twin: engine/activation.rs).

fn activation(x: f32, code: u32) -> f32 {
    switch code {
        case 1u: { return max(x, 0.0); }                         // ReLU
        case 2u: { return x / (1.0 + exp(-x)); }                 // SiLU
        case 3u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }  // hard-swish
        case 4u: { return 1.0 / (1.0 + exp(-x)); }               // sigmoid
        case 5u: { return clamp(x + 3.0, 0.0, 6.0) / 6.0; }      // hard-sigmoid
        default: { return x; }
    }
}
