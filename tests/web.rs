//! The engine compiled to wasm32, run in headless Chromium by wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use se_lens::engine::{Backend, BackendPreference, RunOptions, Tensor, Tolerance};
use se_lens::model::{Model, Weights};
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

/// The whole network on WebGPU (SwiftShader in headless Chromium with `enable-unsafe-webgpu`, see
/// webdriver.json) equals the CPU path (logits 1e-4 relative, gates 1e-4 absolute); where the
/// browser has no WebGPU, the backend falls back to the CPU and says why.
#[wasm_bindgen_test]
async fn webgpu_matches_the_cpu_or_falls_back_with_a_reason() {
    let model = Model::from_bytes(
        include_bytes!("fixtures/models/seresnext26d_tiny/config.json"),
        include_bytes!("fixtures/models/seresnext26d_tiny/model.safetensors"),
    )
    .expect("tiny model loads");
    let input = Tensor::pattern([1, 3, 61, 47]);
    let options = RunOptions::default();
    let backend = Backend::new(&model.network, BackendPreference::Gpu).await;
    let name = backend.name();
    let output = backend.run(&model.network, &input, &options).await;
    let cpu = se_lens::cpu::forward(&model.network, &input, &options);
    match name {
        "webgpu" => {
            assert_eq!(backend.fallback_reason(), None);
            Tolerance::new(1e-4, 1e-4)
                .check(&output.logits, &cpu.logits)
                .unwrap();
            for (gpu, cpu) in output.excitations.iter().zip(&cpu.excitations) {
                Tolerance::new(0.0, 1e-4)
                    .check(&gpu.values, &cpu.values)
                    .unwrap();
            }
        }
        "cpu" => {
            let reason = backend
                .fallback_reason()
                .expect("the reason for the fallback");
            console_log!("WebGPU fallback: {reason}");
            assert_eq!(output, cpu);
        }
        other => panic!("unexpected backend {other}"),
    }
}

/// The CPU engine on wasm32 (simd128 GEMM) against timm, like tests/model_parity.rs natively.
#[wasm_bindgen_test]
fn seresnet18_tiny_matches_timm_on_wasm() {
    let model = Model::from_bytes(
        include_bytes!("fixtures/models/seresnet18_tiny/config.json"),
        include_bytes!("fixtures/models/seresnet18_tiny/model.safetensors"),
    )
    .expect("tiny model loads");
    let expected_bytes = include_bytes!("fixtures/models/seresnet18_tiny/expected.safetensors");
    let expected = Weights::parse(expected_bytes).expect("expected.safetensors");
    let take = |name: &str| {
        expected
            .take(name, expected.shape(name).expect(name))
            .expect(name)
    };
    let shape: [usize; 4] = expected
        .shape("input")
        .expect("input")
        .try_into()
        .expect("NCHW");
    let output = se_lens::cpu::forward(
        &model.network,
        &Tensor::new(shape, take("input")),
        &RunOptions::default(),
    );
    Tolerance::new(1e-4, 1e-4)
        .check(&output.logits, &take("logits"))
        .unwrap();
    assert_eq!(output.excitations.len(), 8);
    for tap in &output.excitations {
        Tolerance::new(0.0, 1e-4)
            .check(&tap.values, &take(&format!("gate/{}", tap.block)))
            .unwrap();
    }
}
