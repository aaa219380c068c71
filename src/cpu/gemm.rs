//! A safe front for the `gemm` crate (AVX2/FMA/AVX-512 natively, simd128 on wasm32).

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
    // SAFETY: every element the kernel touches lies inside the slices: the asserts above bound
    // the last row of each view, columns are contiguous (col stride 1), and `out` is borrowed
    // mutably so it cannot alias `a` or `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_stride as isize,
            false,
            a.data.as_ptr(),
            1,
            a.row_stride as isize,
            b.data.as_ptr(),
            1,
            b.row_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            super::parallel::gemm_parallelism(),
        );
    }
}
