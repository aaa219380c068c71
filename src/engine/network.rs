//! The network as the engine runs it: BatchNorm already folded, SE blocks explicit.
//!
//! Every network the engine knows is a stem, a list of blocks, a neck, a global average pool
//! and a head of fully connected layers. A block is
//! `act(tail(se(body(x))) + projection(x))`: ResNet's `relu(se(body(x)) + shortcut(x))` has an
//! empty tail; MobileNetV3's and EfficientNet's inverted residual puts the SE between the
//! depthwise convolution (end of the body) and the projection (the tail), with no activation
//! after the add, and some blocks have no residual connection at all.

pub use super::activation::Activation;
use super::graph::{BinaryOp, Graph, GraphBuilder, GraphError, Op, ValueId};

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `p` zeros on every side (PyTorch's `padding=p`).
    Symmetric(usize),
    /// TensorFlow's "SAME" (timm's `Conv2dSame`): the output is `ceil(in / stride)`, and the
    /// padding that takes is split with the odd pixel at the bottom and right, so it depends
    /// on the input size.
    Same,
}

/// Where a convolution's windows fall on an input of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub out_h: usize,
    pub out_w: usize,
    /// Zero rows above the input and zero columns left of it.
    pub pad_top: usize,
    pub pad_left: usize,
}

/// A 2-D convolution with BatchNorm folded in: `weight` is `[out, in / groups, k, k]`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Conv2d {
    /// The output size and leading padding on a `height × width` input, or `None` when the
    /// kernel does not fit inside the padded input.
    pub fn geometry(&self, height: usize, width: usize) -> Option<ConvGeometry> {
        let (k, s) = (self.kernel, self.stride);
        let axis = |size: usize| match self.padding {
            Padding::Symmetric(p) => {
                (size > 0 && size + 2 * p >= k).then(|| ((size + 2 * p - k) / s + 1, p))
            }
            Padding::Same => {
                let out = size.div_ceil(s);
                let total = ((out.max(1) - 1) * s + k).saturating_sub(size);
                (size > 0).then_some((out, total / 2))
            }
        };
        let ((out_h, pad_top), (out_w, pad_left)) = (axis(height)?, axis(width)?);
        Some(ConvGeometry {
            out_h,
            out_w,
            pad_top,
            pad_left,
        })
    }

    /// Multiply-accumulates per output pixel (for GFLOP/s accounting).
    pub fn macs_per_pixel(&self) -> usize {
        self.out_channels * (self.in_channels / self.groups) * self.kernel * self.kernel
    }

    /// One filter per channel (MobileNet's and EfficientNet's depthwise convolutions).
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.in_channels && self.groups == self.out_channels
    }
}

/// A pooling window; `ceil_mode` and padding follow PyTorch's `MaxPool2d` / `AvgPool2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    pub kind: PoolKind,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub ceil_mode: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    /// Average over the window's elements inside the input (`count_include_pad=False`).
    Avg,
}

impl Pool {
    /// PyTorch's pooling output size, including its rule that a ceil-mode window must start
    /// inside the input or left padding.
    pub fn output_size(&self, size: usize) -> usize {
        let span = size + 2 * self.padding - self.kernel;
        let mut out = if self.ceil_mode {
            span.div_ceil(self.stride)
        } else {
            span / self.stride
        } + 1;
        if self.ceil_mode && (out - 1) * self.stride >= size + self.padding {
            out -= 1;
        }
        out
    }
}

/// One step of a stem, body, tail, projection or neck.
#[derive(Clone, Debug)]
pub enum Layer {
    Conv { conv: Conv2d, act: Activation },
    Pool(Pool),
}

/// The SE block of the paper: squeeze (global average pool) → FC → ReLU → FC → sigmoid → scale.
/// MobileNetV3 gates with a hard sigmoid; EfficientNet uses SiLU between the FCs.
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    /// The PyTorch module path, e.g. `layer3.1.se`, `layer2.0.se_module` or `blocks.2.0.se`.
    pub name: String,
    pub channels: usize,
    pub reduced: usize,
    /// After FC1: ReLU in the paper.
    pub act: Activation,
    /// After FC2: sigmoid in the paper, hard-sigmoid in MobileNetV3.
    pub gate: Activation,
    /// `[reduced, channels]`
    pub fc1_weight: Vec<f32>,
    pub fc1_bias: Vec<f32>,
    /// `[channels, reduced]`
    pub fc2_weight: Vec<f32>,
    pub fc2_bias: Vec<f32>,
}

/// The residual connection of a block: `act(branch + projection(x))`.
#[derive(Clone, Debug)]
pub struct Residual {
    /// Empty: the identity.
    pub projection: Vec<Layer>,
    /// After the add: ReLU in ResNets, none in inverted residuals.
    pub act: Activation,
}

