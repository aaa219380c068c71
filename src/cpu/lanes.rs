//! Four f32 lanes, the vector the wasm build's hand-written loops are generic over: the GEMM's
//! microkernel and packing (`packed_gemm.rs`) and the depthwise convolution's row update ([`axpy`]). On wasm32
//! it is a `v128` whose multiply-add is one `f32x4.relaxed_madd` in the relaxed-SIMD build (fused
//! where the CPU has FMA) and a multiply and an add otherwise; in the native unit tests it is an
//! array, fused or not, so both roundings are checked.

/// Four f32 lanes and the operations the kernels need.
pub trait Lanes: Copy {
    fn zero() -> Self;
    fn splat(value: f32) -> Self;
    /// # Safety
    /// `ptr` must be valid for reading four floats (no alignment needed).
    unsafe fn load(ptr: *const f32) -> Self;
    /// # Safety
    /// `ptr` must be valid for writing four floats (no alignment needed).
    unsafe fn store(self, ptr: *mut f32);
    fn add(self, other: Self) -> Self;
    /// `self + a × b`, rounded once or twice (relaxed SIMD leaves that to the CPU).
    fn madd(self, a: Self, b: Self) -> Self;
    /// The 4×4 matrix whose rows are `rows`, transposed: lane `c` of row `r` becomes lane `r` of
    /// row `c`.
    fn transpose(rows: [Self; 4]) -> [Self; 4];
}

/// `out[i] += w · x[i]` over `out.len()` (≤ `x.len()`) elements: four at a time with
/// [`Lanes::madd`], the rest one by one.
#[cfg(any(test, target_feature = "relaxed-simd"))]
#[inline(always)]
pub fn axpy<L: Lanes>(out: &mut [f32], w: f32, x: &[f32]) {
    let x = &x[..out.len()];
    let whole = out.len() / 4 * 4;
    let weight = L::splat(w);
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 ≤ whole ≤ out.len() = x.len().
        unsafe {
            let at = out.as_mut_ptr().add(i);
            L::load(at)
                .madd(weight, L::load(x.as_ptr().add(i)))
                .store(at);
        }
    }
    for (o, v) in out[whole..].iter_mut().zip(&x[whole..]) {
        *o += w * v;
    }
}

/// wasm32's 128-bit vectors: `relaxed_madd` in a build with the `relaxed-simd` target feature,
/// a multiply and an add otherwise.
#[cfg(target_arch = "wasm32")]
pub mod wasm {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct Simd(v128);

    impl super::Lanes for Simd {
        #[inline(always)]
        fn zero() -> Self {
            Simd(f32x4_splat(0.0))
        }
        #[inline(always)]
        fn splat(value: f32) -> Self {
            Simd(f32x4_splat(value))
        }
        #[inline(always)]
        unsafe fn load(ptr: *const f32) -> Self {
            Simd(v128_load(ptr.cast()))
        }
        #[inline(always)]
        unsafe fn store(self, ptr: *mut f32) {
            v128_store(ptr.cast(), self.0)
        }
        #[inline(always)]
        fn add(self, other: Self) -> Self {
            Simd(f32x4_add(self.0, other.0))
        }
        #[inline(always)]
        fn madd(self, a: Self, b: Self) -> Self {
            #[cfg(target_feature = "relaxed-simd")]
            return Simd(f32x4_relaxed_madd(a.0, b.0, self.0));
            #[cfg(not(target_feature = "relaxed-simd"))]
            Simd(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
        }
        /// Interleaves pairs of rows, then halves (the shuffles V8 turns into x86's
        /// `unpcklps`/`unpckhps` and `movlhps`/`movhlps`).
        #[inline(always)]
        fn transpose([r0, r1, r2, r3]: [Self; 4]) -> [Self; 4] {
            let low01 = i32x4_shuffle::<0, 4, 1, 5>(r0.0, r1.0);
            let high01 = i32x4_shuffle::<2, 6, 3, 7>(r0.0, r1.0);
            let low23 = i32x4_shuffle::<0, 4, 1, 5>(r2.0, r3.0);
            let high23 = i32x4_shuffle::<2, 6, 3, 7>(r2.0, r3.0);
            [
                Simd(i32x4_shuffle::<0, 1, 4, 5>(low01, low23)),
                Simd(i32x4_shuffle::<2, 3, 6, 7>(low01, low23)),
                Simd(i32x4_shuffle::<0, 1, 4, 5>(high01, high23)),
                Simd(i32x4_shuffle::<2, 3, 6, 7>(high01, high23)),
            ]
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Four lanes as an array; `FUSED` rounds the multiply-add once (FMA), as relaxed SIMD may.
    #[derive(Clone, Copy)]
    pub struct Array<const FUSED: bool>([f32; 4]);

    impl<const FUSED: bool> Lanes for Array<FUSED> {
        fn zero() -> Self {
            Array([0.0; 4])
        }
        fn splat(value: f32) -> Self {
            Array([value; 4])
        }
        unsafe fn load(ptr: *const f32) -> Self {
            Array(std::array::from_fn(|i| *ptr.add(i)))
        }
        unsafe fn store(self, ptr: *mut f32) {
            (0..4).for_each(|i| *ptr.add(i) = self.0[i]);
        }
        fn add(self, other: Self) -> Self {
            Array(std::array::from_fn(|i| self.0[i] + other.0[i]))
        }
        fn madd(self, a: Self, b: Self) -> Self {
            Array(std::array::from_fn(|i| match FUSED {
                true => a.0[i].mul_add(b.0[i], self.0[i]),
                false => self.0[i] + a.0[i] * b.0[i],
            }))
        }
        fn transpose(rows: [Self; 4]) -> [Self; 4] {
            std::array::from_fn(|c| Array(std::array::from_fn(|r| rows[r].0[c])))
        }
    }

    /// Every tail length; fused or not, each output within one rounding of the exact sum.
    fn axpy_adds_the_scaled_row<L: Lanes>() {
        for len in 0..11 {
            let x: Vec<f32> = (0..len + 2).map(|i| 0.1 + i as f32 / 3.0).collect();
            let start: Vec<f32> = (0..len).map(|i| 1.0 - i as f32 / 7.0).collect();
            let mut out = start.clone();
            axpy::<L>(&mut out, 0.3, &x);
            for (i, (&got, &was)) in out.iter().zip(&start).enumerate() {
                let want = was as f64 + 0.3f32 as f64 * x[i] as f64;
                assert!((got as f64 - want).abs() <= 2.0 * f64::from(f32::EPSILON) * want.abs());
            }
        }
    }

    #[test]
    fn axpy_unfused_and_fused() {
        axpy_adds_the_scaled_row::<Array<false>>();
        axpy_adds_the_scaled_row::<Array<true>>();
    }
}
