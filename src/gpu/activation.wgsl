// Element-wise activations, prepended to every kernel that applies one. The codes are
// `engine::Activation::code()`, the formulas PyTorch's (the CPU twin: engine/activation.rs).

fn activation(x: f32, code: u32) -> f32 {
    switch code {
        case 1u: { return max(x, 0.0); }                         // ReLU
        case 2u: { return x / (1.0 + exp(-x)); }                 // SiLU
        case 3u: { return x * clamp(x + 3.0, 0.0, 6.0) / 6.0; }  // hard-swish
        case 4u: { return 1.0 / (1.0 + exp(-x)); }               // sigmoid
        case 5u: { return clamp(x + 3.0, 0.0, 6.0) / 6.0; }      // hard-sigmoid
        case 6u: { return clamp(x, 0.0, 6.0); }                   // ReLU6
        case 7u: { return tanh(clamp(x, -10.0, 10.0)); }          // tanh (±1 in f32 past ±10)
        case 8u: { return 0.5 * x * (1.0 + erf(x * 0.70710678)); } // GELU
        case 9u: { return 0.5 * x * (1.0 + tanh(clamp(0.7978846 * (x + 0.044715 * x * x * x), -10.0, 10.0))); } // GELU (tanh)
        default: {
            // A leaky ReLU: the code is its slope's bits (at least 2^23, past every case above).
            if code >= 0x800000u { return select(bitcast<f32>(code) * x, x, x > 0.0); }
            return x;
        }
    }
}

// The error function to 1.5e-7 (Abramowitz & Stegun 7.1.26), as engine/activation.rs.
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let poly = t * (0.2548296 + t * (-0.28449674 + t * (1.4214138 + t * (-1.453152 + t * 1.0614054))));
    return sign(x) * (1.0 - poly * exp(-x * x));
}
