//! The parameters of the graph's ops that carry weights or windows: convolutions (BatchNorm
//! folded), pooling windows, linear layers.

pub use super::activation::{Activation, Slope};

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `p` zeros on every side (PyTorch's `padding=p`).
    Symmetric(usize),
    /// TensorFlow's "SAME" (timm's `Conv2dSame`): the output is `ceil(in / stride)`, and the
    /// padding that takes is split with the odd pixel at the bottom and right, so it depends
    /// on the input size.
    Same,
    /// Zeros per side, possibly different (ONNX's `pads`, a `ZeroPad2d` before a convolution).
    Explicit {
        top: usize,
        left: usize,
        bottom: usize,
        right: usize,
    },
}

impl Padding {
    /// `top, left, bottom, right` zeros: [`Padding::Symmetric`] when they are all equal.
    pub fn explicit(top: usize, left: usize, bottom: usize, right: usize) -> Self {
        match [left, bottom, right].iter().all(|&p| p == top) {
            true => Padding::Symmetric(top),
            false => Padding::Explicit {
                top,
                left,
                bottom,
                right,
            },
        }
    }
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
    /// The spacing of the kernel's taps (1: adjacent); the window spans `dilation·(k − 1) + 1`.
    pub dilation: usize,
    pub padding: Padding,
    pub groups: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    /// The CPU path's Winograd transforms of `weight`, made on first use (`cpu/winograd.rs`).
    pub winograd: WinogradFilters,
}

/// `weight` transformed for each Winograd variant the CPU path has run it with (F(2×2, 3×3),
/// F(4×4, 3×3)), kept with the convolution: the transform is redone on no later run. It costs
/// memory: `(m + 2)² / 9` times the 3×3 weights it covers, 1.8× for F(2×2), 4× for F(4×4)
/// (SE-ResNet-50 at 224²: 36 MB beside 112 MB of weights). A clone starts empty (its weights
/// may change).
#[derive(Default)]
pub struct WinogradFilters([std::sync::OnceLock<Vec<f32>>; 2]);

impl WinogradFilters {
    /// The transform for variant `index`, made by `make` if this is its first use.
    pub fn get_or_make(&self, index: usize, make: impl FnOnce() -> Vec<f32>) -> &[f32] {
        self.0[index].get_or_init(make)
    }
}

impl Clone for WinogradFilters {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for WinogradFilters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let made = self.0.iter().filter(|cell| cell.get().is_some()).count();
        write!(f, "WinogradFilters({made} made)")
    }
}

impl Conv2d {
    /// The output size and leading padding on a `height × width` input, or `None` when the
    /// kernel does not fit inside the padded input.
    pub fn geometry(&self, height: usize, width: usize) -> Option<ConvGeometry> {
        let (k, s) = (self.span(), self.stride);
        let padded = |size: usize, before: usize, after: usize| {
            (size > 0 && size + before + after >= k)
                .then(|| ((size + before + after - k) / s + 1, before))
        };
        let axis = |size: usize, vertical: bool| match self.padding {
            Padding::Symmetric(p) => padded(size, p, p),
            Padding::Explicit {
                top,
                left,
                bottom,
                right,
            } => match vertical {
                true => padded(size, top, bottom),
                false => padded(size, left, right),
            },
            Padding::Same => {
                let out = size.div_ceil(s);
                let total = ((out.max(1) - 1) * s + k).saturating_sub(size);
                (size > 0).then_some((out, total / 2))
            }
        };
        let ((out_h, pad_top), (out_w, pad_left)) = (axis(height, true)?, axis(width, false)?);
        Some(ConvGeometry {
            out_h,
            out_w,
            pad_top,
            pad_left,
        })
    }

    /// The input rows (or columns) one window covers.
    pub fn span(&self) -> usize {
        self.dilation * (self.kernel - 1) + 1
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
    /// Average that counts the zero padding too (`count_include_pad=True`, ONNX's default), but
    /// not a ceil-mode window's part past the padding (PyTorch's rule).
    AvgIncludePad,
}

impl Pool {
    /// The elements an `AvgIncludePad` window at `out_index` divides by along one axis: its
    /// span inside the padded input.
    pub fn padded_span(&self, out_index: usize, size: usize) -> usize {
        let start = out_index * self.stride;
        (start + self.kernel).min(size + 2 * self.padding) - start
    }

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

/// A fully connected layer and its activation: `weight` is `[out, in]`.
#[derive(Clone, Debug)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub act: Activation,
}

/// PyTorch's nearest-neighbour scale for resizing `input` to `output` along an axis, in f32 as
/// its kernels compute it (`(float)input / output`).
pub fn nearest_scale(input: usize, output: usize) -> f32 {
    input as f32 / output as f32
}

/// The input index output `i` reads along an axis of `input` (PyTorch's
/// `nearest_neighbor_compute_source_index`): `min(⌊i · scale⌋, input − 1)`, the product in f32.
pub fn nearest_source(i: usize, scale: f32, input: usize) -> usize {
    ((i as f32 * scale).floor() as usize).min(input - 1)
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
            dilation: 1,
            padding,
            groups: 1,
            weight: Vec::new(),
            bias: Vec::new(),
            winograd: Default::default(),
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
        // ZeroPad2d((left 0, right 1, top 2, bottom 0)) then a 3×3 stride-2 convolution.
        let g = conv(3, 2, Padding::explicit(2, 0, 0, 1))
            .geometry(7, 8)
            .unwrap();
        assert_eq!((g.out_h, g.pad_top, g.out_w, g.pad_left), (4, 2, 4, 0));
        assert_eq!(Padding::explicit(1, 1, 1, 1), Padding::Symmetric(1));
    }
}