/// `residual.act(tail(se(body(x))) + residual.projection(x))`, or `tail(se(body(x)))` without a
/// residual connection.
#[derive(Clone, Debug)]
pub struct Block {
    /// The PyTorch module path, e.g. `layer1.0` or `blocks.2.1`.
    pub name: String,
    /// Everything before the SE (all of a ResNet block's branch).
    pub body: Vec<Layer>,
    pub se: Option<SqueezeExcite>,
    /// After the SE scale (an inverted residual's projection); empty in ResNets.
    pub tail: Vec<Layer>,
    pub residual: Option<Residual>,
}

/// A fully connected layer and its activation: `weight` is `[out, in]`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub act: Activation,
}

/// A whole classifier: stem → blocks → neck → global average pool → head.
#[derive(Clone, Debug)]
pub struct Network {
    pub in_channels: usize,
    pub stem: Vec<Layer>,
    pub blocks: Vec<Block>,
    /// After the last block, before the pool (EfficientNet's `conv_head`); often empty.
    pub neck: Vec<Layer>,
    /// On the pooled features; the last layer gives the logits.
    pub head: Vec<Linear>,
}

impl Layer {
    /// The spatial size after this layer, or `None` when its window does not fit the input.
    fn output_size(&self, (h, w): (usize, usize)) -> Option<(usize, usize)> {
        match self {
            Layer::Conv { conv, .. } => conv.geometry(h, w).map(|g| (g.out_h, g.out_w)),
            Layer::Pool(pool) => (h.min(w) > 0 && h.min(w) + 2 * pool.padding >= pool.kernel)
                .then(|| (pool.output_size(h), pool.output_size(w))),
        }
    }

    fn macs(&self, (h, w): (usize, usize)) -> u64 {
        match self {
            Layer::Conv { conv, .. } => conv
                .geometry(h, w)
                .map_or(0, |g| (conv.macs_per_pixel() * g.out_h * g.out_w) as u64),
            Layer::Pool(_) => 0,
        }
    }
}

/// The size after `layers`, adding their multiply-accumulates to `macs`; `None` when a window
/// does not fit.
fn walk(layers: &[Layer], size: (usize, usize), macs: &mut u64) -> Option<(usize, usize)> {
    layers.iter().try_fold(size, |size, layer| {
        *macs += layer.macs(size);
        layer.output_size(size)
    })
}

impl Network {
    /// Checks that an `[N, C, H, W]` input fits: the right channel count, and every window of every
    /// layer inside its (padded) input. `forward` assumes this holds.
    pub fn check_input(&self, [batch, channels, height, width]: [usize; 4]) -> Result<(), String> {
        if batch == 0 || channels != self.in_channels {
            return Err(format!(
                "input is [{batch}, {channels}, {height}, {width}]; this network takes [N ≥ 1, {}, H, W]",
                self.in_channels
            ));
        }
        self.walk(height, width)
            .map(|_| ())
            .ok_or_else(|| format!("a {height}×{width} input is too small for this network"))
    }

    /// Multiply-accumulates of one forward pass on an `height × width` image (convolutions, SE
    /// FCs and the head; pooling and element-wise work not counted). GFLOP = 2·MACs / 10⁹.
    pub fn macs(&self, height: usize, width: usize) -> u64 {
        self.walk(height, width).unwrap_or(0)
    }

    /// The multiply-accumulates of a whole pass, or `None` when some window does not fit.
    fn walk(&self, height: usize, width: usize) -> Option<u64> {
        let mut macs = 0;
        let mut size = walk(&self.stem, (height, width), &mut macs)?;
        for block in &self.blocks {
            if let Some(residual) = &block.residual {
                walk(&residual.projection, size, &mut macs)?;
            }
            size = walk(&block.body, size, &mut macs)?;
            size = walk(&block.tail, size, &mut macs)?;
            if let Some(se) = &block.se {
                macs += 2 * (se.channels * se.reduced) as u64;
            }
        }
        walk(&self.neck, size, &mut macs)?;
        let head: usize = self
            .head
            .iter()
            .map(|l| l.in_features * l.out_features)
            .sum();
        Some(macs + head as u64)
    }

    pub fn se_blocks(&self) -> impl Iterator<Item = &SqueezeExcite> {
        self.blocks.iter().filter_map(|block| block.se.as_ref())
    }

    /// Every SE block's name and channel count, for [`super::RunOptions::check`].
    pub fn gate_widths(&self) -> impl Iterator<Item = (&str, usize)> + Clone {
        self.blocks
            .iter()
            .filter_map(|block| block.se.as_ref())
            .map(|se| (se.name.as_str(), se.channels))
    }
}

