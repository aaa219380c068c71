//! What the components show, computed from a run: no tensors past this point. Plain Rust, so
//! it is tested natively.

use std::rc::Rc;

pub use crate::engine::Prediction;
use crate::engine::{
    top_k, Activation, BlockClassStats, ClassStats, Excitation, FeatureMapTap, InterventionResult,
    Reach, Replacement, Report, RunOutput, Saturation, Scores, Tensor, INTERVENTIONS_PER_BLOCK,
};
pub use crate::exec::region::{Region, RegionSensitivity, HALVES};

/// One SE block's gate, ready to draw. Crosses the engine worker's boundary as its name and
/// values only (`BlockWire`); the rest is recomputed on arrival, which is cheaper than parsing it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "BlockWire", from = "BlockWire")]
pub struct BlockView {
    /// The SE module's PyTorch path (`layer2.0.se`).
    pub block: String,
    /// The gate, one value per channel, in `[0, 1]`.
    pub values: Vec<f32>,
    /// Channels from most amplified (largest gate) to most suppressed; ties by channel index.
    pub order: Vec<usize>,
    /// `rank[channel]`: 1 for the most amplified channel.
    pub rank: Vec<usize>,
    pub mean: f32,
    pub std: f32,
    pub min: f32,
    pub max: f32,
}

/// What [`BlockView`] serialises to.
#[derive(serde::Serialize, serde::Deserialize)]
struct BlockWire {
    block: String,
    values: Vec<f32>,
}

impl From<BlockView> for BlockWire {
    fn from(view: BlockView) -> Self {
        Self {
            block: view.block,
            values: view.values,
        }
    }
}

impl From<BlockWire> for BlockView {
    fn from(wire: BlockWire) -> Self {
        BlockView::new(wire.block, wire.values)
    }
}

impl BlockView {
    pub fn new(block: String, values: Vec<f32>) -> Self {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
        let mut rank = vec![0; values.len()];
        for (position, &channel) in order.iter().enumerate() {
            rank[channel] = position + 1;
        }
        let n = values.len().max(1) as f32;
        let mean = values.iter().sum::<f32>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        let min = order.last().map_or(0.0, |&c| values[c]);
        let max = order.first().map_or(0.0, |&c| values[c]);
        Self {
            block,
            values,
            order,
            rank,
            mean,
            std,
            min,
            max,
        }
    }

    /// How many channels the gate shuts off exactly (0) and passes exactly (1): a hard-sigmoid
    /// gate (MobileNetV3) saturates, a sigmoid only approaches both.
    pub fn saturated(&self) -> (usize, usize) {
        let count = |target: f32| self.values.iter().filter(|&&v| v == target).count();
        (count(0.0), count(1.0))
    }

    /// The `n` most amplified channels, strongest first.
    pub fn amplified(&self, n: usize) -> &[usize] {
        &self.order[..n.min(self.order.len())]
    }

    /// The `n` most suppressed channels, weakest first.
    pub fn suppressed(&self, n: usize) -> Vec<usize> {
        self.order.iter().rev().take(n).copied().collect()
    }

    /// The heatmap grid: `(columns, rows)`, one cell per channel, row-major.
    pub fn grid(&self) -> (usize, usize) {
        let columns = if self.values.len() > 256 { 64 } else { 32 };
        let columns = columns.min(self.values.len().max(1));
        (columns, self.values.len().div_ceil(columns).max(1))
    }
}

/// Everything one run shows. Blocks are shared (`Rc`) so components take them without copies.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunView {
    pub top: Vec<Prediction>,
    pub logits: Vec<f32>,
    pub blocks: Vec<Rc<BlockView>>,
}

impl RunView {
    /// The view of a batch-1 run: the `k` most probable classes and every SE block's gate.
    pub fn new(output: &RunOutput, scores: Scores, labels: &[String], k: usize) -> Self {
        let blocks = output
            .excitations
            .iter()
            .map(|tap| Rc::new(BlockView::new(tap.block.clone(), tap.values.clone())))
            .collect();
        Self {
            top: top_k(&output.logits, scores, labels, k),
            logits: output.logits.clone(),
            blocks,
        }
    }

    /// The export file `excitations.json` for this run: [`Report`], the CLI's `--json` line
    /// without its timings.
    pub fn to_json(&self, model: &str, input: &str, backend: &str) -> String {
        let excitations = self
            .blocks
            .iter()
            .map(|b| Excitation {
                block: &b.block,
                values: &b.values,
            })
            .collect();
        Report {
            model,
            input,
            backend,
            adapter: None,
            fallback_reason: None,
            top: &self.top,
            logits: &self.logits,
            excitations,
            timings_ms: None,
        }
        .to_json()
    }

    /// The export file `excitations.csv`: `block,channel,gate,rank`, one row per channel.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from("block,channel,gate,rank\n");
        for block in &self.blocks {
            for (channel, value) in block.values.iter().enumerate() {
                csv += &format!(
                    "{},{channel},{value},{}\n",
                    block.block, block.rank[channel]
                );
            }
        }
        csv
    }
}

/// One channel of an SE block's input, before and after its gate scales it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelDetail {
    pub block: String,
    pub channel: usize,
    pub gate: f32,
    pub width: usize,
    pub height: usize,
    /// The feature map before the gate, row-major `height × width`.
    pub before: Vec<f32>,
    /// `before × gate`, what the rest of the block adds to the shortcut.
    pub after: Vec<f32>,
    /// The largest `|value|` of `before`: both maps share the colour scale `±limit`.
    pub limit: f32,
    /// What the network saw, to draw [`ChannelDetail::raising_squeeze`] on.
    pub picture: Option<InputPicture>,
}

