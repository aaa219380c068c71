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

/// Why a run cannot start. Every backend checks its options with [`RunOptions::check`], so the
/// error and its message are the same wherever the run was to go.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error("there is no SE block {0} to override")]
    UnknownBlock(String),
    #[error("{0} is a BatchNorm the graph passes did not fold (run engine::passes::optimize)")]
    UnfoldedBatchNorm(String),
    #[error("the gate override for {block} has {given} values; the block has {channels} channels")]
    OverrideLength {
        block: String,
        given: usize,
        channels: usize,
    },
}

impl RunOptions {
    /// Checks every gate override against the network's SE blocks (`(name, channels)`, in any
    /// order): the block must exist and a vector must have one value per channel.
    pub fn check<'a>(
        &self,
        se_blocks: impl Iterator<Item = (&'a str, usize)> + Clone,
    ) -> Result<(), RunError> {
        let mut names: Vec<&String> = self.gate_overrides.keys().collect();
        names.sort(); // the same error first, whatever the map's order
        for block in names {
            let channels = se_blocks
                .clone()
                .find(|(name, _)| name == block)
                .map(|(_, channels)| channels)
                .ok_or_else(|| RunError::UnknownBlock(block.clone()))?;
            if let Some(GateOverride::Values(values)) = self.gate_overrides.get(block) {
                if values.len() != channels {
                    return Err(RunError::OverrideLength {
                        block: block.clone(),
                        given: values.len(),
                        channels,
                    });
                }
            }
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_checked_against_the_blocks() {
        let blocks = [("layer1.0.se", 4), ("layer2.0.se", 8)];
        let check = |block: &str, gate: GateOverride| {
            let options = RunOptions {
                gate_overrides: [(block.to_string(), gate)].into(),
                ..RunOptions::default()
            };
            options.check(blocks.iter().copied())
        };
        assert_eq!(check("layer2.0.se", GateOverride::Ones), Ok(()));
        assert_eq!(
            check("layer1.0.se", GateOverride::Values(vec![0.5; 4])),
            Ok(())
        );
        assert_eq!(
            check("layer1.0.se", GateOverride::Values(vec![0.5; 8]))
                .unwrap_err()
                .to_string(),
            "the gate override for layer1.0.se has 8 values; the block has 4 channels"
        );
        assert_eq!(
            check("layer3.0.se", GateOverride::Ones),
            Err(RunError::UnknownBlock("layer3.0.se".into()))
        );
        assert_eq!(RunOptions::default().check([].into_iter()), Ok(()));
    }
}
