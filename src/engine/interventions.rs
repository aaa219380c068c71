//! Which SE blocks matter, over a labelled set of images: each block's gates replaced, alone or
//! together with every block after it (the SE paper's §7 removes the last stage's blocks), and
//! what that does to the accuracy and to the true class's logit. The CLI (`se-lens evaluate
//! --interventions`) and the page share this; the runs themselves are the caller's.
//!
//! Four replacements, each a fixed vector per image, so that PyTorch can set the very same gates
//! through forward hooks (`tools/interventions_torch.py`):
//! - [`Replacement::Ones`]: every gate 1, the block removed;
//! - [`Replacement::DatasetMean`]: the block's mean gate over all the images;
//! - [`Replacement::ClassMean`]: its mean gate over the images labelled with the class the
//!   unmodified network predicts for this image (the dataset mean where the folder has none);
//! - [`Replacement::Permuted`]: the image's own gates from the unmodified run, with the channels
//!   shuffled by a permutation fixed per block: the same values, on the wrong channels.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{ClassStats, ClassStatsSums, ExcitationTap, GateOverride, RunOptions};

/// What a block's gates are replaced with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replacement {
    Ones,
    DatasetMean,
    ClassMean,
    Permuted,
}

impl Replacement {
    pub const ALL: [Replacement; 4] = [
        Replacement::Ones,
        Replacement::DatasetMean,
        Replacement::ClassMean,
        Replacement::Permuted,
    ];

    /// The name in the CLI's JSON and the CSV export.
    pub fn name(self) -> &'static str {
        match self {
            Replacement::Ones => "ones",
            Replacement::DatasetMean => "dataset_mean",
            Replacement::ClassMean => "class_mean",
            Replacement::Permuted => "permuted",
        }
    }
}

/// Interventions per SE block: every replacement, on the block alone and to the end.
pub const INTERVENTIONS_PER_BLOCK: usize = 2 * Replacement::ALL.len();

/// Which blocks one intervention replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// The block alone.
    Alone,
    /// The block and every block after it (removing blocks from the last one backwards).
    ToTheEnd,
}

impl Reach {
    /// The name in the CLI's JSON and the CSV export.
    pub fn name(self) -> &'static str {
        match self {
            Reach::Alone => "alone",
            Reach::ToTheEnd => "to_the_end",
        }
    }
}

/// One intervention: `replacement` on block `block` (an index into the graph's SE blocks), and on
/// every later block if `reach` says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intervention {
    pub block: usize,
    pub replacement: Replacement,
    pub reach: Reach,
}

/// One image's unmodified run of batch 1: its label, logits and gates (one tap per SE block).
#[derive(Clone, Debug)]
pub struct Baseline {
    pub class: usize,
    pub logits: Vec<f32>,
    pub excitations: Vec<ExcitationTap>,
}

impl Baseline {
    /// The class with the largest logit (the first of equals).
    pub fn predicted(&self) -> usize {
        predicted(&self.logits)
    }
}