impl ChannelDetail {
    /// The first image's `channel` of `tap`; `None` if the channel is out of range.
    pub fn new(tap: &FeatureMapTap, channel: usize, gate: f32) -> Option<Self> {
        let [_, channels, height, width] = tap.map.shape;
        if channel >= channels {
            return None;
        }
        let plane = height * width;
        let before = tap.map.data[channel * plane..(channel + 1) * plane].to_vec();
        let after = before.iter().map(|v| v * gate).collect();
        let limit = before.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        Some(Self {
            block: tap.block.clone(),
            channel,
            gate,
            width,
            height,
            before,
            after,
            limit,
            picture: None,
        })
    }
}

impl ChannelDetail {
    /// The positions that raise this channel's squeeze most: the fewest of the largest positive
    /// values that together give half of the positive sum (the squeeze is their mean, so these
    /// are where the gate's evidence for this channel comes from). Row-major indices, largest
    /// first; none when no value is positive.
    pub fn raising_squeeze(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.before.len())
            .filter(|&i| self.before[i] > 0.0)
            .collect();
        order.sort_by(|&a, &b| self.before[b].total_cmp(&self.before[a]).then(a.cmp(&b)));
        let positive: f32 = order.iter().map(|&i| self.before[i]).sum();
        let mut sum = 0.0;
        let count = order
            .iter()
            .take_while(|&&i| {
                let below = sum < positive / 2.0;
                sum += self.before[i];
                below
            })
            .count();
        order.truncate(count);
        order
    }
}

/// What the network saw: its input tensor (first image) with the normalisation undone, as RGBA
/// pixels at the network's own resolution (a 1-channel model's input drawn grey).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputPicture {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

impl InputPicture {
    /// `mean` and `std` are the model's (one value, or one per channel).
    pub fn new(input: &Tensor, mean: &[f32], std: &[f32]) -> Self {
        let [_, channels, height, width] = input.shape;
        let plane = height * width;
        let of = |values: &[f32], c: usize| values.get(c).or(values.first()).copied();
        let value = |c: usize, i: usize| {
            let x =
                input.data[c * plane + i] * of(std, c).unwrap_or(1.0) + of(mean, c).unwrap_or(0.0);
            (x * 255.0).round().clamp(0.0, 255.0) as u8
        };
        let rgba = (0..plane)
            .flat_map(|i| {
                let [r, g, b] = [0, 1, 2].map(|c| value(c.min(channels - 1), i));
                [r, g, b, 255]
            })
            .collect();
        Self {
            width,
            height,
            rgba,
        }
    }
}

impl InputPicture {
    /// The picture enlarged `scale` times, a `grid` (`[rows, columns]`, a feature map's size)
    /// laid over it: positions not `kept` are dimmed, the edges of kept ones drawn in `edge`.
    /// Returns `(width, height, rgba)`.
    pub fn with_positions(
        &self,
        grid: [usize; 2],
        kept: &[bool],
        scale: usize,
        edge: [u8; 3],
    ) -> (usize, usize, Vec<u8>) {
        let (width, height) = (self.width * scale, self.height * scale);
        let [rows, columns] = grid;
        let cell = |x: usize, y: usize| (y * rows / height, x * columns / width);
        let is_kept = |x: usize, y: usize| {
            let (row, column) = cell(x, y);
            kept[row * columns + column]
        };
        let mut rgba = Vec::with_capacity(width * height * 4);
        for y in 0..height {
            for x in 0..width {
                let source = ((y / scale) * self.width + x / scale) * 4;
                let [r, g, b] = [0, 1, 2].map(|c| self.rgba[source + c]);
                let inside = is_kept(x, y);
                // An edge: a kept position whose neighbour (or the picture's border) is not.
                let neighbours = [
                    x.checked_sub(1).map(|x| (x, y)),
                    (x + 1 < width).then_some((x + 1, y)),
                    y.checked_sub(1).map(|y| (x, y)),
                    (y + 1 < height).then_some((x, y + 1)),
                ];
                let on_edge = inside
                    && neighbours
                        .iter()
                        .any(|n| n.is_none_or(|(nx, ny)| !is_kept(nx, ny)));
                let pixel = match (inside, on_edge) {
                    (_, true) => edge,
                    (true, false) => [r, g, b],
                    (false, _) => [r, g, b].map(|v| (u16::from(v) * 3 / 10) as u8),
                };
                rgba.extend(pixel);
                rgba.push(255);
            }
        }
        (width, height, rgba)
    }
}

/// The squeeze-region probe on one image: an SE block's gates with its squeeze over the whole
/// feature map and over a region of it (`exec::region`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RegionProbe {
    pub block: String,
    pub region: Region,
    /// The gates of the paper's global squeeze.
    pub full: Vec<f32>,
    /// The gates with the squeeze over `region` only.
    pub probed: Vec<f32>,
}

impl RegionProbe {
    /// `(channel, full, probed)` of the `n` channels the region moved most, largest change
    /// first (ties to the lower channel).
    pub fn most_changed(&self, n: usize) -> Vec<(usize, f32, f32)> {
        let mut order: Vec<usize> = (0..self.full.len()).collect();
        let change = |c: usize| (self.probed[c] - self.full[c]).abs();
        order.sort_by(|&a, &b| change(b).total_cmp(&change(a)).then(a.cmp(&b)));
        order
            .into_iter()
            .take(n)
            .map(|c| (c, self.full[c], self.probed[c]))
            .collect()
    }

    /// The mean of `|probed − full|` over the channels.
    pub fn mean_change(&self) -> f32 {
        let sum: f32 = self
            .full
            .iter()
            .zip(&self.probed)
            .map(|(f, p)| (p - f).abs())
            .sum();
        sum / self.full.len().max(1) as f32
    }
}

