//! The squeeze-region probe: the gate an SE block computes when its squeeze sees only part of
//! its input feature map. The paper's squeeze pools every position, so each gate hears the whole
//! image; pooling a region instead shows which gates depend on what lies outside it.
//!
//! The gate is recomputed on the CPU from the tapped feature map by the block's own nodes
//! between its squeeze and its gate (linear layers, activations, the sum of a mean and a max
//! branch), with the squeeze taken over the region. Over the whole map it is the run's own gate,
//! bit for bit: the masked mean sums in the same order as the squeeze kernel.

use std::collections::HashMap;

use crate::cpu;
use crate::engine::graph::{Graph, Op, ValueId};
use crate::engine::{SeBlock, Tensor};

/// The positions of a feature map that a squeeze pools.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    pub height: usize,
    pub width: usize,
    /// Row-major, `height × width`.
    pub cells: Vec<bool>,
}

impl Region {
    /// Every position: the paper's global squeeze.
    pub fn full(height: usize, width: usize) -> Self {
        Self {
            height,
            width,
            cells: vec![true; height * width],
        }
    }

    /// The positions of a `height × width` map whose centres lie in `rect`, given as fractions of
    /// the network's input `[left, top, right, bottom]` (a map spans the whole input, each
    /// position a `1 / width` by `1 / height` patch of it). A rectangle that holds no centre gets
    /// the position under its own centre, so a region is never empty.
    pub fn from_rect(rect: [f32; 4], height: usize, width: usize) -> Self {
        let [left, top, right, bottom] = rect;
        let (left, right) = (left.min(right), left.max(right));
        let (top, bottom) = (top.min(bottom), top.max(bottom));
        let centre = |i: usize, n: usize| (i as f32 + 0.5) / n as f32;
        // Half-open, so that two halves share no position (the middle column of an odd map
        // goes right); a rectangle to the edge takes the edge.
        let within = |c: f32, low: f32, high: f32| c >= low && (c < high || high >= 1.0);
        let mut cells: Vec<bool> = (0..height * width)
            .map(|i| {
                let (x, y) = (centre(i % width, width), centre(i / width, height));
                within(x, left, right) && within(y, top, bottom)
            })
            .collect();
        if !cells.contains(&true) && !cells.is_empty() {
            let at = |middle: f32, n: usize| ((middle * n as f32) as usize).min(n - 1);
            let row = at((top + bottom) / 2.0, height);
            let column = at((left + right) / 2.0, width);
            cells[row * width + column] = true;
        }
        Self {
            height,
            width,
            cells,
        }
    }

    /// How many positions the squeeze pools.
    pub fn count(&self) -> usize {
        self.cells.iter().filter(|&&c| c).count()
    }
}

/// Why a block's gate cannot be recomputed from a region.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RegionError {
    #[error("the feature map is {got:?}; {block} takes [1, {channels}, H, W] and the region is {height}×{width}")]
    Shape {
        block: String,
        channels: usize,
        got: [usize; 4],
        height: usize,
        width: usize,
    },
    #[error("{block}'s gate reads more than the squeeze of its input ({node}), so a region cannot stand in for the squeeze")]
    Unsupported { block: String, node: String },
}

