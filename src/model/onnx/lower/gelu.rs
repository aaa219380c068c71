//! GELU written out of smaller ops, as exporters without a `Gelu` op (opsets before 20) write it:
//! `x · 0.5 · (1 + erf(x / √2))` (PyTorch's exporters, tf2onnx) or the tanh approximation
//! `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`, in any arrangement of multiplies,
//! divides, adds and powers.
//!
//! Recognised at its Erf or Tanh node by what the nodes compute, not by their order: the
//! expression from `x` (the one runtime value the Erf's argument is computed from) to each node
//! of the single-reader chain after the Erf is evaluated at sample points and compared with both
//! formulas. The chain's nodes are then skipped and its last one becomes one GELU; the nodes
//! before the Erf (`x / √2`, `x³`) were lowered already and are left for dead-node elimination,
//! as SiLU's sigmoid is. A power of a runtime value (`x³` as `Pow(x, 3)`, which the engine has no
//! op for) is recognised ahead, at the power, and skipped with the rest.

use std::collections::HashSet;

use super::{constant, Lowering, Val};
use crate::engine::Activation;

/// Ops an expression of `x` may pass through.
const ARITHMETIC: [&str; 10] = [
    "Mul", "Add", "Sub", "Div", "Pow", "Neg", "Sqrt", "Erf", "Tanh", "Identity",
];

/// Where both GELU forms are compared with the file's expression; spread so that they tell the
/// erf form from the tanh one (which differ by about 1e-4 at ±1 and ±2).
const SAMPLES: [f64; 6] = [-3.0, -1.7, -0.6, 0.4, 1.3, 2.9];

/// A GELU found at an Erf or Tanh node.
pub(super) struct Gelu {
    /// The value it is applied to.
    pub x: String,
    pub act: Activation,
    /// The output of the chain's last node: where the GELU is emitted.
    pub root: String,
    /// The outputs of the nodes from the Erf to the root, the root excepted: skipped.
    pub inside: Vec<String>,
}

impl Lowering<'_> {
    /// The GELU that the Erf or Tanh node `erf` is part of, if it is part of one.
    pub(super) fn gelu_at(&self, erf: &super::NodeProto) -> Option<Gelu> {
        let mut leaves = HashSet::new();
        self.runtime_leaves(erf.input.first()?, &mut leaves)?;
        let x = match Vec::from_iter(leaves)[..] {
            [x] => x.to_owned(),
            _ => return None,
        };
        let mut chain = Vec::new();
        let mut value = erf.output.first()?;
        while let [reader] = self.readers(value)[..] {
            if !ARITHMETIC.contains(&reader.op_type()) || chain.len() == 8 {
                break;
            }
            value = reader.output.first()?;
            chain.push(value.clone());
        }
        for root in chain.iter().rev() {
            for (act, reference) in [
                (Activation::Gelu, gelu as fn(f64) -> f64),
                (Activation::GeluTanh, gelu_tanh),
            ] {
                let matches = SAMPLES.iter().all(|&t| {
                    self.eval(root, &x, t, &mut Vec::new())
                        .is_some_and(|v| (v - reference(t)).abs() <= 1e-6 * (1.0 + v.abs()))
                });
                if !matches {
                    continue;
                }
                let mut inside = Vec::new();
                self.eval(root, &x, 0.0, &mut inside)?;
                inside.retain(|v| v != root);
                let closed = inside.iter().all(|v| {
                    self.readers(v)
                        .iter()
                        .all(|r| r.output.iter().any(|o| o == root || inside.contains(o)))
                });
                return closed.then(|| Gelu {
                    x,
                    act,
                    root: root.clone(),
                    inside,
                });
            }
        }
        None
    }

    /// The GELU that `node`, an op before the Erf or Tanh (the power of the tanh form's
    /// `x³`), is part of, if it is part of one.
    pub(super) fn gelu_ahead(&self, node: &super::NodeProto) -> Option<Gelu> {
        let mut value = node.output.first()?;
        for _ in 0..8 {
            let [reader] = self.readers(value)[..] else {
                return None;
            };
            if matches!(reader.op_type(), "Erf" | "Tanh") {
                return self
                    .gelu_at(reader)
                    .filter(|found| found.inside.contains(value));
            }
            if !ARITHMETIC.contains(&reader.op_type()) {
                return None;
            }
            value = reader.output.first()?;
        }
        None
    }

    /// The runtime values `value` is computed from through arithmetic alone, each read more
    /// than once or made by another op (`x` of `x / √2`); `None` if it reads a value that is
    /// neither lowered nor computed so.
    fn runtime_leaves<'v>(&'v self, value: &'v str, leaves: &mut HashSet<&'v str>) -> Option<()> {
        let lowered = match self.env.get(value) {
            Some(Val::Const(_)) => return Some(()),
            Some(Val::Dyn(_)) => true,
            None => false,
        };
        match self.producers.get(value) {
            Some(node) if node.op_type() == "Constant" => {}
            Some(node)
                if self.readers(value).len() == 1 && ARITHMETIC.contains(&node.op_type()) =>
            {
                for input in &node.input {
                    self.runtime_leaves(input, leaves)?;
                }
            }
            _ if lowered => {
                leaves.insert(value);
            }
            _ => return None,
        }
        Some(())
    }

    /// `value` as a function of `x` at `x = t`, in f64; `None` where it depends on another
    /// runtime value or passes through an op other than arithmetic. The values computed from
    /// `x` that are not lowered yet are pushed onto `inside`.
    fn eval(&self, value: &str, x: &str, t: f64, inside: &mut Vec<String>) -> Option<f64> {
        self.eval_from(value, x, t, inside).map(|(v, _)| v)
    }

    /// [`Self::eval`], and whether `value` is computed from `x`.
    fn eval_from(
        &self,
        value: &str,
        x: &str,
        t: f64,
        inside: &mut Vec<String>,
    ) -> Option<(f64, bool)> {
        if value == x {
            return Some((t, true));
        }
        let lowered = match self.env.get(value) {
            Some(Val::Const(c)) => return Some((c.uniform()?, false)),
            Some(Val::Dyn(_)) => true,
            None => false,
        };
        let node = self.producers.get(value)?;
        if node.op_type() == "Constant" {
            return Some((constant(node).ok()?.uniform()?, false));
        }
        let mut from_x = false;
        let mut operand = |i: usize| {
            let (v, from) = self.eval_from(node.input.get(i)?, x, t, inside)?;
            from_x |= from;
            Some(v)
        };
        let a = operand(0)?;
        let result = match node.op_type() {
            "Mul" => a * operand(1)?,
            "Add" => a + operand(1)?,
            "Sub" => a - operand(1)?,
            "Div" => a / operand(1)?,
            "Pow" => a.powf(operand(1)?),
            "Neg" => -a,
            "Sqrt" => a.sqrt(),
            "Erf" => erf(a),
            "Tanh" => a.tanh(),
            "Identity" => a,
            _ => return None,
        };
        if from_x && !lowered && !inside.iter().any(|v| v == value) {
            inside.push(value.to_owned());
        }
        Some((result, from_x))
    }
}

fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2))
}

fn gelu_tanh(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (k * (x + 0.044_715 * x * x * x)).tanh())
}

/// The error function to 1.2e-7 (Numerical Recipes' `erfc` by Chebyshev fit): only compared
/// with itself, in `gelu` and in a file's Erf.
fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    (1.0 - t * poly.exp()).copysign(x)
}