/// One SE block on the current image, step by step: the input maps, the squeeze, both FCs, the
/// gate, and what the prediction becomes when the gate function (sigmoid) is left out.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeSteps {
    pub block: String,
    /// The activation after FC1 and the gate function (ReLU and sigmoid in the paper; SiLU in
    /// EfficientNet, hard-sigmoid in MobileNetV3).
    pub act: Activation,
    pub gate_function: Activation,
    /// For a hard-sigmoid gate, its `[slope, offset]` as the model wrote it ([`SeBlock`]).
    ///
    /// [`SeBlock`]: crate::engine::SeBlock
    pub hard_sigmoid: Option<[f32; 2]>,
    pub width: usize,
    pub height: usize,
    /// The block's input (the residual branch's output), first image, `[channel][height·width]`.
    pub maps: Vec<f32>,
    /// The largest `|value|` of `maps`: the thumbnails' shared colour scale `±limit`.
    pub limit: f32,
    /// The squeeze: each channel's mean.
    pub squeezed: Vec<f32>,
    /// FC1 → ReLU: the reduced vector.
    pub hidden: Vec<f32>,
    /// FC2, before the gate function.
    pub logits: Vec<f32>,
    /// sigmoid(FC2): the gate the block applies.
    pub gates: Vec<f32>,
    /// The prediction as the network makes it, and with this block's gate replaced by FC2's raw
    /// output (no gate function), everything else unchanged.
    pub top: Vec<Prediction>,
    pub top_without_sigmoid: Vec<Prediction>,
}

impl SeSteps {
    /// `tap` is the block's input; `squeezed`, `hidden`, `logits` and `gates` the excitation's
    /// steps on it (`cpu::excitation_steps`).
    /// The hard sigmoid's own formula and where it saturates, for the teaching view: PyTorch's
    /// `relu6(x + 3) / 6`, or another slope (Paddle's 0.2) and how it shows in FC2's values.
    pub fn hard_sigmoid_formula(&self) -> String {
        match self.hard_sigmoid {
            Some([slope, offset]) if (slope - 1.0 / 6.0).abs() > 1e-6 || offset != 0.5 => format!(
                "clip({slope}·x + {offset}, 0, 1), a hard sigmoid of slope {slope} (PyTorch's is 1/6): \
                 a straight line between x = {:.2} and x = {:.2}, exactly 0 below and exactly 1 above. \
                 SE Lens folds the slope into FC2, so the FC2 values above are 6·({slope}·x + {offset}) − 3 \
                 and the gate is relu6(FC2 + 3) / 6",
                -offset / slope,
                (1.0 - offset) / slope
            ),
            _ => "relu6(x + 3) / 6: a straight line between −3 and 3, exactly 0 below and exactly 1 above"
                .into(),
        }
    }

    pub fn new(
        tap: &FeatureMapTap,
        [act, gate_function]: [Activation; 2],
        [squeezed, hidden, logits, gates]: [Vec<f32>; 4],
        top: Vec<Prediction>,
        top_without_sigmoid: Vec<Prediction>,
    ) -> Self {
        let [_, channels, height, width] = tap.map.shape;
        let maps = tap.map.data[..channels * height * width].to_vec();
        let limit = maps.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        Self {
            block: tap.block.clone(),
            act,
            gate_function,
            hard_sigmoid: None,
            width,
            height,
            maps,
            limit,
            squeezed,
            hidden,
            logits,
            gates,
            top,
            top_without_sigmoid,
        }
    }

    pub fn channels(&self) -> usize {
        self.gates.len()
    }

    /// The reduction ratio `r`: channels per hidden unit.
    pub fn ratio(&self) -> usize {
        self.channels() / self.hidden.len().max(1)
    }

    /// Channels whose gate would be negative without the sigmoid (their maps would flip sign),
    /// and those whose gate would exceed 1 (amplified beyond the input).
    pub fn without_sigmoid(&self) -> (usize, usize) {
        let negative = self.logits.iter().filter(|&&v| v < 0.0).count();
        let above_one = self.logits.iter().filter(|&&v| v > 1.0).count();
        (negative, above_one)
    }

    /// `channel`'s map scaled by its gate.
    pub fn scaled(&self, channel: usize) -> impl Iterator<Item = f32> + '_ {
        let plane = self.width * self.height;
        self.maps[channel * plane..(channel + 1) * plane]
            .iter()
            .map(move |v| v * self.gates[channel])
    }
}

/// The SE paper's Fig. 6 for one model: per plotted block, each class's mean gate per channel
/// and the mean over all images.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassStatsView {
    /// Where the numbers come from (shown under the plots).
    pub source: String,
    pub labels: Vec<String>,
    pub class_counts: Vec<usize>,
    /// The last SE block of each stage, as the paper plots them.
    pub blocks: Vec<BlockClassStats>,
}

impl ClassStatsView {
    /// Keeps the last SE block of each stage (`layer3.5.se` of `layer3.*`); `None` if `stats`
    /// does not fit `labels` and `blocks` (the model's SE blocks and widths).
    pub fn new(
        source: String,
        stats: ClassStats,
        labels: &[String],
        blocks: &[(String, usize)],
    ) -> Option<Self> {
        let fits = stats.class_counts.len() == labels.len()
            && stats.blocks.len() == blocks.len()
            && stats
                .blocks
                .iter()
                .zip(blocks)
                .all(|(b, (name, channels))| {
                    b.block == *name
                        && b.mean.len() == *channels
                        && b.class_means.len() == labels.len()
                        && b.class_means.iter().all(|row| row.len() == *channels)
                });
        if !fits {
            return None;
        }
        let stage = |name: &str| name.split('.').next().unwrap_or("").to_string();
        let mut last_of_stage: Vec<BlockClassStats> = Vec::new();
        for block in stats.blocks {
            match last_of_stage.last_mut() {
                Some(last) if stage(&last.block) == stage(&block.block) => *last = block,
                _ => last_of_stage.push(block),
            }
        }
        Some(Self {
            source,
            labels: labels.to_vec(),
            class_counts: stats.class_counts,
            blocks: last_of_stage,
        })
    }