/// `se`'s gate on `map` (its tapped input on one image, `[1, C, H, W]`) with its squeeze pooled
/// over `region` only.
pub fn region_gates(
    graph: &Graph,
    se: &SeBlock,
    map: &Tensor,
    region: &Region,
) -> Result<Vec<f32>, RegionError> {
    let [batch, channels, height, width] = map.shape;
    if batch != 1 || channels != se.channels || (height, width) != (region.height, region.width) {
        return Err(RegionError::Shape {
            block: se.name.clone(),
            channels: se.channels,
            got: map.shape,
            height: region.height,
            width: region.width,
        });
    }
    let unsupported = |node: &str| RegionError::Unsupported {
        block: se.name.clone(),
        node: node.to_string(),
    };
    // The nodes between the squeezes and the gate, found from the gate backwards.
    let mut needed = vec![false; graph.values.len()];
    needed[se.gate] = true;
    let mut plan = Vec::new();
    for (id, node) in graph.nodes.iter().enumerate().rev() {
        let Some(output) = node.outputs.iter().position(|&v| needed[v]) else {
            continue;
        };
        let squeezes_input = match &node.op {
            Op::GlobalAvgPool | Op::GlobalMaxPool => node.inputs[0] == se.input,
            Op::Conv { squeeze: true, .. } => node.outputs[0] == se.input && output == 1,
            _ => false,
        };
        // A convolution after the squeeze is a linear layer on a 1×1 map.
        let on_vectors = matches!(
            node.op,
            Op::Linear(_) | Op::Conv { .. } | Op::Act(_) | Op::Binary(_) | Op::Identity
        );
        let after_squeeze = on_vectors && !node.inputs.contains(&se.input);
        if !(squeezes_input || after_squeeze) {
            return Err(unsupported(&node.name));
        }
        plan.push(id);
        if !squeezes_input {
            for &input in &node.inputs {
                needed[input] = true;
            }
        }
    }
    let plane = height * width;
    let planes = || map.data.chunks_exact(plane);
    let mut values: HashMap<ValueId, Tensor> = HashMap::new();
    for &id in plan.iter().rev() {
        let node = &graph.nodes[id];
        let input = |i: usize| {
            values
                .get(&node.inputs[i])
                .ok_or_else(|| unsupported(&node.name))
        };
        let squeezed = |reduce: fn(&[f32], &[bool]) -> f32| {
            let data = planes().map(|p| reduce(p, &region.cells)).collect();
            Tensor::new([1, channels, 1, 1], data)
        };
        let (value, tensor) = match &node.op {
            Op::GlobalAvgPool => (node.outputs[0], squeezed(cpu::masked_mean)),
            Op::GlobalMaxPool => (node.outputs[0], squeezed(cpu::masked_max)),
            Op::Conv { .. } if node.outputs[0] == se.input => {
                (node.outputs[1], squeezed(cpu::masked_mean))
            }
            Op::Conv { conv, act, .. } => (node.outputs[0], cpu::conv2d(input(0)?, conv, *act)),
            Op::Linear(linear) => (node.outputs[0], cpu::linear(input(0)?, linear)),
            Op::Act(act) => {
                let mut x = input(0)?.clone();
                cpu::activation(&mut x, *act);
                (node.outputs[0], x)
            }
            Op::Binary(op) => {
                let mut a = input(0)?.clone();
                cpu::binary(&mut a, *op, input(1)?);
                (node.outputs[0], a)
            }
            _ => (node.outputs[0], input(0)?.clone()),
        };
        values.insert(value, tensor);
    }
    values
        .remove(&se.gate)
        .map(|gate| gate.data)
        .ok_or_else(|| unsupported(&se.name))
}

/// The halves of the image the probe's summary squeezes over, as [`Region::from_rect`] takes them.
pub const HALVES: [(&str, [f32; 4]); 4] = [
    ("left", [0.0, 0.0, 0.5, 1.0]),
    ("right", [0.5, 0.0, 1.0, 1.0]),
    ("top", [0.0, 0.0, 1.0, 0.5]),
    ("bottom", [0.0, 0.5, 1.0, 1.0]),
];

/// How far one block's gates move, over many images, when its squeeze sees only half of the
/// image; beside how far they differ from one image to the next.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegionSensitivity {
    pub block: String,
    /// The block's feature map, `[height, width]`.
    pub map: [usize; 2],
    /// Mean `|gate(half) − gate(whole image)|` over images and channels, per half of
    /// [`HALVES`] (left, right, top, bottom).
    pub halves: [f64; 4],
    /// Mean `|gate − its mean over the images|` over images and channels: how much the gates
    /// vary between images, to read `halves` against.
    pub between_images: f64,
}

