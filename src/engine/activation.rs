//! Element-wise activations, as PyTorch defines them. The GPU twin is `gpu/activation.wgsl`
//! (same codes, same formulas).

/// An element-wise function applied after a layer (or as an SE gate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// (Other slopes and offsets, Paddle's `clip(0.2·x + 0.5, 0, 1)`, are this after an affine:
    /// `GraphBuilder::hard_sigmoid`.)
    HardSigmoid,
    /// `min(max(x, 0), 6)` (MobileNetV2's).
    Relu6,
    Tanh,
    /// `x · Φ(x)`, with the error function (PyTorch's default, not the tanh approximation).
    Gelu,
    /// GELU's tanh approximation, `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`
    /// (PyTorch's `approximate='tanh'`).
    GeluTanh,
    /// `x` where `x > 0`, else `slope · x` (PyTorch's `LeakyReLU(negative_slope)`: timm's
    /// default 0.01, TResNet's 1e-3 too).
    LeakyRelu(Slope),
}

/// A leaky ReLU's negative slope: a normal f32 (not 0, which is a ReLU), kept as its bits so
/// that activations compare exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slope(u32);

impl Slope {
    /// `None` for 0, a subnormal, an infinite or a NaN slope.
    pub const fn new(slope: f32) -> Option<Self> {
        match slope.is_normal() {
            true => Some(Self(slope.to_bits())),
            false => None,
        }
    }

    pub fn get(self) -> f32 {
        f32::from_bits(self.0)
    }
}

/// Runs `$body` with `$f` bound to `$act`'s formula as a function item, so that a loop in
/// `$body` is compiled once per activation with its formula inlined: no call and no match per
/// element. (Calling [`Activation::apply`] in a hot loop leaves that to the inliner, which gave
/// up once GELU made the match large: EfficientNet-B0 ran 25% slower.)
macro_rules! with_formula {
    ($act:expr, $f:ident => $body:expr) => {{
        use $crate::engine::Activation as A;
        match $act {
            A::None => {
                let $f = A::identity;
                $body
            }
            A::Relu => {
                let $f = A::relu;
                $body
            }
            A::Silu => {
                let $f = A::silu;
                $body
            }
            A::HardSwish => {
                let $f = A::hard_swish;
                $body
            }
            A::Sigmoid => {
                let $f = A::sigmoid;
                $body
            }
            A::HardSigmoid => {
                let $f = A::hard_sigmoid;
                $body
            }
            A::Relu6 => {
                let $f = A::relu6;
                $body
            }
            A::Tanh => {
                let $f = A::tanh;
                $body
            }
            A::Gelu => {
                let $f = A::gelu;
                $body
            }
            A::GeluTanh => {
                let $f = A::gelu_tanh;
                $body
            }
            A::LeakyRelu(slope) => {
                let slope = slope.get();
                let $f = move |x: f32| if x > 0.0 { x } else { x * slope };
                $body
            }
        }
    }};
}
pub(crate) use with_formula;

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        with_formula!(self, f => f(x))
    }

    /// `values[i] = apply(values[i] + bias)`, each variant's loop compiled (and vectorised) on
    /// its own.
    pub fn apply_biased(self, values: &mut [f32], bias: f32) {
        with_formula!(self, f => values.iter_mut().for_each(|v| *v = f(*v + bias)))
    }

    #[inline(always)]
    pub(crate) fn identity(x: f32) -> f32 {
        x
    }

    #[inline(always)]
    pub(crate) fn relu(x: f32) -> f32 {
        x.max(0.0)
    }

    #[inline(always)]
    pub(crate) fn silu(x: f32) -> f32 {
        x / (1.0 + (-x).exp())
    }

    #[inline(always)]
    pub(crate) fn hard_swish(x: f32) -> f32 {
        x * relu6(x + 3.0) / 6.0
    }

    #[inline(always)]
    pub(crate) fn sigmoid(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }

    #[inline(always)]
    pub(crate) fn hard_sigmoid(x: f32) -> f32 {
        relu6(x + 3.0) / 6.0
    }

    #[inline(always)]
    pub(crate) fn relu6(x: f32) -> f32 {
        relu6(x)
    }

    #[inline(always)]
    pub(crate) fn tanh(x: f32) -> f32 {
        x.tanh()
    }

    #[inline(always)]
    pub(crate) fn gelu(x: f32) -> f32 {
        0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
    }

    #[inline(always)]
    pub(crate) fn gelu_tanh(x: f32) -> f32 {
        const SQRT_2_OVER_PI: f32 = 0.797_884_6;
        0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
    }

    /// Whether every output lies in [0, 1] (the sigmoid and its hard twin).
    pub fn is_bounded(self) -> bool {
        matches!(self, Activation::Sigmoid | Activation::HardSigmoid)
    }

    /// The code the WGSL kernels switch on (`activation.wgsl`): the variant's index, or for a
    /// leaky ReLU its slope's bits (a normal f32's bits are at least 2²³, past every index).
    pub fn code(self) -> u32 {
        match self {
            Activation::None => 0,
            Activation::Relu => 1,
            Activation::Silu => 2,
            Activation::HardSwish => 3,
            Activation::Sigmoid => 4,
            Activation::HardSigmoid => 5,
            Activation::Relu6 => 6,
            Activation::Tanh => 7,
            Activation::Gelu => 8,
            Activation::GeluTanh => 9,
            Activation::LeakyRelu(slope) => slope.0,
        }
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
            Activation::Relu6 => "ReLU6",
            Activation::Tanh => "tanh",
            Activation::Gelu => "GELU",
            Activation::GeluTanh => "GELU (tanh)",
            Activation::LeakyRelu(_) => "leaky ReLU",
        }
    }
}

#[inline(always)]
fn relu6(x: f32) -> f32 {
    x.clamp(0.0, 6.0)
}

/// The error function, to 1.5e-7 (Abramowitz & Stegun 7.1.26; the same formula as
/// `activation.wgsl`, which has no `erf` either).
fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_8 + t * (-1.453_152 + t * 1.061_405_4))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::{Activation, Slope};

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
        assert_eq!(Activation::Relu6.apply(7.0), 6.0);
        // GELU against PyTorch's F.gelu (float64): 0.8413447460685429 at 1, −0.04550026 at −2.
        assert!((Activation::Gelu.apply(1.0) - 0.841_344_7).abs() < 2e-7);
        assert!((Activation::Gelu.apply(-2.0) + 0.045_500_26).abs() < 2e-7);
        // The tanh form against F.gelu(approximate='tanh') (float64): 0.8411919906082768 at 1.
        assert!((Activation::GeluTanh.apply(1.0) - 0.841_192).abs() < 2e-7);
        assert!((Activation::GeluTanh.apply(-2.0) + 0.045_402_3).abs() < 2e-7);
        assert!((Activation::Tanh.apply(0.5) - 0.462_117_16).abs() < 1e-7);
        let leaky = Activation::LeakyRelu(Slope::new(0.01).expect("a slope"));
        assert_eq!((leaky.apply(-2.0), leaky.apply(3.0)), (-0.02, 3.0));
    }

    #[test]
    fn a_leaky_relu_code_is_its_slope_past_every_other_code() {
        for slope in [f32::MIN_POSITIVE, 1e-3, 0.01, 0.2, 5.0, -0.5] {
            let code = Activation::LeakyRelu(Slope::new(slope).expect("normal")).code();
            assert!(code >= 1 << 23 && f32::from_bits(code) == slope);
        }
        assert_eq!(Activation::GeluTanh.code(), 9);
        assert!(Slope::new(0.0).is_none() && Slope::new(1e-40).is_none());
    }
}