    /// The export file: the plotted numbers, in `se-lens evaluate`'s field names.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "source": self.source,
            "labels": self.labels,
            "class_counts": self.class_counts,
            "excitations": self.blocks,
        })
        .to_string()
    }
}

/// How the gates of image B differ from those of image A, block by block (same model).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompareView {
    /// Per block, `B − A` per channel (ranked: 1 = most raised in B).
    pub blocks: Vec<Rc<BlockView>>,
    /// The largest `|B − A|` over all blocks (the colour scale's end).
    pub limit: f32,
}

impl CompareView {
    /// `None` when the runs come from different networks (block names or widths differ).
    pub fn new(a: &RunView, b: &RunView) -> Option<Self> {
        let same = a.blocks.len() == b.blocks.len()
            && a.blocks
                .iter()
                .zip(&b.blocks)
                .all(|(x, y)| x.block == y.block && x.values.len() == y.values.len());
        if !same {
            return None;
        }
        let blocks: Vec<Rc<BlockView>> = a
            .blocks
            .iter()
            .zip(&b.blocks)
            .map(|(x, y)| {
                let diff = y.values.iter().zip(&x.values).map(|(b, a)| b - a).collect();
                Rc::new(BlockView::new(x.block.clone(), diff))
            })
            .collect();
        let limit = blocks
            .iter()
            .flat_map(|b| b.values.iter())
            .fold(0.0f32, |m, v| m.max(v.abs()));
        Some(Self { blocks, limit })
    }

    /// The `n` channels of `block` whose gate changed most, either way, largest `|Δ|` first.
    pub fn most_changed(block: &BlockView, n: usize) -> Vec<usize> {
        let mut channels: Vec<usize> = (0..block.values.len()).collect();
        channels.sort_by(|&x, &y| {
            block.values[y]
                .abs()
                .total_cmp(&block.values[x].abs())
                .then(x.cmp(&y))
        });
        channels.truncate(n);
        channels
    }
}

/// An ONNX model's preprocessing as its form shows it and the page's URL writes it
/// (`?size=&interp=&crop=&mean=&std=&scale=&channels=`): mean and std in the model's own
/// channel order, on its own scale.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocessing {
    /// `224` or `256x192`; `None` where the file fixes its input size.
    pub size: Option<String>,
    pub interp: String,
    pub crop: String,
    pub mean: String,
    pub std: String,
    /// `1` (pixels 0–1) or `255`.
    pub scale: String,
    /// `rgb` or `bgr`.
    pub channels: String,
}

impl Preprocessing {
    /// The preprocessing `model` runs with, if it is an ONNX model.
    pub fn of(model: &super::protocol::ModelSummary) -> Option<Self> {
        let onnx = model.onnx.as_ref()?;
        let cfg = &model.pretrained_cfg;
        let [_, height, width] = cfg.input_size;
        let list = |values: &[f32]| {
            let mut shown: Vec<String> = values
                .iter()
                .map(|v| format!("{}", (v * onnx.scale * 1e4).round() / 1e4))
                .collect();
            if onnx.bgr {
                shown.reverse();
            }
            shown.join(", ")
        };
        Some(Preprocessing {
            size: onnx.open_size.then(|| match height == width {
                true => height.to_string(),
                false => format!("{height}x{width}"),
            }),
            interp: cfg.interpolation.clone(),
            crop: format!("{}", cfg.crop_pct),
            mean: list(&cfg.mean),
            std: list(&cfg.std),
            scale: format!("{}", onnx.scale),
            channels: if onnx.bgr { "bgr" } else { "rgb" }.into(),
        })
    }

    /// The form's values as submitted over `shown`: a mean or std left as shown keeps each
    /// colour's value when the channel order changes (the lists are in the model's order).
    pub fn submitted(mut self, shown: &Preprocessing) -> Preprocessing {
        if self.channels != shown.channels {
            let reversed = |list: &str| {
                let mut parts: Vec<&str> = list.split(',').map(str::trim).collect();
                parts.reverse();
                parts.join(", ")
            };
            if self.mean == shown.mean {
                self.mean = reversed(&self.mean);
            }
            if self.std == shown.std {
                self.std = reversed(&self.std);
            }
        }
        self
    }

    /// The URL parameters it sets (`size` removed where the file fixes it).
    pub fn params(&self) -> [(&'static str, Option<&str>); 7] {
        [
            ("size", self.size.as_deref()),
            ("interp", Some(&self.interp)),
            ("crop", Some(&self.crop)),
            ("mean", Some(&self.mean)),
            ("std", Some(&self.std)),
            ("scale", Some(&self.scale)),
            ("channels", Some(&self.channels)),
        ]
    }
}

/// What replacing each SE block's gates did over a folder of labelled images, as `se-lens
/// evaluate --interventions` reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImportanceView {
    /// Where the numbers come from (shown with them).
    pub source: String,
    pub images: usize,
    /// Images classified correctly with every gate as computed.
    pub correct: usize,
    pub results: Vec<InterventionResult>,
    pub saturation: Vec<Saturation>,
    pub seed: u64,
    pub permutations: Vec<Vec<usize>>,
    /// The squeeze-region probe's summary (empty in an export made before it existed).
    pub regions: Vec<RegionSensitivity>,
}

