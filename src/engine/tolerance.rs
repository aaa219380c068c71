/// How close two float results must be: `|actual − expected| ≤ max(rtol·|expected|, atol)`.
///
/// The single definition used by every parity test (CPU vs PyTorch, GPU vs CPU, wasm vs native).
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub rtol: f32,
    pub atol: f32,
}

/// The first element that breaks a [`Tolerance`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("element {index}: got {actual}, expected {expected} (|Δ| = {diff:e}, allowed {allowed:e})")]
pub struct Mismatch {
    pub index: usize,
    pub actual: f32,
    pub expected: f32,
    pub diff: f32,
    pub allowed: f32,
}

impl Tolerance {
    pub const fn new(rtol: f32, atol: f32) -> Self {
        Self { rtol, atol }
    }

    /// Checks every pair; lengths must match (a length mismatch is reported at the shorter end).
    pub fn check(&self, actual: &[f32], expected: &[f32]) -> Result<(), Mismatch> {
        let mismatch = |index: usize, actual: f32, expected: f32| {
            let allowed = (self.rtol * expected.abs()).max(self.atol);
            let diff = (actual - expected).abs();
            (diff.is_nan() || diff > allowed).then_some(Mismatch {
                index,
                actual,
                expected,
                diff,
                allowed,
            })
        };
        if actual.len() != expected.len() {
            let index = actual.len().min(expected.len());
            return Err(Mismatch {
                index,
                actual: f32::NAN,
                expected: f32::NAN,
                diff: f32::NAN,
                allowed: 0.0,
            });
        }
        actual
            .iter()
            .zip(expected)
            .enumerate()
            .find_map(|(i, (&a, &e))| mismatch(i, a, e))
            .map_or(Ok(()), Err)
    }
}

/// The largest `|a − b|` over paired elements (0 for empty slices).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
