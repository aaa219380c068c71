//! The engine compiled to wasm32, run in headless Chromium by wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use se_lens::engine::{run_probe, BackendPreference, Tensor, Tolerance};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn cpu_squeeze_is_the_channel_mean() {
    let input = Tensor::new([1, 2, 1, 3], vec![1.0, 2.0, 3.0, -4.0, 0.0, 1.0]);
    let squeezed = se_lens::cpu::global_avg_pool(&input);
    Tolerance::new(0.0, 1e-7)
        .check(&squeezed.data, &[2.0, -1.0])
        .unwrap();
}

#[wasm_bindgen_test]
async fn webgpu_squeeze_matches_cpu_or_falls_back_with_a_reason() {
    let report = run_probe(BackendPreference::Auto).await;
    assert_eq!(report.channel_means.len(), 64);
    match report.backend.as_str() {
        "webgpu" => assert!(report.max_abs_diff < 1e-4, "{report:?}"),
        "cpu" => assert!(report.fallback_reason.is_some(), "{report:?}"),
        other => panic!("unexpected backend {other}"),
    }
}