impl ImportanceView {
    /// The accuracy with every gate as computed.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.images.max(1) as f64
    }

    /// "Which SE blocks can go": each block removed alone (gates set to 1), the least harmful
    /// first (most images still correct, then the smallest drop of the true class's logit).
    pub fn ranked(&self) -> Vec<&InterventionResult> {
        let mut removed = self.select(Replacement::Ones, Reach::Alone);
        removed.sort_by(|a, b| {
            b.correct.cmp(&a.correct).then(
                b.mean_true_logit_change
                    .total_cmp(&a.mean_true_logit_change),
            )
        });
        removed
    }

    /// Blocks removed together from the last one backwards: the first entry removes the last
    /// block, each next one also the block before.
    pub fn cumulative(&self) -> Vec<&InterventionResult> {
        self.select(Replacement::Ones, Reach::ToTheEnd)
    }

    /// The results of `replacement` with `reach`, blocks from the last backwards.
    pub fn select(&self, replacement: Replacement, reach: Reach) -> Vec<&InterventionResult> {
        self.results
            .iter()
            .filter(|r| r.replacement == replacement && r.reach == reach)
            .collect()
    }

    /// The export file: `se-lens evaluate --interventions`' field names.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "source": self.source,
            "images": self.images,
            "correct": self.correct,
            "accuracy": self.accuracy(),
            "saturation": self.saturation,
            "regions": self.regions,
            "interventions": {
                "seed": self.seed,
                "permutations": self.permutations,
                "results": self.results,
            },
        })
        .to_string()
    }

    /// An export file ([`Self::to_json`], or what `se-lens evaluate --interventions` prints with a
    /// `source`), if it is one for a model whose SE blocks are `blocks`.
    pub fn from_json(text: &[u8], blocks: &[String]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Export {
            source: String,
            images: usize,
            correct: usize,
            saturation: Vec<Saturation>,
            interventions: Interventions,
            #[serde(default)]
            regions: Vec<RegionSensitivity>,
        }
        #[derive(serde::Deserialize)]
        struct Interventions {
            seed: u64,
            permutations: Vec<Vec<usize>>,
            results: Vec<InterventionResult>,
        }
        let export: Export = serde_json::from_slice(text).ok()?;
        let fits = export.saturation.iter().map(|s| &s.block).eq(blocks)
            && export.interventions.permutations.len() == blocks.len()
            && export.interventions.results.len() == INTERVENTIONS_PER_BLOCK * blocks.len()
            && export
                .interventions
                .results
                .iter()
                .all(|r| blocks.contains(&r.block))
            && export.regions.iter().all(|r| blocks.contains(&r.block));
        fits.then_some(Self {
            source: export.source,
            images: export.images,
            correct: export.correct,
            results: export.interventions.results,
            saturation: export.saturation,
            seed: export.interventions.seed,
            permutations: export.interventions.permutations,
            regions: export.regions,
        })
    }

    /// The export file `importance.csv`: one row per intervention.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from(
            "block,replacement,reach,correct,images,accuracy,mean_true_logit_change\n",
        );
        for r in &self.results {
            csv += &format!(
                "{},{},{},{},{},{},{}\n",
                r.block,
                r.replacement.name(),
                r.reach.name(),
                r.correct,
                self.images,
                r.accuracy,
                r.mean_true_logit_change
            );
        }
        csv
    }
}

/// A per-block statistic that [`ImportanceView::node_data`] puts on a graph viewer's nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStat {
    /// The block's mean gate over the folder.
    MeanGate,
    /// Percentage points of accuracy lost when the block alone is removed (its gates set to 1).
    AccuracyLost,
}

impl NodeStat {
    pub fn name(self) -> &'static str {
        match self {
            Self::MeanGate => "mean-gate",
            Self::AccuracyLost => "accuracy-lost",
        }
    }
}

impl ImportanceView {
    /// `stat` of every block, by block.
    fn per_block(&self, stat: NodeStat) -> Vec<(&str, f64)> {
        let removed = self.select(Replacement::Ones, Reach::Alone);
        self.saturation
            .iter()
            .map(|s| {
                let value = match stat {
                    NodeStat::MeanGate => s.mean,
                    NodeStat::AccuracyLost => removed
                        .iter()
                        .find(|r| r.block == s.block)
                        .map_or(f64::NAN, |r| (self.accuracy() - r.accuracy) * 100.0),
                };
                (s.block.as_str(), value)
            })
            .collect()
    }

