//! How saturated each SE block's gates are over a set of images: the share near 0 (the channel
//! switched off) and near 1 (passed unchanged). The SE paper (§6.4) reads a block whose gates are
//! all near 1 as close to an identity, one that could be removed at little cost; the interventions
//! (`super::interventions`) test that reading.

use serde::{Deserialize, Serialize};

use super::{Activation, ExcitationTap};

/// Gates within this of 0 or of 1 count as near it.
pub const NEAR: f32 = 0.05;
/// A block with at least this share of its gates near 1 reads as an identity.
pub const IDENTITY_SHARE: f64 = 0.9;

/// Running counts per block.
#[derive(Clone, Debug, Default)]
pub struct SaturationSums {
    /// Per block: its name, and counts of gates (all, ≤ NEAR, ≥ 1 − NEAR, = 0, = 1) and their sum.
    blocks: Vec<(String, [usize; 5], f64)>,
}

/// One block's saturation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    pub block: String,
    /// The gate function (`sigmoid`, `hard-sigmoid`, …), where the graph has one.
    pub gate_function: Option<String>,
    /// Whether the gate function itself reaches 0 and 1 (hard-sigmoid does; the sigmoid only
    /// approaches them, though f32 rounds it to exactly 1 past about 17).
    pub reaches_bounds: bool,
    /// Shares of all gates (images × channels).
    pub near_zero: f64,
    pub near_one: f64,
    pub exactly_zero: f64,
    pub exactly_one: f64,
    pub mean: f64,
    /// `identity` (at least [`IDENTITY_SHARE`] of the gates near 1), `on/off` (as many near 0 or 1)
    /// or `graded`.
    pub reading: String,
}

impl SaturationSums {
    /// Adds the gates of one run (any batch).
    pub fn add(&mut self, excitations: &[ExcitationTap]) {
        if self.blocks.is_empty() {
            self.blocks = excitations
                .iter()
                .map(|tap| (tap.block.clone(), [0; 5], 0.0))
                .collect();
        }
        for ((_, counts, sum), tap) in self.blocks.iter_mut().zip(excitations) {
            for &gate in &tap.values {
                counts[0] += 1;
                counts[1] += usize::from(gate <= NEAR);
                counts[2] += usize::from(gate >= 1.0 - NEAR);
                counts[3] += usize::from(gate == 0.0);
                counts[4] += usize::from(gate == 1.0);
                *sum += f64::from(gate);
            }
        }
    }

    /// The shares, with each block's gate function (`gates[i]` for block `i`, where known).
    pub fn finish(&self, gates: &[Option<Activation>]) -> Vec<Saturation> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, (block, counts, sum))| {
                let all = counts[0].max(1) as f64;
                let share = |n: usize| n as f64 / all;
                let gate = gates.get(i).copied().flatten();
                let (near_zero, near_one) = (share(counts[1]), share(counts[2]));
                Saturation {
                    block: block.clone(),
                    gate_function: gate.map(|g| g.name().to_string()),
                    reaches_bounds: gate == Some(Activation::HardSigmoid),
                    near_zero,
                    near_one,
                    exactly_zero: share(counts[3]),
                    exactly_one: share(counts[4]),
                    mean: sum / all,
                    reading: if near_one >= IDENTITY_SHARE {
                        "identity"
                    } else if near_zero + near_one >= IDENTITY_SHARE {
                        "on/off"
                    } else {
                        "graded"
                    }
                    .into(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_readings() {
        let tap = |block: &str, values: Vec<f32>| ExcitationTap {
            block: block.into(),
            values,
        };
        let mut sums = SaturationSums::default();
        sums.add(&[
            tap("a", vec![0.0, 0.04, 0.5, 0.96]),
            tap("b", vec![1.0, 0.99, 0.97, 0.95]),
        ]);
        sums.add(&[
            tap("a", vec![1.0, 0.05, 0.06, 0.5]),
            tap("b", vec![1.0, 1.0, 0.99, 0.5]),
        ]);
        let [a, b] = <[Saturation; 2]>::try_from(
            sums.finish(&[Some(Activation::HardSigmoid), Some(Activation::Sigmoid)]),
        )
        .unwrap();
        assert_eq!((a.near_zero, a.near_one), (3.0 / 8.0, 2.0 / 8.0));
        assert_eq!((a.exactly_zero, a.exactly_one), (1.0 / 8.0, 1.0 / 8.0));
        assert_eq!(a.reading, "graded");
        assert!(a.reaches_bounds);
        assert_eq!(a.gate_function.as_deref(), Some("hard-sigmoid"));
        assert_eq!((b.near_one, b.exactly_one), (7.0 / 8.0, 3.0 / 8.0));
        assert_eq!(b.reading, "graded", "7 of 8 near 1 is under 90 %");
        assert!(!b.reaches_bounds);
        let mut sums = SaturationSums::default();
        sums.add(&[tap("a", vec![0.0, 1.0, 0.01, 0.99]), tap("b", vec![1.0; 4])]);
        let [a, b] = <[Saturation; 2]>::try_from(sums.finish(&[None, None])).unwrap();
        assert_eq!(a.reading, "on/off");
        assert_eq!(b.reading, "identity");
        assert_eq!(b.gate_function, None);
    }
}
