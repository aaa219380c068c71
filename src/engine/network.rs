//! The network as the engine runs it: BatchNorm already folded, SE blocks explicit.
//!
//! Every residual network the engine knows (timm ResNet/ResNeXt, legacy SENet) is a stem, a list of
//! residual blocks and a linear head; a block is `relu(se(body(x)) + shortcut(x))`.

/// A 2-D convolution with BatchNorm folded in: `weight` is `[out, in / groups, k, k]`.
#[derive(Clone, Debug)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Conv2d {
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        let out = |size: usize| (size + 2 * self.padding - self.kernel) / self.stride + 1;
        (out(height), out(width))
    }

    /// Multiply-accumulates per output pixel (for GFLOP/s accounting).
    pub fn macs_per_pixel(&self) -> usize {
        self.out_channels * (self.in_channels / self.groups) * self.kernel * self.kernel
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

/// One step of a stem, body or shortcut.
#[derive(Clone, Debug)]
pub enum Layer {
    Conv { conv: Conv2d, relu: bool },
    Pool(Pool),
}

/// The SE block of the paper: squeeze (global average pool) → FC → ReLU → FC → sigmoid → scale.
#[derive(Clone, Debug)]
pub struct SqueezeExcite {
    /// The PyTorch module path, e.g. `layer3.1.se` or `layer2.0.se_module`.
    pub name: String,
    pub channels: usize,
    pub reduced: usize,
    /// `[reduced, channels]`
    pub fc1_weight: Vec<f32>,
    pub fc1_bias: Vec<f32>,
    /// `[channels, reduced]`
    pub fc2_weight: Vec<f32>,
    pub fc2_bias: Vec<f32>,
}

/// `relu(se(body(x)) + shortcut(x))`; an empty shortcut is the identity.
#[derive(Clone, Debug)]
pub struct ResidualBlock {
    /// The PyTorch module path, e.g. `layer1.0`.
    pub name: String,
    pub body: Vec<Layer>,
    pub se: Option<SqueezeExcite>,
    pub shortcut: Vec<Layer>,
}

/// A fully connected layer: `weight` is `[out, in]`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A whole classifier: stem → residual blocks → global average pool → linear head.
#[derive(Clone, Debug)]
pub struct Network {
    pub in_channels: usize,
    pub stem: Vec<Layer>,
    pub blocks: Vec<ResidualBlock>,
    pub head: Linear,
}

impl Network {
    pub fn se_blocks(&self) -> impl Iterator<Item = &SqueezeExcite> {
        self.blocks.iter().filter_map(|block| block.se.as_ref())
    }
}

impl Layer {
    /// The spatial size after this layer.
    fn output_size(&self, (h, w): (usize, usize)) -> (usize, usize) {
        match self {
            Layer::Conv { conv, .. } => conv.output_size(h, w),
            Layer::Pool(pool) => (pool.output_size(h), pool.output_size(w)),
        }
    }

    fn macs(&self, (h, w): (usize, usize)) -> u64 {
        match self {
            Layer::Conv { conv, .. } => {
                let (oh, ow) = conv.output_size(h, w);
                (conv.macs_per_pixel() * oh * ow) as u64
            }
            Layer::Pool(_) => 0,
        }
    }
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
        let too_small = || format!("a {height}×{width} input is too small for this network");
        let fits = |layers: &[Layer], (h, w): (usize, usize)| {
            layers.iter().try_fold((h, w), |(h, w), layer| {
                let (kernel, padding) = match layer {
                    Layer::Conv { conv, .. } => (conv.kernel, conv.padding),
                    Layer::Pool(pool) => (pool.kernel, pool.padding),
                };
                (h.min(w) + 2 * padding >= kernel && h.min(w) > 0)
                    .then(|| layer.output_size((h, w)))
            })
        };
        let mut size = fits(&self.stem, (height, width)).ok_or_else(too_small)?;
        for block in &self.blocks {
            fits(&block.shortcut, size).ok_or_else(too_small)?;
            size = fits(&block.body, size).ok_or_else(too_small)?;
        }
        Ok(())
    }

    /// Multiply-accumulates of one forward pass on an `height × width` image (convolutions, SE
    /// FCs and the head; pooling and element-wise work not counted). GFLOP = 2·MACs / 10⁹.
    pub fn macs(&self, height: usize, width: usize) -> u64 {
        let walk = |layers: &[Layer], mut size: (usize, usize), total: &mut u64| {
            for layer in layers {
                *total += layer.macs(size);
                size = layer.output_size(size);
            }
            size
        };
        let mut total = 0;
        let mut size = walk(&self.stem, (height, width), &mut total);
        for block in &self.blocks {
            walk(&block.shortcut, size, &mut total);
            size = walk(&block.body, size, &mut total);
            if let Some(se) = &block.se {
                total += 2 * (se.channels * se.reduced) as u64;
            }
        }
        total + (self.head.in_features * self.head.out_features) as u64
    }
}
