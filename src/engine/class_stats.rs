//! The SE paper's Fig. 6 statistics: every SE block's mean gate per channel over the images of
//! each class, and over all images. The CLI (`se-lens evaluate`) and the page share this.

use serde::{Deserialize, Serialize};

use super::ExcitationTap;

/// Running sums of gates per class, block and channel.
#[derive(Clone, Debug, Default)]
pub struct ClassStatsSums {
    classes: usize,
    counts: Vec<usize>,
    /// Per block: its name and `[class][channel]` sums (f64: 10 000 images add up).
    blocks: Vec<(String, Vec<Vec<f64>>)>,
}

/// The finished statistics, as `se-lens evaluate` prints them and the page plots them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Images per class.
    pub class_counts: Vec<usize>,
    pub blocks: Vec<BlockClassStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockClassStats {
    pub block: String,
    /// `class_means[class][channel]`: the mean gate over that class's images (0 for a class
    /// without images).
    pub class_means: Vec<Vec<f64>>,
    /// The mean gate over all images.
    pub mean: Vec<f64>,
}

impl ClassStatsSums {
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes],
            blocks: Vec::new(),
        }
    }

    /// Adds one image of `class` (batch 1) with its gates; `false` if the class is out of range
    /// or the blocks differ from the images added before.
    pub fn add(&mut self, class: usize, excitations: &[ExcitationTap]) -> bool {
        if class >= self.classes {
            return false;
        }
        if self.blocks.is_empty() {
            self.blocks = excitations
                .iter()
                .map(|tap| {
                    let channels = vec![0.0; tap.values.len()];
                    (tap.block.clone(), vec![channels; self.classes])
                })
                .collect();
        }
        let same = self.blocks.len() == excitations.len()
            && self
                .blocks
                .iter()
                .zip(excitations)
                .all(|((name, sums), tap)| {
                    *name == tap.block && sums[class].len() == tap.values.len()
                });
        if !same {
            return false;
        }
        for ((_, sums), tap) in self.blocks.iter_mut().zip(excitations) {
            for (sum, &gate) in sums[class].iter_mut().zip(&tap.values) {
                *sum += f64::from(gate);
            }
        }
        self.counts[class] += 1;
        true
    }

    pub fn finish(&self) -> ClassStats {
        let images: usize = self.counts.iter().sum();
        let blocks = self
            .blocks
            .iter()
            .map(|(block, sums)| {
                let class_means = sums
                    .iter()
                    .zip(&self.counts)
                    .map(|(row, &n)| row.iter().map(|s| s / n.max(1) as f64).collect())
                    .collect();
                let channels = sums.first().map_or(0, Vec::len);
                let mean = (0..channels)
                    .map(|c| sums.iter().map(|row| row[c]).sum::<f64>() / images.max(1) as f64)
                    .collect();
                BlockClassStats {
                    block: block.clone(),
                    class_means,
                    mean,
                }
            })
            .collect();
        ClassStats {
            class_counts: self.counts.clone(),
            blocks,
        }
    }
}

/// The class a folder of images stands for: a class index below `labels.len()`, or a label
/// (with `/` written as `_`, since file names cannot hold it).
pub fn class_of_folder(name: &str, labels: &[String]) -> Option<usize> {
    name.parse::<usize>()
        .ok()
        .filter(|&c| c < labels.len())
        .or_else(|| labels.iter().position(|l| l.replace('/', "_") == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap(block: &str, values: &[f32]) -> ExcitationTap {
        ExcitationTap {
            block: block.into(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn means_per_class_and_over_all_images() {
        let mut sums = ClassStatsSums::new(3);
        assert!(sums.add(0, &[tap("a", &[0.2, 0.4])]));
        assert!(sums.add(0, &[tap("a", &[0.4, 0.8])]));
        assert!(sums.add(2, &[tap("a", &[0.9, 0.0])]));
        assert!(!sums.add(3, &[tap("a", &[0.9, 0.0])]), "class out of range");
        assert!(!sums.add(1, &[tap("b", &[0.9, 0.0])]), "another network");
        let stats = sums.finish();
        assert_eq!(stats.class_counts, [2, 0, 1]);
        let block = &stats.blocks[0];
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        assert!(close(&block.class_means[0], &[0.3, 0.6]));
        assert!(close(&block.class_means[1], &[0.0, 0.0]));
        assert!(close(&block.mean, &[0.5, 0.4]));
    }

    #[test]
    fn folders_name_classes_by_index_or_label() {
        let labels = ["T-shirt/top".to_string(), "Trouser".into()];
        assert_eq!(class_of_folder("1", &labels), Some(1));
        assert_eq!(class_of_folder("T-shirt_top", &labels), Some(0));
        assert_eq!(class_of_folder("2", &labels), None);
        assert_eq!(class_of_folder("Coat", &labels), None);
    }
}
