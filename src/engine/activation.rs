//! Element-wise activations, as PyTorch defines them. The GPU twin is `gpu/activation.wgsl`
//! (same codes, same formulas).

/// An element-wise function applied after a layer (or as an SE gate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Activation {
    #[default]
    None,
    Relu,
    /// `x · sigmoid(x)` (timm's "swish", EfficientNet's activation).
    Silu,
    /// `x · relu6(x + 3) / 6` (MobileNetV3's activation).
    HardSwish,
    /// `1 / (1 + e^(−x))`: the SE paper's gate.
    Sigmoid,
    /// `relu6(x + 3) / 6`: MobileNetV3's gate; exactly 0 below −3 and exactly 1 above 3.
    HardSigmoid,
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Silu => x / (1.0 + (-x).exp()),
            Activation::HardSwish => x * relu6(x + 3.0) / 6.0,
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::HardSigmoid => relu6(x + 3.0) / 6.0,
        }
    }

    /// `values[i] = apply(values[i] + bias)`, with the match outside the loop so each variant's
    /// loop vectorises on its own.
    pub fn apply_biased(self, values: &mut [f32], bias: f32) {
        match self {
            Activation::None => values.iter_mut().for_each(|v| *v += bias),
            Activation::Relu => values.iter_mut().for_each(|v| *v = (*v + bias).max(0.0)),
            other => values.iter_mut().for_each(|v| *v = other.apply(*v + bias)),
        }
    }

    /// Whether every output lies in [0, 1] (the sigmoid and its hard twin).
    pub fn is_bounded(self) -> bool {
        matches!(self, Activation::Sigmoid | Activation::HardSigmoid)
    }

    /// The code the WGSL kernels switch on (`activation.wgsl`).
    pub fn code(self) -> u32 {
        self as u32
    }

    /// How the UI names it.
    pub fn name(self) -> &'static str {
        match self {
            Activation::None => "identity",
            Activation::Relu => "ReLU",
            Activation::Silu => "SiLU",
            Activation::HardSwish => "hard-swish",
            Activation::Sigmoid => "sigmoid",
            Activation::HardSigmoid => "hard-sigmoid",
        }
    }
}

fn relu6(x: f32) -> f32 {
    x.clamp(0.0, 6.0)
}

#[cfg(test)]
mod tests {
    use super::Activation;

    #[test]
    fn matches_pytorch_at_the_edges() {
        assert_eq!(Activation::HardSigmoid.apply(-3.0), 0.0);
        assert_eq!(Activation::HardSigmoid.apply(3.0), 1.0);
        assert_eq!(Activation::HardSigmoid.apply(0.0), 0.5);
        assert_eq!(Activation::HardSwish.apply(-3.0), 0.0);
        assert_eq!(Activation::HardSwish.apply(4.0), 4.0);
        assert_eq!(Activation::Silu.apply(-200.0), 0.0);
        assert_eq!(Activation::Sigmoid.apply(0.0), 0.5);
        let mut values = [-1.0, 1.0];
        Activation::Relu.apply_biased(&mut values, 0.5);
        assert_eq!(values, [0.0, 1.5]);
    }
}
