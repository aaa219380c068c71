//! 3×3 stride-1 convolutions by Winograd's minimal filtering (Lavin & Gray 2015), F(2×2, 3×3) and
//! F(4×4, 3×3): an `m×m` output tile costs `(m + 2)²` multiplies per input channel instead of
//! `9m²`, 2.25× fewer for F(2×2, 3×3) and 4× fewer for F(4×4, 3×3). These convolutions are over a
//! third of SE-ResNet-50's work.
//!
//! With `d` an `n×n` input tile (`n = m + 2`), `g` a 3×3 filter and `⊙` the element-wise product,
//! the tile's output is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`. Summed over input channels, the `n²`
//! element-wise products become `n²` GEMMs, `[out, in] × [in, tiles]`, the same kernel every other
//! convolution uses. F(2×2, 3×3)'s transforms only add, subtract and halve; F(4×4, 3×3)'s have
//! small integer and fractional coefficients, and round a little more (a few ulps more per
//! output). tests/cpu_ops.rs checks both against the definition; the model parity tests against
//! PyTorch.

use super::buffers;
use super::gemm::{matmul, MatRef};
use super::parallel::for_each_chunk;
use crate::engine::{Conv2d, ConvGeometry};

/// Below this many output pixels the direct GEMM wins: few tiles make narrow GEMMs and odd sizes
/// waste a third of a 7×7 map's tiles (measured on SE-ResNet-50's 7×7 stage, `make bench`, when
/// the filter transform was still redone every pass).
const MIN_PIXELS: usize = 12 * 12;
/// From this many output pixels on, F(4×4, 3×3); below, F(2×2, 3×3), whose GEMMs have 4× as many
/// columns. Measured on `make bench`'s bench page (SE-ResNet-50, wasm, one thread), rebuilt with
/// this constant changed: F(4×4, 3×3) on the 56×56 and 28×28 stages takes the forward pass from
/// 262 to 250 ms; on the 14×14 stage as well, back to 264 ms (its 16 tiles make the GEMMs too
/// narrow).
const MIN_PIXELS_F4: usize = 28 * 28;

/// Whether `conv` on an input of this geometry is one this file computes: 3×3, stride 1, not
/// dilated, one
/// pixel of padding on each side (so the output is the input's size), no groups, a map large
/// enough to gain.
pub fn applies(conv: &Conv2d, geometry: ConvGeometry, [height, width]: [usize; 2]) -> bool {
    conv.kernel == 3
        && conv.stride == 1
        && conv.dilation == 1
        && conv.groups == 1
        && (geometry.pad_top, geometry.pad_left) == (1, 1)
        && (geometry.out_h, geometry.out_w) == (height, width)
        && height * width >= MIN_PIXELS
}

/// The convolution of one image (`[C, H, W]`) into `out` (`[K, H·W]`), without bias.
pub fn conv3x3(image: &[f32], size: [usize; 2], conv: &Conv2d, out: &mut [f32]) {
    if size[0] * size[1] >= MIN_PIXELS_F4 {
        convolve::<4, 6>(image, size, conv, out, &F4x4);
    } else {
        convolve::<2, 4>(image, size, conv, out, &F2x2);
    }
}

/// The three transforms of F(M×M, 3×3), each as the 1-D matrix it applies to a vector (its 2-D
/// form, `L X Lᵀ`, is [`two_d`]); `N = M + 2` is the input tile's side.
trait Transforms<const M: usize, const N: usize>: Sync {
    /// `G`, `N×3`.
    fn filter(&self, g: [f32; 3]) -> [f32; N];
    /// `Bᵀ`, `N×N`.
    fn input(&self, d: [f32; N]) -> [f32; N];
    /// `Aᵀ`, `M×N`.
    fn output(&self, m: [f32; N]) -> [f32; M];
}

/// F(2×2, 3×3): `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`,
/// `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]`,
/// `Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]`.
struct F2x2;

