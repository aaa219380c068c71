//! What a run takes besides the input, and what it returns.

use std::collections::HashMap;

use super::Tensor;

/// Replaces an SE block's gate for one run (ablation).
#[derive(Clone, Debug, PartialEq)]
pub enum GateOverride {
    /// Every channel passes unchanged: the block behaves as if it had no SE.
    Ones,
    /// A user-edited gate, one value per channel (used for every image of the batch).
    Values(Vec<f32>),
}

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keyed by SE module path (`layer3.1.se`).
    pub gate_overrides: HashMap<String, GateOverride>,
    /// The SE block (module path) whose input feature map to return: the residual branch's
    /// output that the gate scales (for the channel detail view).
    pub feature_map: Option<String>,
}

/// The gate vector an SE block applied, post-sigmoid (or the override that replaced it).
#[derive(Clone, Debug, PartialEq)]
pub struct ExcitationTap {
    /// The SE module's PyTorch path, e.g. `layer1.0.se`.
    pub block: String,
    /// `[batch, channels]`, row-major.
    pub values: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunOutput {
    /// `[batch, classes]`, row-major.
    pub logits: Vec<f32>,
    pub excitations: Vec<ExcitationTap>,
    /// The feature map `RunOptions::feature_map` asked for (before the gate scales it).
    pub feature_map: Option<FeatureMapTap>,
}

/// An SE block's input: `[batch, channels, height, width]` before the gate multiplies it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMapTap {
    pub block: String,
    pub map: Tensor,
}

/// A numerically stable softmax over one row of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|&x| (x - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}