    /// The export `gates.csv`: one row per SE block keyed by its module path, with its gates over
    /// the folder and what removing it alone costs.
    pub fn gates_csv(&self) -> String {
        let removed = self.select(Replacement::Ones, Reach::Alone);
        let mut csv = String::from(
            "block,mean_gate,near_zero,near_one,exactly_zero,exactly_one,reading,accuracy,\
             accuracy_without_block,mean_true_logit_change_without_block\n",
        );
        for s in &self.saturation {
            let without = removed.iter().find(|r| r.block == s.block);
            csv += &format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                s.block,
                s.mean,
                s.near_zero,
                s.near_one,
                s.exactly_zero,
                s.exactly_one,
                s.reading,
                self.accuracy(),
                without.map_or(String::new(), |r| r.accuracy.to_string()),
                without.map_or(String::new(), |r| r.mean_true_logit_change.to_string()),
            );
        }
        csv
    }

    /// Google's Model Explorer node data (its `ModelNodeData` JSON): `stat` of each block on the
    /// node `nodes` names for it (`(block, node id)`), in the graph `graph`, coloured from blue
    /// (lowest) to orange (highest). Blocks without a node are left out.
    pub fn node_data(&self, graph: &str, nodes: &[(String, String)], stat: NodeStat) -> String {
        let results: serde_json::Map<String, serde_json::Value> = self
            .per_block(stat)
            .into_iter()
            .filter(|(_, value)| value.is_finite())
            .filter_map(|(block, value)| {
                let (_, node) = nodes.iter().find(|(b, _)| b == block)?;
                Some((node.clone(), serde_json::json!({ "value": value })))
            })
            .collect();
        serde_json::json!({
            graph: {
                "results": results,
                "gradient": [
                    { "stop": 0, "bgColor": "#4e79a7" },
                    { "stop": 1, "bgColor": "#f28e2b" },
                ],
            }
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_onnx_models_preprocessing_is_shown_in_its_own_order_and_scale() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx");
        let options = crate::model::OnnxOptions {
            input_size: Some([32, 40]),
            mean: Some(vec![103.5, 116.25, 123.75]),
            std: Some(vec![57.5, 57.0, 58.5]),
            scale: Some(255.0),
            channel_order: Some(crate::model::ChannelOrder::Bgr),
            ..Default::default()
        };
        let model =
            crate::model::Model::load(&dir.join("single_conv_se/model.onnx"), &options).unwrap();
        let shown = Preprocessing::of(&super::super::protocol::ModelSummary::of(&model)).unwrap();
        assert_eq!(shown.size.as_deref(), Some("32x40"));
        assert_eq!(
            (shown.mean.as_str(), shown.std.as_str()),
            ("103.5, 116.25, 123.75", "57.5, 57, 58.5")
        );
        assert_eq!(
            (shown.scale.as_str(), shown.channels.as_str()),
            ("255", "bgr")
        );
        assert_eq!(
            (shown.interp.as_str(), shown.crop.as_str()),
            ("bilinear", "0.875")
        );
        // A file with a fixed input size: no size to choose.
        let fixed =
            crate::model::Model::load(&dir.join("bn_excitation/model.onnx"), &Default::default())
                .unwrap();
        let shown = Preprocessing::of(&super::super::protocol::ModelSummary::of(&fixed)).unwrap();
        assert_eq!(shown.size, None);
        assert_eq!(shown.mean, "0.485, 0.456, 0.406");
        assert_eq!(shown.params()[0], ("size", None));
        // To B, G, R with the lists as shown: each colour keeps its value; an edited list stays.
        let bgr = Preprocessing {
            channels: "bgr".into(),
            std: "1, 2, 3".into(),
            ..shown.clone()
        }
        .submitted(&shown);
        assert_eq!(
            (bgr.mean.as_str(), bgr.std.as_str()),
            ("0.406, 0.456, 0.485", "1, 2, 3")
        );
    }

    #[test]
    fn class_stats_keep_the_last_block_of_each_stage_and_check_the_model() {
        let block = |name: &str, v: f64| BlockClassStats {
            block: name.into(),
            class_means: vec![vec![v; 2]; 2],
            mean: vec![v; 2],
        };
        let stats = ClassStats {
            class_counts: vec![3, 4],
            blocks: vec![
                block("layer1.0.se", 0.1),
                block("layer1.1.se", 0.2),
                block("layer2.0.se", 0.3),
            ],
        };
        let labels = ["a".to_string(), "b".into()];
        let blocks: Vec<(String, usize)> =
            stats.blocks.iter().map(|b| (b.block.clone(), 2)).collect();
        let view =
            ClassStatsView::new("test".into(), stats.clone(), &labels, &blocks).expect("fits");
        let names: Vec<&str> = view.blocks.iter().map(|b| b.block.as_str()).collect();
        assert_eq!(names, ["layer1.1.se", "layer2.0.se"]);
        let json: serde_json::Value = serde_json::from_str(&view.to_json()).expect("JSON");
        assert_eq!(json["excitations"][1]["mean"][0], 0.3);
        // Another model's statistics (other widths) are refused.
        let wider: Vec<(String, usize)> = blocks.iter().map(|(n, _)| (n.clone(), 3)).collect();
        assert!(ClassStatsView::new("test".into(), stats, &labels, &wider).is_none());
    }
    use crate::engine::ExcitationTap;

    fn output() -> RunOutput {
        RunOutput {
            logits: vec![0.0, 2.0, 1.0],
            excitations: vec![ExcitationTap {
                block: "layer1.0.se".into(),
                values: vec![0.5, 0.9, 0.1, 0.9],
            }],
            feature_map: None,
        }
    }

    #[test]
    fn the_hard_sigmoid_is_named_with_its_own_slope() {
        let tap = FeatureMapTap {
            block: "se".into(),
            map: crate::engine::Tensor::new([1, 1, 1, 1], vec![1.0]),
        };
        let mut steps = SeSteps::new(
            &tap,
            [Activation::Relu, Activation::HardSigmoid],
            [vec![1.0], vec![1.0], vec![1.0], vec![0.5]],
            Vec::new(),
            Vec::new(),
        );
        assert!(steps.hard_sigmoid_formula().starts_with("relu6(x + 3) / 6"));
        steps.hard_sigmoid = Some([1.0 / 6.0, 0.5]);
        assert!(steps.hard_sigmoid_formula().starts_with("relu6(x + 3) / 6"));
        steps.hard_sigmoid = Some([0.2, 0.5]);
        let text = steps.hard_sigmoid_formula();
        assert!(
            text.starts_with("clip(0.2·x + 0.5, 0, 1), a hard sigmoid of slope 0.2"),
            "{text}"
        );
        assert!(text.contains("between x = -2.50 and x = 2.50"), "{text}");
    }

    #[test]
    fn top_k_is_sorted_and_labelled() {
        let labels = ["a", "b", "c"].map(String::from);
        let view = RunView::new(&output(), Scores::Logits, &labels, 2);
        assert_eq!(
            view.top
                .iter()
                .map(|p| p.label.as_str())
                .collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(view.top[0].prob > view.top[1].prob);
    }

    #[test]
    fn ranks_order_channels_from_amplified_to_suppressed() {
        let view = RunView::new(&output(), Scores::Logits, &[], 1);
        let block = &view.blocks[0];
        assert_eq!(block.order, [1, 3, 0, 2]);
        assert_eq!(block.rank, [3, 1, 4, 2]);
        assert_eq!(block.amplified(2), [1, 3]);
        assert_eq!(block.suppressed(2), [2, 0]);
        assert_eq!(block.grid(), (4, 1));
        assert!((block.mean - 0.6).abs() < 1e-6);
        assert_eq!((block.min, block.max), (0.1, 0.9));
    }

    #[test]
    fn saturation_counts_only_exact_zeros_and_ones() {
        // A hard-sigmoid gate reaches 0 and 1 exactly; a sigmoid's 0.9999 is not saturated.
        let block = BlockView::new("blocks.2.0.se".into(), vec![0.0, 1.0, 1.0, 0.9999, 1e-7]);
        assert_eq!(block.saturated(), (1, 2));
    }

    #[test]
    fn comparison_is_b_minus_a_and_needs_the_same_network() {
        let a = RunView::new(&output(), Scores::Logits, &[], 1);
        let mut other = output();
        other.excitations[0].values = vec![0.5, 0.2, 0.4, 0.9];
        let b = RunView::new(&other, Scores::Logits, &[], 1);
        let compare = CompareView::new(&a, &b).expect("same network");
        let diff = &compare.blocks[0].values;
        assert!((diff[1] + 0.7).abs() < 1e-6 && (diff[2] - 0.3).abs() < 1e-6);
        assert!((compare.limit - 0.7).abs() < 1e-6);
        assert_eq!(CompareView::most_changed(&compare.blocks[0], 2), [1, 2]);
        other.excitations[0].values.push(0.0);
        assert!(CompareView::new(&a, &RunView::new(&other, Scores::Logits, &[], 1)).is_none());
    }

    #[test]
    fn the_positions_raising_a_squeeze_give_half_its_positive_sum() {
        let tap = FeatureMapTap {
            block: "b".into(),
            map: Tensor::new([1, 1, 2, 3], vec![1.0, -5.0, 4.0, 2.0, 0.0, 3.0]),
        };
        let detail = ChannelDetail::new(&tap, 0, 0.5).unwrap();
        // Positive sum 10: 4 alone is below half, 4 + 3 reaches it.
        assert_eq!(detail.raising_squeeze(), [2, 5]);
        let negative = FeatureMapTap {
            block: "b".into(),
            map: Tensor::new([1, 1, 1, 2], vec![-1.0, 0.0]),
        };
        assert!(ChannelDetail::new(&negative, 0, 0.5)
            .unwrap()
            .raising_squeeze()
            .is_empty());
    }

    #[test]
    fn the_input_picture_undoes_the_normalisation() {
        // A 1×2 image of a 1-channel model, drawn grey.
        let input = Tensor::new([1, 1, 1, 2], vec![(0.0 - 0.5) / 0.25, (1.0 - 0.5) / 0.25]);
        let picture = InputPicture::new(&input, &[0.5], &[0.25]);
        assert_eq!(picture.rgba, [0, 0, 0, 255, 255, 255, 255, 255]);
        let rgb = Tensor::new([1, 3, 1, 1], vec![0.0, 1.0, -10.0]);
        let picture = InputPicture::new(&rgb, &[0.2, 0.4, 0.6], &[1.0, 0.5, 0.5]);
        assert_eq!(picture.rgba, [51, 230, 0, 255]);
    }

    #[test]
    fn positions_over_a_picture_dim_the_rest_and_edge_the_kept() {
        let picture = InputPicture {
            width: 2,
            height: 2,
            rgba: vec![100; 16],
        };
        // A 2×2 grid, the top-left position kept, the picture drawn 3 times larger.
        let (width, height, rgba) =
            picture.with_positions([2, 2], &[true, false, false, false], 3, [255, 0, 0]);
        assert_eq!((width, height), (6, 6));
        let at = |x: usize, y: usize| &rgba[(y * width + x) * 4..(y * width + x) * 4 + 3];
        assert_eq!(at(1, 1), [100, 100, 100], "inside a kept position");
        assert_eq!(at(0, 0), [255, 0, 0], "the kept position's edge");
        assert_eq!(at(2, 1), [255, 0, 0], "its edge towards a dimmed one");
        assert_eq!(at(4, 4), [30, 30, 30], "dimmed");
    }

    #[test]
    fn a_region_probe_ranks_the_channels_it_moved() {
        let probe = RegionProbe {
            block: "b".into(),
            region: Region::full(1, 1),
            full: vec![0.5, 0.5, 0.5, 0.5],
            probed: vec![0.5, 0.9, 0.2, 0.1],
        };
        let most: Vec<usize> = probe.most_changed(2).iter().map(|m| m.0).collect();
        assert_eq!(most, [3, 1]);
        assert!((probe.mean_change() - 0.275).abs() < 1e-6);
    }

    #[test]
    fn channel_detail_scales_the_map_by_the_gate() {
        let tap = FeatureMapTap {
            block: "layer1.0.se".into(),
            map: crate::engine::Tensor::new([1, 2, 1, 3], vec![1.0, 2.0, 3.0, -4.0, 0.5, 2.0]),
        };
        let detail = ChannelDetail::new(&tap, 1, 0.25).expect("channel 1 exists");
        assert_eq!(detail.before, [-4.0, 0.5, 2.0]);
        assert_eq!(detail.after, [-1.0, 0.125, 0.5]);
        assert_eq!((detail.width, detail.height, detail.limit), (3, 1, 4.0));
        assert!(ChannelDetail::new(&tap, 2, 1.0).is_none());
    }

    #[test]
    fn exports_carry_every_channel() {
        let view = RunView::new(&output(), Scores::Logits, &[], 1);
        let json: serde_json::Value =
            serde_json::from_str(&view.to_json("m", "x.png", "cpu")).expect("valid JSON");
        assert_eq!(
            json["excitations"][0]["values"].as_array().unwrap().len(),
            4
        );
        let csv = view.to_csv();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.contains("layer1.0.se,1,0.9,1"));
    }

    #[test]
    fn importance_ranks_removed_blocks_and_exports_every_intervention() {
        let result = |block: &str, replacement, reach, correct, change| InterventionResult {
            block: block.into(),
            replacement,
            reach,
            correct,
            accuracy: correct as f64 / 10.0,
            mean_true_logit_change: change,
        };
        let view = ImportanceView {
            source: "10 images".into(),
            images: 10,
            correct: 9,
            results: vec![
                result("b", Replacement::Ones, Reach::Alone, 9, -0.5),
                result("b", Replacement::Ones, Reach::ToTheEnd, 9, -0.5),
                result("b", Replacement::Permuted, Reach::Alone, 4, -3.0),
                result("a", Replacement::Ones, Reach::Alone, 9, -0.25),
                result("a", Replacement::Ones, Reach::ToTheEnd, 2, -6.0),
                result("c", Replacement::Ones, Reach::Alone, 7, 0.5),
            ],
            saturation: Vec::new(),
            seed: 0,
            permutations: vec![vec![1, 0]],
            regions: Vec::new(),
        };
        let blocks = |results: Vec<&InterventionResult>| {
            results.iter().map(|r| r.block.clone()).collect::<Vec<_>>()
        };
        // Equal counts: the smaller logit drop first; fewer correct images last.
        assert_eq!(blocks(view.ranked()), ["a", "b", "c"]);
        assert_eq!(blocks(view.cumulative()), ["b", "a"]);
        assert_eq!(view.accuracy(), 0.9);
        let csv = view.to_csv();
        assert_eq!(csv.lines().count(), 1 + 6);
        assert_eq!(csv.lines().nth(3), Some("b,permuted,alone,4,10,0.4,-3"));
        let json: serde_json::Value = serde_json::from_str(&view.to_json()).unwrap();
        assert_eq!(json["interventions"]["results"][4]["reach"], "to_the_end");
        assert_eq!(json["correct"], 9);
    }

    #[test]
    fn importance_reads_back_its_export_for_the_same_blocks_only() {
        let blocks = ["a".to_string()];
        let result = |replacement, reach| InterventionResult {
            block: "a".into(),
            replacement,
            reach,
            correct: 3,
            accuracy: 0.75,
            mean_true_logit_change: -0.125,
        };
        let view = ImportanceView {
            source: "4 images".into(),
            images: 4,
            correct: 4,
            results: [Reach::Alone, Reach::ToTheEnd]
                .into_iter()
                .flat_map(|reach| Replacement::ALL.map(|r| result(r, reach)))
                .collect(),
            saturation: vec![Saturation {
                block: "a".into(),
                gate_function: Some("sigmoid".into()),
                reaches_bounds: false,
                near_zero: 0.0,
                near_one: 0.5,
                exactly_zero: 0.0,
                exactly_one: 0.0,
                mean: 0.7,
                reading: "graded".into(),
            }],
            seed: 3,
            permutations: vec![vec![0]],
            regions: vec![RegionSensitivity {
                block: "a".into(),
                map: [2, 2],
                halves: [0.25, 0.5, 0.125, 0.0625],
                between_images: 0.75,
            }],
        };
        let json = view.to_json();
        assert_eq!(
            ImportanceView::from_json(json.as_bytes(), &blocks).as_ref(),
            Some(&view)
        );
        assert_eq!(
            ImportanceView::from_json(json.as_bytes(), &["b".to_string()]),
            None
        );
        assert_eq!(ImportanceView::from_json(b"{}", &blocks), None);

        // Gate statistics by module path, and as Model Explorer node data on the gate's node.
        assert_eq!(
            view.gates_csv().lines().nth(1),
            Some("a,0.7,0,0.5,0,0,graded,1,0.75,-0.125")
        );
        let nodes = [("a".to_string(), "/a/gate/Sigmoid".to_string())];
        let data: serde_json::Value =
            serde_json::from_str(&view.node_data("main_graph", &nodes, NodeStat::MeanGate))
                .unwrap();
        assert_eq!(
            data["main_graph"]["results"]["/a/gate/Sigmoid"]["value"],
            0.7
        );
        assert_eq!(data["main_graph"]["gradient"][1]["stop"], 1);
        let lost = view.node_data("main_graph", &nodes, NodeStat::AccuracyLost);
        let lost: serde_json::Value = serde_json::from_str(&lost).unwrap();
        assert_eq!(
            lost["main_graph"]["results"]["/a/gate/Sigmoid"]["value"],
            25.0
        );
        let unnamed = view.node_data("main_graph", &[], NodeStat::MeanGate);
        assert_eq!(
            unnamed,
            r##"{"main_graph":{"gradient":[{"bgColor":"#4e79a7","stop":0},{"bgColor":"#f28e2b","stop":1}],"results":{}}}"##
        );
    }
}
