//! What a run reports, in one place for the CLI and the page: the top-k, and the JSON object that
//! is both `se-lens classify --json`'s line and the page's `excitations.json` export (its shape is
//! a contract: ARCHITECTURE.md, "Contracts").

use serde::Serialize;

use super::{softmax, ExcitationTap};

/// One row of the top-k list.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub prob: f32,
}

/// What a model's output holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scores {
    /// Logits: a softmax gives the probabilities; one logit is a binary classifier's (a
    /// sigmoid gives the probability of class 0, the positive one).
    #[default]
    Logits,
    /// Probabilities already (an ONNX file that ends in a Softmax): shown as they are.
    Probabilities,
}

impl Scores {
    /// The probability of each class.
    pub fn probabilities(self, scores: &[f32]) -> Vec<f32> {
        match (self, scores) {
            (Scores::Probabilities, _) => scores.to_vec(),
            (Scores::Logits, [logit]) => vec![1.0 / (1.0 + (-logit).exp())],
            (Scores::Logits, _) => softmax(scores),
        }
    }
}

/// The `k` most probable classes, most probable first (ties: the lower index first). A class
/// without a label is called `class <index>`.
pub fn top_k(scores: &[f32], kind: Scores, labels: &[String], k: usize) -> Vec<Prediction> {
    let probs = kind.probabilities(scores);
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|index| Prediction {
            index,
            label: labels
                .get(index)
                .cloned()
                .unwrap_or_else(|| format!("class {index}")),
            prob: probs[index],
        })
        .collect()
}

/// One run of one input.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// The timm architecture name.
    pub model: &'a str,
    /// The input's file name or path.
    pub input: &'a str,
    /// `cpu`, `vulkan` or `webgpu`: what ran.
    pub backend: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<&'a str>,
    /// Why the CPU ran although the GPU was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<&'a str>,
    pub top: &'a [Prediction],
    pub logits: &'a [f32],
    /// Every SE block's gate, in graph order.
    pub excitations: Vec<Excitation<'a>>,
    /// Milliseconds; the CLI's only (a page's timings depend on what else the page did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings_ms: Option<Timings>,
}

#[derive(Debug, Serialize)]
pub struct Excitation<'a> {
    /// The SE module's PyTorch path (`layer2.0.se`).
    pub block: &'a str,
    pub values: &'a [f32],
}

impl<'a> Excitation<'a> {
    pub fn of(taps: &'a [ExcitationTap]) -> Vec<Self> {
        taps.iter()
            .map(|tap| Excitation {
                block: &tap.block,
                values: &tap.values,
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timings {
    pub load: f64,
    pub preprocess: f64,
    pub forward: f64,
}

impl Report<'_> {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report is plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_sorted_with_ties_to_the_lower_index_and_labels_every_class() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let top = top_k(&[1.0, 3.0, 3.0, -1.0], Scores::Logits, &labels, 3);
        let indices: Vec<usize> = top.iter().map(|p| p.index).collect();
        assert_eq!(indices, [1, 2, 0]);
        assert_eq!(top[1].label, "class 2");
        // All but the last class's probability: 1 − e⁻¹ / (e¹ + 2e³ + e⁻¹).
        let rest = (-1f32).exp() / (1f32.exp() + 2.0 * 3f32.exp() + (-1f32).exp());
        assert!((top.iter().map(|p| p.prob).sum::<f32>() - (1.0 - rest)).abs() < 1e-6);
        assert_eq!(top_k(&[0.0; 2], Scores::Logits, &labels, 5).len(), 2);
    }

    #[test]
    fn probabilities_are_shown_as_they_are_and_one_logit_is_a_sigmoid() {
        let top = top_k(&[0.2, 0.7, 0.1], Scores::Probabilities, &[], 2);
        assert_eq!((top[0].index, top[0].prob), (1, 0.7));
        assert_eq!((top[1].index, top[1].prob), (0, 0.2));
        let binary = top_k(&[2.0], Scores::Logits, &[], 5);
        assert_eq!(binary.len(), 1);
        assert!((binary[0].prob - 1.0 / (1.0 + (-2f32).exp())).abs() < 1e-7);
    }

    #[test]
    fn a_report_has_the_documented_keys() {
        let top = top_k(&[0.0, 1.0], Scores::Logits, &[], 1);
        let taps = [ExcitationTap {
            block: "layer1.0.se".into(),
            values: vec![0.25, 0.5],
        }];
        let report = Report {
            model: "m",
            input: "x.png",
            backend: "cpu",
            adapter: None,
            fallback_reason: None,
            top: &top,
            logits: &[0.0, 1.0],
            excitations: Excitation::of(&taps),
            timings_ms: None,
        };
        assert_eq!(
            report.to_json(),
            r#"{"model":"m","input":"x.png","backend":"cpu","top":[{"index":1,"label":"class 1","prob":0.7310586}],"logits":[0.0,1.0],"excitations":[{"block":"layer1.0.se","values":[0.25,0.5]}]}"#
        );
    }
}
