//! The wasm build's GEMM: `out = a × b` on packed panels with a 4×8 register tile, the classic
//! (Goto/BLIS) blocking. It replaces the `gemm` crate's simd128 kernel, which it beats (SE-ResNet-50
//! on the bench page, one thread, interleaved: 220 → 171 ms; ARCHITECTURE.md has the numbers), and
//! its multiply-add can be `f32x4.relaxed_madd` in the relaxed-SIMD build: one fused instruction
//! where the CPU has FMA, instead of a multiply and an add (SIMD128 has no fused multiply-add).
//!
//! Blocking: `b` is packed `KC × NC` at a time into panels of [`NR`] columns, `a` `MC × KC` at a
//! time into panels of [`MR`] rows (both zero-padded to whole panels), so that the microkernel
//! reads both contiguously: a `b` panel (`KC × NR`, 8 KiB) stays in L1 while the `a` panels of a
//! block stream past it from L2. Eight accumulators, two `b` vectors and one broadcast `a` value
//! fit the 16 vector registers V8 has on x86-64 without spilling.
//!
//! The kernel is generic over its 4-lane vector ([`Lanes`], `lanes.rs`): simd128 or relaxed SIMD
//! on wasm32, and plain arrays, fused or not, in the native unit tests below, which check every
//! blocking edge against a naive product.

use super::lanes::Lanes;

thread_local! {
    /// Each thread's packing buffers for `a` and `b`, grown to the largest GEMM it has run and
    /// kept: packing writes every element the kernel reads, so no call allocates or zeroes them.
    static PACKED: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = std::cell::RefCell::default();
}

/// Rows of the register tile.
pub const MR: usize = 4;
/// Columns of the register tile (two 4-lane vectors).
pub const NR: usize = 8;
/// Depth of a packed block (`KC × NR` floats of `b` are 8 KiB).
const KC: usize = 256;
/// Rows of `a` packed at a time (`MC × KC` floats are 128 KiB).
const MC: usize = 128;
/// Columns of `b` packed at a time (`KC × NC` floats are 512 KiB).
const NC: usize = 512;

/// `out[r * out_stride + c] = Σ_p a[r * a_stride + p] · b[p * b_stride + c]` for `r < m`, `c < n`,
/// `p < k`, on one thread.
///
/// # Safety
/// Every element named above must lie inside its allocation, and `out` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul<L: Lanes>(
    [m, k, n]: [usize; 3],
    out: *mut f32,
    out_stride: usize,
    a: *const f32,
    a_stride: usize,
    b: *const f32,
    b_stride: usize,
) {
    if k == 0 {
        // An empty sum: no block below writes `out`.
        for r in 0..m {
            std::slice::from_raw_parts_mut(out.add(r * out_stride), n).fill(0.0);
        }
        return;
    }
    let a_len = MC.min(m.next_multiple_of(MR)) * KC.min(k);
    let b_len = NC.min(n.next_multiple_of(NR)) * KC.min(k);
    PACKED.with_borrow_mut(|(a_buffer, b_buffer)| {
        a_buffer.resize(a_buffer.len().max(a_len), 0.0);
        b_buffer.resize(b_buffer.len().max(b_len), 0.0);
        let (a_packed, b_packed) = (&mut a_buffer[..a_len], &mut b_buffer[..b_len]);
        for col in (0..n).step_by(NC) {
            let cols = NC.min(n - col);
            for depth in (0..k).step_by(KC) {
                let kc = KC.min(k - depth);
                pack_b(b_packed, b.add(depth * b_stride + col), b_stride, kc, cols);
                for row in (0..m).step_by(MC) {
                    let rows = MC.min(m - row);
                    pack_a::<L>(a_packed, a.add(row * a_stride + depth), a_stride, rows, kc);
                    for (j, b_panel) in b_packed
                        .chunks_exact(kc * NR)
                        .take(cols.div_ceil(NR))
                        .enumerate()
                    {
                        for (i, a_panel) in a_packed
                            .chunks_exact(kc * MR)
                            .take(rows.div_ceil(MR))
                            .enumerate()
                        {
                            let tile = kernel::<L>(kc, a_panel, b_panel);
                            let (r, c) = (row + i * MR, col + j * NR);
                            store(
                                tile,
                                out.add(r * out_stride + c),
                                out_stride,
                                [MR.min(m - r), NR.min(n - c)],
                                depth > 0,
                            );
                        }
                    }
                }
            }
        }
    });
}

/// The `MR × NR` product of one packed `a` panel and one packed `b` panel, in registers.
#[inline(always)]
fn kernel<L: Lanes>(kc: usize, a_panel: &[f32], b_panel: &[f32]) -> [[L; 2]; MR] {
    let mut acc = [[L::zero(); 2]; MR];
    for (a, b) in a_panel[..kc * MR]
        .chunks_exact(MR)
        .zip(b_panel[..kc * NR].chunks_exact(NR))
    {
        // SAFETY: `b` has NR = 8 floats: two loads of four.
        let (b0, b1) = unsafe { (L::load(b.as_ptr()), L::load(b.as_ptr().add(4))) };
        for (acc, &a) in acc.iter_mut().zip(a) {
            let a = L::splat(a);
            acc[0] = acc[0].madd(a, b0);
            acc[1] = acc[1].madd(a, b1);
        }
    }
    acc
}

