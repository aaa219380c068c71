use crate::engine::Tensor;

/// The SE "squeeze": the mean of every channel plane, `[N, C, H, W]` → `[N, C, 1, 1]`.
pub fn global_avg_pool(input: &Tensor) -> Tensor {
    let [n, c, h, w] = input.shape;
    let plane = h * w;
    let data = input
        .data
        .chunks_exact(plane)
        .map(|p| p.iter().sum::<f32>() / plane as f32)
        .collect();
    Tensor::new([n, c, 1, 1], data)
}
