/// A dense f32 tensor in NCHW layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: [usize; 4],
    pub data: Vec<f32>,
}

impl Tensor {
    /// # Panics
    /// If `data` does not hold exactly `shape`'s element count (a programming error).
    pub fn new(shape: [usize; 4], data: Vec<f32>) -> Self {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "tensor data does not match shape {shape:?}"
        );
        Self { shape, data }
    }

    /// A deterministic, non-trivial test pattern (different mean per channel).
    pub fn pattern(shape: [usize; 4]) -> Self {
        let plane = shape[2] * shape[3];
        let data = (0..shape.iter().product::<usize>())
            .map(|i| {
                let channel = (i / plane) as f32;
                let pos = (i % plane) as f32;
                (channel * 0.37).sin() + 0.25 * (pos * 0.013 + channel).cos()
            })
            .collect();
        Self::new(shape, data)
    }
}
