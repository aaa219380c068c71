//! A safe front for the GEMM: the `gemm` crate's AVX2/FMA/AVX-512 kernels natively, our own
//! packed kernel on wasm32 (`packed_gemm.rs`, simd128 or relaxed SIMD).

use super::parallel::SharedPtr;

/// A read-only row-major matrix view with a row stride (`rows × cols`, element `[r, c]` at
/// `data[r * row_stride + c]`).
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
}

impl MatRef<'_> {
    fn covers(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + self.cols <= self.data.len()
    }
}

/// `out = a × b` where `out` is row-major `a.rows × b.cols` with row stride `out_stride`.
///
/// # Panics
/// If the views are inconsistent (a programming error, checked before the unsafe call).
pub fn matmul(out: &mut [f32], out_stride: usize, a: MatRef, b: MatRef) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "inner dimensions differ");
    assert!(a.covers() && b.covers(), "matrix view exceeds its slice");
    assert!(
        m == 0 || n == 0 || (m - 1) * out_stride + n <= out.len(),
        "output view exceeds its slice"
    );
    if m == 0 || n == 0 {
        return;
    }
    // One block per thread (`parallel::gemm_blocks`): whole rows of `out` (and `a`), or whole
    // columns (and of `b`), whichever dimension is longer; column blocks start at multiples of 16
    // (the native microkernel's width, and a multiple of the wasm kernel's 8).
    let blocks = super::parallel::gemm_blocks(2 * m * n * k);
    let by_rows = m > n;
    let (len, align) = if by_rows { (m, 1) } else { (n, 16) };
    let bound = |block: usize| match block {
        block if block == blocks => len,
        block => block * len / blocks / align * align,
    };
    let out_ptr = SharedPtr(out.as_mut_ptr());
    super::parallel::for_each_index(blocks, |block| {
        let (start, end) = (bound(block), bound(block + 1));
        let (rows, cols) = match by_rows {
            true => (start..end, 0..n),
            false => (0..m, start..end),
        };
        if rows.is_empty() || cols.is_empty() {
            return;
        }
        // SAFETY: every element the kernel touches lies inside the slices: the asserts above
        // bound the last row of each view, columns are contiguous (col stride 1), the blocks are
        // disjoint parts of `out`, and `out` is borrowed mutably so it cannot alias `a` or `b`.
        unsafe {
            #[cfg(not(target_arch = "wasm32"))]
            gemm::gemm(
                rows.len(),
                cols.len(),
                k,
                out_ptr.get().add(rows.start * out_stride + cols.start),
                1,
                out_stride as isize,
                false,
                a.data.as_ptr().add(rows.start * a.row_stride),
                1,
                a.row_stride as isize,
                b.data.as_ptr().add(cols.start),
                1,
                b.row_stride as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
            #[cfg(target_arch = "wasm32")]
            super::packed_gemm::matmul::<super::lanes::wasm::Simd>(
                [rows.len(), k, cols.len()],
                out_ptr.get().add(rows.start * out_stride + cols.start),
                out_stride,
                a.data.as_ptr().add(rows.start * a.row_stride),
                a.row_stride,
                b.data.as_ptr().add(cols.start),
                b.row_stride,
            );
        }
    });
}
