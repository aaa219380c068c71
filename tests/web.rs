//! The engine compiled to wasm32, run in headless Chromium by wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]

use se_lens::engine::{RunOptions, Tensor, Tolerance};
use se_lens::model::{Model, OnnxOptions, Weights};
use se_lens::runtime::{Backend, BackendPreference};
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

/// The build is the one asked for: `SE_LENS_SIMD=relaxed` (scripts/env.sh) compiles this crate with
/// relaxed SIMD, and without it nothing is.
#[wasm_bindgen_test]
fn the_build_has_relaxed_simd_when_asked() {
    let asked = option_env!("SE_LENS_SIMD") == Some("relaxed");
    assert_eq!(se_lens::cpu::RELAXED_SIMD, asked);
    assert_eq!(cfg!(target_feature = "relaxed-simd"), asked);
}

/// A committed fixture folder's three files, embedded.
macro_rules! fixture {
    ($case:literal) => {
        (
            &include_bytes!(concat!("fixtures/models/", $case, "/config.json"))[..],
            &include_bytes!(concat!("fixtures/models/", $case, "/model.safetensors"))[..],
            &include_bytes!(concat!("fixtures/models/", $case, "/expected.safetensors"))[..],
        )
    };
}

type Fixture = (&'static [u8], &'static [u8], &'static [u8]);

/// The whole network on WebGPU (SwiftShader in headless Chromium with `enable-unsafe-webgpu`, see
/// webdriver.json) equals the CPU path (logits 1e-4 relative, gates 1e-4 absolute); where the
/// browser has no WebGPU, the backend falls back to the CPU and says why. A ResNeXt (grouped
/// convolutions, ReLU, sigmoid) and a MobileNetV3 (depthwise, hard-swish, hard-sigmoid).
#[wasm_bindgen_test]
async fn webgpu_matches_the_cpu_or_falls_back_with_a_reason() {
    let cases = [
        ("seresnext26d_tiny", fixture!("seresnext26d_tiny")),
        (
            "mobilenetv3_small_050_tiny",
            fixture!("mobilenetv3_small_050_tiny"),
        ),
    ];
    for (case, (config, weights, _)) in cases {
        let model = Model::from_bytes(config, weights).expect("tiny model loads");
        let input = Tensor::pattern([1, 3, 61, 47]);
        let options = RunOptions::default();
        let backend = Backend::new(&model.graph, BackendPreference::Gpu).await;
        let output = backend
            .run(&model.graph, &input, &options)
            .await
            .expect("valid options");
        let cpu =
            se_lens::exec::cpu::forward(&model.graph, &input, &options).expect("valid options");
        match backend.name() {
            "webgpu" => {
                assert_eq!(backend.fallback_reason(), None, "{case}");
                Tolerance::new(1e-4, 1e-4)
                    .check(&output.logits, &cpu.logits)
                    .unwrap_or_else(|m| panic!("{case}: {m}"));
                for (gpu, cpu) in output.excitations.iter().zip(&cpu.excitations) {
                    Tolerance::new(0.0, 1e-4)
                        .check(&gpu.values, &cpu.values)
                        .unwrap_or_else(|m| panic!("{case} {}: {m}", gpu.block));
                }
            }
            "cpu" => {
                let reason = backend
                    .fallback_reason()
                    .expect("the reason for the fallback");
                console_log!("{case}: WebGPU fallback: {reason}");
                assert_eq!(output, cpu);
            }
            other => panic!("unexpected backend {other}"),
        }
    }
}

/// The CPU engine on wasm32 (simd128 GEMM) against timm, like tests/model_parity.rs natively.
fn matches_timm_on_wasm((config, weights, expected): Fixture, gates: usize) {
    let model = Model::from_bytes(config, weights).expect("tiny model loads");
    matches_reference_on_wasm(&model, expected, gates);
}

/// `model` on the CPU engine on wasm32 against `expected.safetensors` (input, logits, gates).
fn matches_reference_on_wasm(model: &Model, expected: &[u8], gates: usize) {
    let expected = Weights::parse(expected).expect("expected.safetensors");
    let take = |name: &str| {
        expected
            .take(name, &expected.shape(name).expect(name))
            .expect(name)
    };
    let shape: [usize; 4] = expected
        .shape("input")
        .expect("input")
        .try_into()
        .expect("NCHW");
    let output = se_lens::exec::cpu::forward(
        &model.graph,
        &Tensor::new(shape, take("input")),
        &RunOptions::default(),
    )
    .expect("valid options");
    Tolerance::new(1e-4, 1e-4)
        .check(&output.logits, &take("logits"))
        .unwrap();
    assert_eq!(output.excitations.len(), gates);
    for tap in &output.excitations {
        Tolerance::new(0.0, 1e-4)
            .check(&tap.values, &take(&format!("gate/{}", tap.block)))
            .unwrap();
    }
}

/// ONNX files against ONNX Runtime, like tests/onnx_parity.rs natively: the Paddle-style graph
/// (opset 11, Constant nodes, written-out hard-swish and hard sigmoids, a Softmax) and the Keras
/// one (NHWC input, Transposes).
#[wasm_bindgen_test]
fn onnx_files_match_onnx_runtime_on_wasm() {
    let cases: [(&[u8], &[u8], usize); 2] = [
        (
            include_bytes!("fixtures/onnx/paddle_style/model.onnx"),
            include_bytes!("fixtures/onnx/paddle_style/expected.safetensors"),
            2,
        ),
        (
            include_bytes!("fixtures/onnx/keras_nhwc/model.onnx"),
            include_bytes!("fixtures/onnx/keras_nhwc/expected.safetensors"),
            1,
        ),
    ];
    for (file, expected, gates) in cases {
        let mut no_files = |_: &str| Err("no external data".to_string());
        let model = Model::from_onnx("model.onnx", file, &mut no_files, &OnnxOptions::default())
            .expect("the file imports");
        matches_reference_on_wasm(&model, expected, gates);
    }
}

#[wasm_bindgen_test]
fn seresnet18_tiny_matches_timm_on_wasm() {
    matches_timm_on_wasm(fixture!("seresnet18_tiny"), 8);
}

/// Depthwise convolutions, hard-swish and the hard-sigmoid gate, on an odd 161×191 input.
#[wasm_bindgen_test]
fn mobilenetv3_small_050_tiny_matches_timm_on_wasm() {
    matches_timm_on_wasm(fixture!("mobilenetv3_small_050_tiny"), 9);
}

/// RegNetY (issue 19's families): grouped bottlenecks, the SE's width from the block's input.
#[wasm_bindgen_test]
fn regnety_002_tiny_matches_timm_on_wasm() {
    matches_timm_on_wasm(fixture!("regnety_002_tiny"), 6);
}

/// ReXNet: an SE with a BatchNorm, ReLU6 after the scale, a shortcut into the first channels
/// (slice, add, concatenate).
#[wasm_bindgen_test]
fn rexnet_100_tiny_matches_timm_on_wasm() {
    matches_timm_on_wasm(fixture!("rexnet_100_tiny"), 5);
}
