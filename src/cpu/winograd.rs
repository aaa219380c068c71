//! 3×3 stride-1 convolutions by Winograd's minimal filtering, F(2×2, 3×3) (Lavin & Gray 2015):
//! each 2×2 output tile costs 16 multiplies per input channel instead of 36, so these
//! convolutions — over a third of SE-ResNet-50's work — do 2.25× fewer multiply-adds.
//!
//! With `d` a 4×4 input tile, `g` a 3×3 filter and `⊙` the element-wise product, the tile's output
//! is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`. Summed over input channels, the 16 element-wise products
//! become 16 GEMMs, `[out, in] × [in, tiles]`, the same kernel every other convolution uses.
//! The transforms only add, subtract and halve, so the result matches the direct convolution to
//! a few ulps (tests/cpu_ops.rs checks it against the definition; the model parity tests against
//! PyTorch).

use super::gemm::{matmul, MatRef};
use super::parallel::for_each_chunk;
use crate::engine::{Conv2d, ConvGeometry};

/// Below this many output pixels the direct GEMM wins: few tiles make narrow GEMMs, odd sizes
/// waste a third of a 7×7 map's tiles, and the filter transform (redone every pass) costs as
/// much as it saves (measured on SE-ResNet-50's 7×7 stage, `make bench`).
const MIN_PIXELS: usize = 12 * 12;

/// Whether `conv` on an input of this geometry is one this file computes: 3×3, stride 1, one
/// pixel of padding on each side (so the output is the input's size), no groups, a map large
/// enough to gain.
pub fn applies(conv: &Conv2d, geometry: ConvGeometry, [height, width]: [usize; 2]) -> bool {
    conv.kernel == 3
        && conv.stride == 1
        && conv.groups == 1
        && (geometry.pad_top, geometry.pad_left) == (1, 1)
        && (geometry.out_h, geometry.out_w) == (height, width)
        && height * width >= MIN_PIXELS
}

/// The convolution of one image (`[C, H, W]`) into `out` (`[K, H·W]`), without bias.
pub fn conv3x3(image: &[f32], [height, width]: [usize; 2], conv: &Conv2d, out: &mut [f32]) {
    let (channels, filters) = (conv.in_channels, conv.out_channels);
    let (tiles_y, tiles_x) = (height.div_ceil(2), width.div_ceil(2));
    let tiles = tiles_y * tiles_x;

    // U[ξ] = (G g Gᵀ)[ξ] for every (filter, channel): 16 matrices [K, C].
    let u = by_position(filters, channels, |filter, out| {
        for channel in 0..channels {
            let pair = filter * channels + channel;
            let u = filter_transform(&conv.weight[pair * 9..pair * 9 + 9]);
            for (xi, value) in u.into_iter().enumerate() {
                out[xi * channels + channel] = value;
            }
        }
    });

    // V[ξ] = (Bᵀ d B)[ξ] for every (channel, tile): 16 matrices [C, T].
    let plane = height * width;
    let v = by_position(channels, tiles, |channel, out| {
        let source = &image[channel * plane..(channel + 1) * plane];
        for t in 0..tiles {
            let d = input_tile(source, [height, width], t / tiles_x, t % tiles_x);
            for (xi, value) in input_transform(&d).into_iter().enumerate() {
                out[xi * tiles + t] = value;
            }
        }
    });

    // M[ξ] = U[ξ] × V[ξ]: [K, T].
    let mut m = vec![0.0f32; 16 * filters * tiles];
    for xi in 0..16 {
        let a = MatRef {
            data: &u[xi * filters * channels..(xi + 1) * filters * channels],
            rows: filters,
            cols: channels,
            row_stride: channels,
        };
        let b = MatRef {
            data: &v[xi * channels * tiles..(xi + 1) * channels * tiles],
            rows: channels,
            cols: tiles,
            row_stride: tiles,
        };
        matmul(
            &mut m[xi * filters * tiles..(xi + 1) * filters * tiles],
            tiles,
            a,
            b,
        );
    }

    // Y = Aᵀ M A per (filter, tile): 2×2 outputs, clipped at odd edges.
    for_each_chunk(out, plane, |filter, y| {
        for ty in 0..tiles_y {
            for tx in 0..tiles_x {
                let t = ty * tiles_x + tx;
                let mut tile = [0.0f32; 16];
                for (xi, value) in tile.iter_mut().enumerate() {
                    *value = m[(xi * filters + filter) * tiles + t];
                }
                let [y00, y01, y10, y11] = output_transform(&tile);
                let (row, column) = (2 * ty, 2 * tx);
                let right = column + 1 < width;
                y[row * width + column] = y00;
                if right {
                    y[row * width + column + 1] = y01;
                }
                if row + 1 < height {
                    y[(row + 1) * width + column] = y10;
                    if right {
                        y[(row + 1) * width + column + 1] = y11;
                    }
                }
            }
        }
    });
}