/// The class with the largest logit (the first of equals), as `argmax` in PyTorch.
pub fn predicted(logits: &[f32]) -> usize {
    (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// The interventions to run over a set of images, with the gates each one sets.
#[derive(Clone, Debug)]
pub struct Plan {
    blocks: Vec<String>,
    dataset_means: Vec<Vec<f32>>,
    /// `[block][class]`; `None` for a class without images.
    class_means: Vec<Vec<Option<Vec<f32>>>>,
    permutations: Vec<Vec<usize>>,
    pub seed: u64,
    /// Every block × replacement × reach, blocks from the last backwards.
    pub interventions: Vec<Intervention>,
}

impl Plan {
    /// The plan for the images whose unmodified runs are `baselines` (all with the same blocks;
    /// none may be empty), `classes` classes, permutations drawn from `seed`.
    pub fn new(blocks: &[String], baselines: &[Baseline], classes: usize, seed: u64) -> Self {
        let mut sums = ClassStatsSums::new(classes);
        for baseline in baselines {
            sums.add(baseline.class, &baseline.excitations);
        }
        let ClassStats {
            class_counts,
            blocks: stats,
        } = sums.finish();
        let to_f32 = |values: &[f64]| values.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let dataset_means = stats.iter().map(|block| to_f32(&block.mean)).collect();
        let class_means = stats
            .iter()
            .map(|block| {
                block
                    .class_means
                    .iter()
                    .zip(&class_counts)
                    .map(|(mean, &count)| (count > 0).then(|| to_f32(mean)))
                    .collect()
            })
            .collect();
        let widths = baselines.first().map_or(vec![0; blocks.len()], |b| {
            b.excitations.iter().map(|tap| tap.values.len()).collect()
        });
        let permutations = widths
            .iter()
            .enumerate()
            .map(|(i, &channels)| permutation(channels, seed ^ i as u64))
            .collect();
        let interventions = (0..blocks.len())
            .rev()
            .flat_map(|block| {
                [Reach::Alone, Reach::ToTheEnd]
                    .into_iter()
                    .flat_map(move |reach| {
                        Replacement::ALL
                            .into_iter()
                            .map(move |replacement| Intervention {
                                block,
                                replacement,
                                reach,
                            })
                    })
            })
            .collect();
        Self {
            blocks: blocks.to_vec(),
            dataset_means,
            class_means,
            permutations,
            seed,
            interventions,
        }
    }

    /// The SE blocks' module paths.
    pub fn blocks(&self) -> &[String] {
        &self.blocks
    }

    /// Block `block`'s mean gate per channel over the images.
    pub fn dataset_mean(&self, block: usize) -> &[f32] {
        &self.dataset_means[block]
    }

    /// Block `block`'s channel permutation: channel `c` gets the gate of channel `perm[c]`.
    pub fn permutation(&self, block: usize) -> &[usize] {
        &self.permutations[block]
    }

    /// The run options that carry out `intervention` on `image`.
    pub fn options(&self, intervention: Intervention, image: &Baseline) -> RunOptions {
        let last = match intervention.reach {
            Reach::Alone => intervention.block,
            Reach::ToTheEnd => self.blocks.len() - 1,
        };
        let gate_overrides: HashMap<String, GateOverride> = (intervention.block..=last)
            .map(|block| {
                let gate = self.replacement(intervention.replacement, block, image);
                (self.blocks[block].clone(), gate)
            })
            .collect();
        RunOptions {
            gate_overrides,
            ..RunOptions::default()
        }
    }

    fn replacement(
        &self,
        replacement: Replacement,
        block: usize,
        image: &Baseline,
    ) -> GateOverride {
        let dataset_mean = &self.dataset_means[block];
        GateOverride::Values(match replacement {
            Replacement::Ones => return GateOverride::Ones,
            Replacement::DatasetMean => dataset_mean.clone(),
            Replacement::ClassMean => self.class_means[block]
                .get(image.predicted())
                .and_then(Option::as_ref)
                .unwrap_or(dataset_mean)
                .clone(),
            Replacement::Permuted => self.permutations[block]
                .iter()
                .map(|&from| image.excitations[block].values[from])
                .collect(),
        })
    }
}

/// A permutation of `0..n` drawn from `seed`: Fisher–Yates on SplitMix64, so that any language
/// can draw the same one (`tools/interventions_torch.py` reads it from the CLI's output instead).
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// The next number of Steele, Lea and Flood's SplitMix64 generator.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What one intervention did over the images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterventionResult {
    /// The (first) block replaced.
    pub block: String,
    pub replacement: Replacement,
    pub reach: Reach,
    /// Images classified correctly with the replacement.
    pub correct: usize,
    pub accuracy: f64,
    /// The mean over the images of (the true class's logit with the replacement − without it).
    pub mean_true_logit_change: f64,
}

/// Running sums of what each of a plan's interventions did.
#[derive(Clone, Debug)]
pub struct InterventionSums {
    images: usize,
    correct: Vec<usize>,
    logit_change: Vec<f64>,
}

impl InterventionSums {
    pub fn new(plan: &Plan) -> Self {
        let n = plan.interventions.len();
        Self {
            images: 0,
            correct: vec![0; n],
            logit_change: vec![0.0; n],
        }
    }

    /// Adds one image: `logits[i]` are its logits under `plan.interventions[i]`.
    pub fn add(&mut self, image: &Baseline, logits: &[Vec<f32>]) {
        assert_eq!(logits.len(), self.correct.len(), "one run per intervention");
        let truth = image.logits[image.class];
        for (i, logits) in logits.iter().enumerate() {
            self.correct[i] += usize::from(predicted(logits) == image.class);
            self.logit_change[i] += f64::from(logits[image.class] - truth);
        }
        self.images += 1;
    }

    pub fn finish(&self, plan: &Plan) -> Vec<InterventionResult> {
        let images = self.images.max(1) as f64;
        plan.interventions
            .iter()
            .enumerate()
            .map(|(i, intervention)| InterventionResult {
                block: plan.blocks[intervention.block].clone(),
                replacement: intervention.replacement,
                reach: intervention.reach,
                correct: self.correct[i],
                accuracy: self.correct[i] as f64 / images,
                mean_true_logit_change: self.logit_change[i] / images,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(class: usize, logits: [f32; 3], gates: [f32; 4]) -> Baseline {
        let tap = |block: &str, values: &[f32]| ExcitationTap {
            block: block.into(),
            values: values.to_vec(),
        };
        Baseline {
            class,
            logits: logits.to_vec(),
            excitations: vec![tap("a", &gates[..2]), tap("b", &gates[2..])],
        }
    }

    fn values(options: &RunOptions, block: &str) -> Option<Vec<f32>> {
        match options.gate_overrides.get(block)? {
            GateOverride::Values(values) => Some(values.clone()),
            GateOverride::Ones => Some(vec![1.0; 2]),
        }
    }

    #[test]
    fn each_replacement_sets_the_gates_it_names() {
        let blocks = ["a".to_string(), "b".to_string()];
        // Class 0: two images; class 1: one; class 2: none.
        let images = [
            image(0, [2.0, 1.0, 0.0], [0.2, 0.4, 0.6, 0.8]),
            image(0, [0.0, 1.0, 0.0], [0.4, 0.6, 0.2, 0.2]),
            image(1, [0.0, 0.0, 5.0], [0.9, 0.1, 1.0, 0.0]),
        ];
        let plan = Plan::new(&blocks, &images, 3, 7);
        assert_eq!(plan.interventions.len(), 2 * INTERVENTIONS_PER_BLOCK);
        assert_eq!(
            plan.interventions[0].block, 1,
            "from the last block backwards"
        );
        let run = |block, replacement, reach, image: &Baseline| {
            plan.options(
                Intervention {
                    block,
                    replacement,
                    reach,
                },
                image,
            )
        };

        let ones = run(1, Replacement::Ones, Reach::Alone, &images[0]);
        assert_eq!(ones.gate_overrides.len(), 1);
        assert_eq!(ones.gate_overrides["b"], GateOverride::Ones);

        let mean = run(0, Replacement::DatasetMean, Reach::ToTheEnd, &images[0]);
        let close =
            |a: Vec<f32>, b: [f32; 2]| (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6;
        assert!(close(values(&mean, "a").unwrap(), [0.5, 0.366_666_7]));
        assert!(close(values(&mean, "b").unwrap(), [0.6, 1.0 / 3.0]));

        // Image 0 is predicted class 0 (mean of images 0 and 1); image 1 is predicted class 1
        // (image 2 alone); image 2 is predicted class 2, which has no images: the dataset mean.
        let class = |i: usize| {
            values(
                &run(0, Replacement::ClassMean, Reach::Alone, &images[i]),
                "a",
            )
            .unwrap()
        };
        assert!(close(class(0), [0.3, 0.5]));
        assert!(close(class(1), [0.9, 0.1]));
        assert!(close(class(2), [0.5, 0.366_666_7]));

        let permuted = values(
            &run(0, Replacement::Permuted, Reach::Alone, &images[0]),
            "a",
        )
        .unwrap();
        let perm = plan.permutation(0);
        assert_eq!(
            permuted,
            vec![
                images[0].excitations[0].values[perm[0]],
                images[0].excitations[0].values[perm[1]]
            ]
        );
    }

    #[test]
    fn names_are_the_json_names() {
        for replacement in Replacement::ALL {
            let json = serde_json::to_string(&replacement).unwrap();
            assert_eq!(json, format!("\"{}\"", replacement.name()));
        }
        for reach in [Reach::Alone, Reach::ToTheEnd] {
            assert_eq!(
                serde_json::to_string(&reach).unwrap(),
                format!("\"{}\"", reach.name())
            );
        }
    }

    #[test]
    fn permutations_are_permutations_and_depend_on_the_seed_only() {
        for n in [0, 1, 2, 17, 64] {
            let mut p = permutation(n, 3);
            assert_eq!(p, permutation(n, 3));
            p.sort_unstable();
            assert_eq!(p, (0..n).collect::<Vec<_>>());
        }
        assert_ne!(permutation(64, 3), permutation(64, 4));
        // SplitMix64's first outputs for seed 0, as its reference implementation gives them.
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut state), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn sums_count_correct_images_and_average_the_true_logit_change() {
        let blocks = ["a".to_string(), "b".to_string()];
        let images = [
            image(0, [2.0, 1.0, 0.0], [0.2, 0.4, 0.6, 0.8]),
            image(2, [0.0, 1.0, 3.0], [0.4, 0.6, 0.2, 0.2]),
        ];
        let plan = Plan::new(&blocks, &images, 3, 0);
        let mut sums = InterventionSums::new(&plan);
        let n = plan.interventions.len();
        // Every intervention: image 0 flips to class 1 and its logit drops by 1.5; image 2 stays
        // right and its logit rises by 0.5.
        sums.add(&images[0], &vec![vec![0.5, 1.0, 0.0]; n]);
        sums.add(&images[1], &vec![vec![0.0, 1.0, 3.5]; n]);
        let results = sums.finish(&plan);
        assert_eq!(results.len(), n);
        assert_eq!(results[0].block, "b");
        assert!(results.iter().all(|r| r.correct == 1 && r.accuracy == 0.5));
        assert!(results
            .iter()
            .all(|r| (r.mean_true_logit_change + 0.5).abs() < 1e-12));
    }
}