/// Writes (or adds, after the first `KC` block) the `rows × cols` corner of a tile at `out`.
#[inline(always)]
unsafe fn store<L: Lanes>(
    tile: [[L; 2]; MR],
    out: *mut f32,
    out_stride: usize,
    [rows, cols]: [usize; 2],
    add: bool,
) {
    if cols == NR {
        for (r, tile) in tile.iter().enumerate().take(rows) {
            let row = out.add(r * out_stride);
            for (half, &value) in tile.iter().enumerate() {
                let at = row.add(4 * half);
                let value = if add { value.add(L::load(at)) } else { value };
                value.store(at);
            }
        }
        return;
    }
    let mut spill = [0.0f32; NR];
    for (r, tile) in tile.iter().enumerate().take(rows) {
        tile[0].store(spill.as_mut_ptr());
        tile[1].store(spill.as_mut_ptr().add(4));
        let row = out.add(r * out_stride);
        for (c, &value) in spill.iter().enumerate().take(cols) {
            *row.add(c) = if add { *row.add(c) + value } else { value };
        }
    }
}

/// `rows × kc` of `a` as panels of `MR` rows, column by column (zero rows past `rows`): four
/// columns of a whole panel at a time, as a 4×4 transpose in registers. (Done one float at a
/// time, this packing was a fifth of SE-ResNet-50's forward pass on the bench page: the weights
/// are `a`, and the narrow GEMMs of the 14×14 and 7×7 stages and of Winograd's tiles pack all of
/// them for few columns of `b`.)
unsafe fn pack_a<L: Lanes>(
    packed: &mut [f32],
    a: *const f32,
    a_stride: usize,
    rows: usize,
    kc: usize,
) {
    for (i, panel) in packed
        .chunks_exact_mut(kc * MR)
        .take(rows.div_ceil(MR))
        .enumerate()
    {
        let live = MR.min(rows - i * MR);
        let source: [*const f32; MR] =
            std::array::from_fn(|r| a.wrapping_add((i * MR + r) * a_stride));
        let whole = if live == MR { kc / 4 * 4 } else { 0 };
        for p in (0..whole).step_by(4) {
            let columns = L::transpose(source.map(|row| L::load(row.add(p))));
            for (q, column) in columns.into_iter().enumerate() {
                column.store(panel.as_mut_ptr().add((p + q) * MR));
            }
        }
        for p in whole..kc {
            for (r, row) in source.iter().enumerate() {
                panel[p * MR + r] = if r < live { *row.add(p) } else { 0.0 };
            }
        }
    }
}

/// `kc × cols` of `b` as panels of `NR` columns, row by row (zero columns past `cols`).
unsafe fn pack_b(packed: &mut [f32], b: *const f32, b_stride: usize, kc: usize, cols: usize) {
    for (j, panel) in packed
        .chunks_exact_mut(kc * NR)
        .take(cols.div_ceil(NR))
        .enumerate()
    {
        let live = NR.min(cols - j * NR);
        for (p, row) in panel.chunks_exact_mut(NR).enumerate() {
            let source = b.add(p * b_stride + j * NR);
            if live == NR {
                row.copy_from_slice(std::slice::from_raw_parts(source, NR));
            } else {
                row[..live].copy_from_slice(std::slice::from_raw_parts(source, live));
                row[live..].fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::lanes::tests::Array;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                ((i.wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    /// Every edge of the blocking: tiles cut in rows and columns, several `KC`, `MC` and `NC`
    /// blocks, strides wider than the views, and `out`'s padding left untouched.
    fn matches_the_naive_product<L: Lanes>() {
        for [m, k, n] in [
            [2, 0, 3],
            [1, 1, 1],
            [3, 5, 7],
            [4, 8, 8],
            [9, 300, 13],
            [130, 513, 520],
            [64, 64, 1030],
        ] {
            let (a_stride, b_stride, out_stride) = (k + 3, n + 1, n + 2);
            let (a, b) = (values(m * a_stride, 1), values(k * b_stride, 2));
            let mut out = vec![f32::NAN; m * out_stride];
            unsafe {
                matmul::<L>(
                    [m, k, n],
                    out.as_mut_ptr(),
                    out_stride,
                    a.as_ptr(),
                    a_stride,
                    b.as_ptr(),
                    b_stride,
                )
            };
            for r in 0..m {
                for c in 0..out_stride {
                    let got = out[r * out_stride + c];
                    if c >= n {
                        assert!(
                            got.is_nan(),
                            "[{m}, {k}, {n}] wrote outside the view at ({r}, {c})"
                        );
                        continue;
                    }
                    let want: f64 = (0..k)
                        .map(|p| a[r * a_stride + p] as f64 * b[p * b_stride + c] as f64)
                        .sum();
                    let scale: f64 = (0..k)
                        .map(|p| (a[r * a_stride + p] * b[p * b_stride + c]).abs() as f64)
                        .sum();
                    // The classic bound of a float sum of k products: k · 2⁻²⁴ · Σ|products|.
                    assert!(
                        (got as f64 - want).abs()
                            <= k as f64 * f64::from(f32::EPSILON) / 2.0 * scale,
                        "[{m}, {k}, {n}] at ({r}, {c}): {got} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn unfused_matches_the_naive_product() {
        matches_the_naive_product::<Array<false>>();
    }

    #[test]
    fn fused_matches_the_naive_product() {
        matches_the_naive_product::<Array<true>>();
    }
}