/// 16 matrices `[rows, columns]`, one per tile position ξ, made a row at a time: `row(r, out)`
/// fills `out`, `[16, columns]`, with row `r` of every matrix. Rows are made in parallel, then
/// copied into place (contiguous copies; each matrix is one GEMM operand).
fn by_position(
    rows: usize,
    columns: usize,
    row: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    let mut made = vec![0.0f32; rows * 16 * columns];
    for_each_chunk(&mut made, 16 * columns, row);
    let mut matrices = vec![0.0f32; 16 * rows * columns];
    for_each_chunk(&mut matrices, rows * columns, |xi, matrix| {
        for (r, out) in matrix.chunks_exact_mut(columns).enumerate() {
            let start = (r * 16 + xi) * columns;
            out.copy_from_slice(&made[start..start + columns]);
        }
    });
    matrices
}

/// The 4×4 input tile whose outputs are rows `2ty, 2ty+1` and columns `2tx, 2tx+1`: input rows
/// `2ty − 1 … 2ty + 2` (the padding pixel first), zero outside the image.
fn input_tile(source: &[f32], [height, width]: [usize; 2], ty: usize, tx: usize) -> [f32; 16] {
    let mut d = [0.0f32; 16];
    for r in 0..4 {
        let Some(y) = (2 * ty + r).checked_sub(1).filter(|&y| y < height) else {
            continue;
        };
        for c in 0..4 {
            if let Some(x) = (2 * tx + c).checked_sub(1).filter(|&x| x < width) {
                d[r * 4 + c] = source[y * width + x];
            }
        }
    }
    d
}

/// `G g Gᵀ` with `G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]`, row-major 4×4.
fn filter_transform(g: &[f32]) -> [f32; 16] {
    // G g: 4×3.
    let mut gg = [0.0f32; 12];
    for c in 0..3 {
        let (g0, g1, g2) = (g[c], g[3 + c], g[6 + c]);
        gg[c] = g0;
        gg[3 + c] = 0.5 * (g0 + g1 + g2);
        gg[6 + c] = 0.5 * (g0 - g1 + g2);
        gg[9 + c] = g2;
    }
    // (G g) Gᵀ: 4×4.
    let mut u = [0.0f32; 16];
    for r in 0..4 {
        let (a0, a1, a2) = (gg[r * 3], gg[r * 3 + 1], gg[r * 3 + 2]);
        u[r * 4] = a0;
        u[r * 4 + 1] = 0.5 * (a0 + a1 + a2);
        u[r * 4 + 2] = 0.5 * (a0 - a1 + a2);
        u[r * 4 + 3] = a2;
    }
    u
}

/// `Bᵀ d B` with `Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]`.
fn input_transform(d: &[f32; 16]) -> [f32; 16] {
    // Bᵀ d: combine rows.
    let mut t = [0.0f32; 16];
    for c in 0..4 {
        let (d0, d1, d2, d3) = (d[c], d[4 + c], d[8 + c], d[12 + c]);
        t[c] = d0 - d2;
        t[4 + c] = d1 + d2;
        t[8 + c] = d2 - d1;
        t[12 + c] = d1 - d3;
    }
    // (Bᵀ d) B: combine columns.
    let mut v = [0.0f32; 16];
    for r in 0..4 {
        let (t0, t1, t2, t3) = (t[r * 4], t[r * 4 + 1], t[r * 4 + 2], t[r * 4 + 3]);
        v[r * 4] = t0 - t2;
        v[r * 4 + 1] = t1 + t2;
        v[r * 4 + 2] = t2 - t1;
        v[r * 4 + 3] = t1 - t3;
    }
    v
}

/// `Aᵀ m A` with `Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]`: the tile's 2×2 outputs, row-major.
fn output_transform(m: &[f32; 16]) -> [f32; 4] {
    let mut t = [0.0f32; 8];
    for c in 0..4 {
        let (m0, m1, m2, m3) = (m[c], m[4 + c], m[8 + c], m[12 + c]);
        t[c] = m0 + m1 + m2;
        t[4 + c] = m1 - m2 - m3;
    }
    let row = |r: usize| {
        let (t0, t1, t2, t3) = (t[r * 4], t[r * 4 + 1], t[r * 4 + 2], t[r * 4 + 3]);
        [t0 + t1 + t2, t1 - t2 - t3]
    };
    let ([y00, y01], [y10, y11]) = (row(0), row(1));
    [y00, y01, y10, y11]
}