impl Transforms<2, 4> for F2x2 {
    fn filter(&self, [g0, g1, g2]: [f32; 3]) -> [f32; 4] {
        [g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2]
    }
    fn input(&self, [d0, d1, d2, d3]: [f32; 4]) -> [f32; 4] {
        [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
    }
    fn output(&self, [m0, m1, m2, m3]: [f32; 4]) -> [f32; 2] {
        [m0 + m1 + m2, m1 - m2 - m3]
    }
}

/// F(4×4, 3×3) with the interpolation points 0, ±1, ±2 (Lavin & Gray's):
/// `G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1⁄24, 1⁄12, ⅙], [1⁄24, −1⁄12, ⅙], [0, 0, 1]]`,
/// `Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0],
/// [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]`,
/// `Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]`.
struct F4x4;

impl Transforms<4, 6> for F4x4 {
    fn filter(&self, [g0, g1, g2]: [f32; 3]) -> [f32; 6] {
        let (even, odd) = (g0 + g2, g1);
        let (quarter, half) = (g0 + 4.0 * g2, 2.0 * g1);
        [
            0.25 * g0,
            -(even + odd) / 6.0,
            -(even - odd) / 6.0,
            (quarter + half) / 24.0,
            (quarter - half) / 24.0,
            g2,
        ]
    }
    fn input(&self, [d0, d1, d2, d3, d4, d5]: [f32; 6]) -> [f32; 6] {
        let (a, b) = (d4 - 4.0 * d2, d3 - 4.0 * d1);
        let (c, e) = (d4 - d2, 2.0 * (d3 - d1));
        [
            4.0 * d0 - 5.0 * d2 + d4,
            a + b,
            a - b,
            c + e,
            c - e,
            4.0 * d1 - 5.0 * d3 + d5,
        ]
    }
    fn output(&self, [m0, m1, m2, m3, m4, m5]: [f32; 6]) -> [f32; 4] {
        let (sum12, diff12) = (m1 + m2, m1 - m2);
        let (sum34, diff34) = (m3 + m4, m3 - m4);
        [
            m0 + sum12 + sum34,
            diff12 + 2.0 * diff34,
            sum12 + 4.0 * sum34,
            diff12 + 8.0 * diff34 + m5,
        ]
    }
}

/// `L X Lᵀ` for a row-major `K×K` matrix `x`, where `l` applies `L` (`P×K`) to one vector: to
/// every column of `x`, then to every row of the result.
#[inline(always)]
fn two_d<const K: usize, const P: usize>(
    x: &[f32],
    l: impl Fn([f32; K]) -> [f32; P],
) -> [[f32; P]; P] {
    let mut lx = [[0.0f32; K]; P];
    for c in 0..K {
        let column = l(std::array::from_fn(|r| x[r * K + c]));
        for (row, value) in lx.iter_mut().zip(column) {
            row[c] = value;
        }
    }
    lx.map(l)
}

/// F(M×M, 3×3) over one image; see [`conv3x3`].
fn convolve<const M: usize, const N: usize>(
    image: &[f32],
    [height, width]: [usize; 2],
    conv: &Conv2d,
    out: &mut [f32],
    transforms: &impl Transforms<M, N>,
) {
    let (channels, filters) = (conv.in_channels, conv.out_channels);
    let (tiles_y, tiles_x) = (height.div_ceil(M), width.div_ceil(M));
    let tiles = tiles_y * tiles_x;
    let positions = N * N;

    // U[ξ] = (G g Gᵀ)[ξ] for every (filter, channel), stored [K][ξ][C] with the convolution
    // (made on its first run): each filter's row of every U[ξ] is made by one task, and U[ξ] is
    // the strided view of rows `channels` long, one every `positions · channels` (the GEMM packs
    // its operands, so no copy into [ξ][K][C]).
    let variant = usize::from(M == 4); // 0: F(2×2, 3×3), 1: F(4×4, 3×3)
    let u = conv.winograd.get_or_make(variant, || {
        let mut u = vec![0.0f32; filters * positions * channels];
        for_each_chunk(&mut u, positions * channels, |filter, out| {
            for channel in 0..channels {
                let pair = filter * channels + channel;
                let g = &conv.weight[pair * 9..pair * 9 + 9];
                let u = two_d::<3, N>(g, |v| transforms.filter(v));
                for (r, row) in u.iter().enumerate() {
                    for (c, &value) in row.iter().enumerate() {
                        out[(r * N + c) * channels + channel] = value;
                    }
                }
            }
        });
        u
    });

    // V[ξ] = (Bᵀ d B)[ξ] for every (channel, tile), stored [C][ξ][T] likewise.
    let plane = height * width;
    let mut v = buffers::take(channels * positions * tiles);
    for_each_chunk(&mut v, positions * tiles, |channel, out| {
        let source = &image[channel * plane..(channel + 1) * plane];
        let mut d = [0.0f32; 36];
        for t in 0..tiles {
            input_tile::<M, N>(source, [height, width], t / tiles_x, t % tiles_x, &mut d);
            let v = two_d::<N, N>(&d, |v| transforms.input(v));
            for (r, row) in v.iter().enumerate() {
                for (c, &value) in row.iter().enumerate() {
                    out[(r * N + c) * tiles + t] = value;
                }
            }
        }
    });

    // M[ξ] = U[ξ] × V[ξ]: [K, T], stored [K][ξ][T], so each filter's outputs below read one
    // contiguous block.
    let mut m = buffers::take(filters * positions * tiles);
    for xi in 0..positions {
        let a = MatRef {
            data: &u[xi * channels..],
            rows: filters,
            cols: channels,
            row_stride: positions * channels,
        };
        let b = MatRef {
            data: &v[xi * tiles..],
            rows: channels,
            cols: tiles,
            row_stride: positions * tiles,
        };
        matmul(&mut m[xi * tiles..], positions * tiles, a, b);
    }
    buffers::give(v);

    // Y = Aᵀ M A per (filter, tile): M×M outputs, clipped at the bottom and right edges.
    for_each_chunk(out, plane, |filter, y| {
        let m = &m[filter * positions * tiles..(filter + 1) * positions * tiles];
        let mut tile = [0.0f32; 36];
        for ty in 0..tiles_y {
            for tx in 0..tiles_x {
                let t = ty * tiles_x + tx;
                for (xi, value) in tile[..positions].iter_mut().enumerate() {
                    *value = m[xi * tiles + t];
                }
                let outputs = two_d::<N, M>(&tile, |v| transforms.output(v));
                let (row, column) = (M * ty, M * tx);
                let columns = M.min(width - column);
                for (r, values) in outputs.iter().enumerate().take(height - row) {
                    let start = (row + r) * width + column;
                    for (c, &value) in values.iter().enumerate().take(columns) {
                        y[start + c] = value;
                    }
                }
            }
        }
    });
    buffers::give(m);
}

/// Writes into `d` (row-major `N×N`) the input tile whose outputs are rows `M·ty …` and columns
/// `M·tx …`: input rows and columns from `M·t − 1` (the padding pixel first), zero outside the
/// image.
fn input_tile<const M: usize, const N: usize>(
    source: &[f32],
    [height, width]: [usize; 2],
    ty: usize,
    tx: usize,
    d: &mut [f32],
) {
    d[..N * N].fill(0.0);
    for r in 0..N {
        let Some(y) = (M * ty + r).checked_sub(1).filter(|&y| y < height) else {
            continue;
        };
        for c in 0..N {
            if let Some(x) = (M * tx + c).checked_sub(1).filter(|&x| x < width) {
                d[r * N + c] = source[y * width + x];
            }
        }
    }
}