/// One image's numbers for one block, for [`RegionSums`].
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRegions {
    block: String,
    map: [usize; 2],
    /// `halves` then `between_images`, for this image.
    values: [f64; 5],
}

impl ImageRegions {
    /// Measures `se`'s tapped input `map` (`[1, C, H, W]`) on one image; `mean` is the block's
    /// mean gate per channel over all the images.
    pub fn measure(
        graph: &Graph,
        se: &SeBlock,
        map: &Tensor,
        mean: &[f32],
    ) -> Result<Self, RegionError> {
        let [_, _, height, width] = map.shape;
        let whole = region_gates(graph, se, map, &Region::full(height, width))?;
        let distance = |a: &[f32], b: &[f32]| {
            let sum: f64 = a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum();
            sum / a.len().max(1) as f64
        };
        let mut values = [0.0; 5];
        for (value, (_, rect)) in values.iter_mut().zip(HALVES) {
            let half = region_gates(graph, se, map, &Region::from_rect(rect, height, width))?;
            *value = distance(&half, &whole);
        }
        values[4] = distance(&whole, mean);
        Ok(Self {
            block: se.name.clone(),
            map: [height, width],
            values,
        })
    }
}

/// Sums of [`ImageRegions`] into one [`RegionSensitivity`] per block.
#[derive(Default)]
pub struct RegionSums {
    /// Per block, in the order first added: name, map, sums of the values, images.
    blocks: Vec<(String, [usize; 2], [f64; 5], usize)>,
}

impl RegionSums {
    pub fn add(&mut self, image: ImageRegions) {
        let index = match self
            .blocks
            .iter()
            .position(|(name, ..)| *name == image.block)
        {
            Some(i) => i,
            None => {
                self.blocks.push((image.block, image.map, [0.0; 5], 0));
                self.blocks.len() - 1
            }
        };
        let (_, _, sums, images) = &mut self.blocks[index];
        for (sum, value) in sums.iter_mut().zip(image.values) {
            *sum += value;
        }
        *images += 1;
    }

    pub fn finish(self) -> Vec<RegionSensitivity> {
        self.blocks
            .into_iter()
            .map(|(block, map, sums, images)| {
                let mean = |sum: f64| sum / images.max(1) as f64;
                RegionSensitivity {
                    block,
                    map,
                    halves: [0, 1, 2, 3].map(|i| mean(sums[i])),
                    between_images: mean(sums[4]),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rectangle_takes_the_positions_whose_centres_it_holds() {
        let region = Region::from_rect([0.0, 0.0, 0.5, 1.0], 2, 4);
        assert_eq!(
            region.cells,
            [true, true, false, false, true, true, false, false]
        );
        assert_eq!(
            Region::from_rect([0.0, 0.0, 1.0, 1.0], 3, 5),
            Region::full(3, 5)
        );
        // Drawn right to left, bottom to top: the same rectangle.
        assert_eq!(
            Region::from_rect([0.5, 1.0, 0.0, 0.0], 2, 4),
            Region::from_rect([0.0, 0.0, 0.5, 1.0], 2, 4)
        );
    }

    #[test]
    fn the_halves_of_an_odd_map_share_no_position() {
        let [left, right] = [HALVES[0].1, HALVES[1].1].map(|rect| Region::from_rect(rect, 7, 7));
        assert_eq!((left.count(), right.count()), (21, 28));
        assert!(left.cells.iter().zip(&right.cells).all(|(l, r)| l != r));
    }

    #[test]
    fn a_rectangle_between_centres_takes_the_position_under_it() {
        // Between the centres of a 4×4 grid (0.125, 0.375, …), around (0.3, 0.6).
        let region = Region::from_rect([0.28, 0.58, 0.32, 0.62], 4, 4);
        assert_eq!(region.count(), 1);
        assert!(region.cells[2 * 4 + 1]);
    }
}