impl Network {
    /// The graph of this network, as plain ops (a convolution, then its activation; a multiply,
    /// then an add) for [`super::passes::optimize`] to fuse. Weights move, nothing is copied.
    pub fn into_graph(self) -> Result<Graph, GraphError> {
        let mut b = GraphBuilder::new(self.in_channels);
        let input = b.input();
        let mut x = layers(&mut b, "stem", self.stem, input)?;
        for block in self.blocks {
            let name = block.name;
            let input = x;
            let y = layers(&mut b, &format!("{name}.body"), block.body, input)?;
            let scaled = match block.se {
                None => y,
                Some(se) => squeeze_excite(&mut b, se, y)?,
            };
            x = layers(&mut b, &format!("{name}.tail"), block.tail, scaled)?;
            if let Some(residual) = block.residual {
                let skip = layers(
                    &mut b,
                    &format!("{name}.downsample"),
                    residual.projection,
                    input,
                )?;
                x = b.node(format!("{name}.add"), Op::Binary(BinaryOp::Add), &[x, skip])?;
                x = activation(&mut b, &format!("{name}.act"), residual.act, x)?;
            }
            b.end_stage(name);
        }
        x = layers(&mut b, "neck", self.neck, x)?;
        x = b.node("global_pool", Op::GlobalAvgPool, &[x])?;
        for (i, mut linear) in self.head.into_iter().enumerate() {
            let act = std::mem::take(&mut linear.act);
            x = b.node(format!("head.{i}"), Op::Linear(linear), &[x])?;
            x = activation(&mut b, &format!("head.{i}.act"), act, x)?;
        }
        Ok(b.finish(x))
    }
}

/// `layers` applied to `x` in order (none: `x` itself).
fn layers(
    b: &mut GraphBuilder,
    prefix: &str,
    layers: Vec<Layer>,
    mut x: ValueId,
) -> Result<ValueId, GraphError> {
    for (i, layer) in layers.into_iter().enumerate() {
        let name = format!("{prefix}.{i}");
        x = match layer {
            Layer::Conv { conv, act } => {
                let op = Op::Conv {
                    conv,
                    act: Activation::None,
                    squeeze: false,
                };
                let y = b.node(name.clone(), op, &[x])?;
                activation(b, &format!("{name}.act"), act, y)?
            }
            Layer::Pool(pool) => b.node(name, Op::Pool(pool), &[x])?,
        };
    }
    Ok(x)
}

/// `act(x)`, or `x` for the identity.
fn activation(
    b: &mut GraphBuilder,
    name: &str,
    act: Activation,
    x: ValueId,
) -> Result<ValueId, GraphError> {
    match act {
        Activation::None => Ok(x),
        act => b.node(name, Op::Act(act), &[x]),
    }
}

/// `y · gate(y)`: squeeze → FC → act → FC → gate function → scale, annotated as an SE block.
fn squeeze_excite(
    b: &mut GraphBuilder,
    se: SqueezeExcite,
    y: ValueId,
) -> Result<ValueId, GraphError> {
    let name = se.name;
    let z = b.node(format!("{name}.pool"), Op::GlobalAvgPool, &[y])?;
    let fc1 = Linear {
        in_features: se.channels,
        out_features: se.reduced,
        weight: se.fc1_weight,
        bias: se.fc1_bias,
        act: Activation::None,
    };
    let fc2 = Linear {
        in_features: se.reduced,
        out_features: se.channels,
        weight: se.fc2_weight,
        bias: se.fc2_bias,
        act: Activation::None,
    };
    let h = b.node(format!("{name}.fc1"), Op::Linear(fc1), &[z])?;
    let h = activation(b, &format!("{name}.act"), se.act, h)?;
    let g = b.node(format!("{name}.fc2"), Op::Linear(fc2), &[h])?;
    let gate = activation(b, &format!("{name}.gate"), se.gate, g)?;
    b.se_block(name.clone(), y, gate);
    b.node(
        format!("{name}.scale"),
        Op::Binary(BinaryOp::Mul),
        &[y, gate],
    )
}

#[cfg(test)]
mod tests {
    use super::{Conv2d, ConvGeometry, Padding};

    fn conv(kernel: usize, stride: usize, padding: Padding) -> Conv2d {
        Conv2d {
            in_channels: 1,
            out_channels: 1,
            kernel,
            stride,
            padding,
            groups: 1,
            weight: Vec::new(),
            bias: Vec::new(),
        }
    }

    #[test]
    fn same_padding_puts_the_odd_pixel_last() {
        // TensorFlow: out = ceil(in / s); pad = (out − 1)·s + k − in, top = pad / 2.
        let g = conv(3, 2, Padding::Same).geometry(161, 190).unwrap();
        assert_eq!(
            g,
            ConvGeometry {
                out_h: 81,
                out_w: 95,
                pad_top: 1,
                pad_left: 0
            }
        );
        let g = conv(5, 2, Padding::Same).geometry(10, 11).unwrap();
        assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (5, 1, 6, 2));
        // Stride 1 with an odd kernel is plain symmetric padding.
        let same = conv(3, 1, Padding::Same).geometry(7, 8).unwrap();
        let symmetric = conv(3, 1, Padding::Symmetric(1)).geometry(7, 8).unwrap();
        assert_eq!(same, symmetric);
        assert!(conv(7, 1, Padding::Symmetric(0)).geometry(6, 9).is_none());
    }
}
