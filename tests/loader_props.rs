//! Property tests over the loaders (safetensors, config + weights, ONNX, npy, images): whatever bytes arrive, they return a value or an error and
//! never panic, hang or allocate absurdly.
//!
//! `make test` runs 300 cases per property from a fixed seed; `make fuzz` runs the same properties with many more
//! (`SE_LENS_FUZZ_CASES`) for a bounded time. A failure prints the minimal input; keep it as a
//! regression case in `regressions()` below.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use se_lens::engine::{read_npy, RunOptions, Tensor};
use se_lens::model::{Model, OnnxOptions, Weights};
use se_lens::preprocess;

const CONFIG: &[u8] = include_bytes!("fixtures/models/seresnet18_tiny/config.json");
const WEIGHTS: &[u8] = include_bytes!("fixtures/models/seresnet18_tiny/model.safetensors");
const DEFAULT_CONFIG: &[u8] = include_bytes!("../assets/models/seresnet10-fmnist/config.json");
const PNG: &[u8] = include_bytes!("fixtures/preprocess/decode_bilevel.png");
const SAMPLE_PNG: &[u8] = include_bytes!("../assets/samples/fmnist-ankle-boot-0.png");
const JPEG: &[u8] = include_bytes!("fixtures/preprocess/chelsea_q90.jpg");
const ONNX_PADDLE: &[u8] = include_bytes!("fixtures/onnx/paddle_style/model.onnx");
const ONNX_KERAS: &[u8] = include_bytes!("fixtures/onnx/keras_nhwc/model.onnx");
const ONNX_GEMM: &[u8] = include_bytes!("fixtures/onnx/gemm_se/model.onnx");

/// `make test`: 300 cases from a fixed seed, the same every run, so a test run never fails by
/// chance. `make fuzz` (`SE_LENS_FUZZ_CASES`): that many cases from a fresh seed each run.
fn config() -> ProptestConfig {
    let fuzz_cases = std::env::var("SE_LENS_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: fuzz_cases.unwrap_or(300),
        rng_seed: match fuzz_cases {
            Some(_) => RngSeed::Random,
            None => RngSeed::Fixed(0x5e_1e25),
        },
        // Failures print their minimal input; regressions() keeps them.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Flips, truncates or overwrites bytes of a valid file.
fn mutated(valid: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8);
    (edits, any::<prop::sample::Index>(), any::<bool>()).prop_map(move |(edits, cut, truncate)| {
        let mut bytes = valid.to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        bytes
    })
}

/// Mutations concentrated on the header, where the interesting parsing happens.
fn header_mutated() -> impl Strategy<Value = Vec<u8>> {
    let header_end = 8 + u64::from_le_bytes(WEIGHTS[..8].try_into().unwrap()) as usize;
    prop::collection::vec((0..header_end, any::<u8>()), 1..6).prop_map(|edits| {
        let mut bytes = WEIGHTS.to_vec();
        for (i, value) in edits {
            bytes[i] = value;
        }
        bytes
    })
}

/// Decodes `bytes` and runs them through the default model's photo rule and preprocessing.
fn image_pipeline(bytes: &[u8]) {
    let config: se_lens::model::ModelConfig =
        serde_json::from_slice(DEFAULT_CONFIG).expect("the default model's config");
    if let Ok(image) = preprocess::decode(bytes) {
        let seen = preprocess::adapt_photo(&image, &config);
        let _ = preprocess::preprocess(&seen, &config.pretrained_cfg);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn safetensors_never_panics(bytes in prop_oneof![mutated(WEIGHTS), header_mutated(), prop::collection::vec(any::<u8>(), 0..64)]) {
        if let Ok(weights) = Weights::parse(&bytes) {
            for name in weights.names() {
                let shape = weights.shape(name).unwrap_or_default();
                let _ = weights.take(name, &shape);
            }
        }
    }

    #[test]
    fn whole_model_loading_never_panics(config in mutated(CONFIG), weights in header_mutated()) {
        let _ = Model::from_bytes(&config, WEIGHTS);
        let _ = Model::from_bytes(CONFIG, &weights);
    }

    /// An ONNX file that imports also runs.
    #[test]
    fn onnx_import_never_panics(bytes in prop_oneof![mutated(ONNX_PADDLE), mutated(ONNX_KERAS), mutated(ONNX_GEMM)]) {
        let mut no_files = |_: &str| Err("no external data here".to_string());
        if let Ok(model) = Model::from_onnx("m.onnx", &bytes, &mut no_files, &OnnxOptions::default()) {
            let [c, h, w] = model.config.pretrained_cfg.input_size;
            let input = Tensor::new([1, c, h, w], vec![0.5; c * h * w]);
            let _ = se_lens::exec::cpu::forward(&model.graph, &input, &RunOptions::default());
        }
    }

    #[test]
    fn image_decoding_and_preprocessing_never_panic(bytes in prop_oneof![mutated(PNG), mutated(SAMPLE_PNG), mutated(JPEG)]) {
        image_pipeline(&bytes);
    }

    #[test]
    fn npy_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), header in "[ -~]{0,80}") {
        let _ = read_npy(&bytes);
        let mut file = b"\x93NUMPY\x01\x00".to_vec();
        file.extend((header.len() as u16).to_le_bytes());
        file.extend(header.as_bytes());
        file.extend([0u8; 16]);
        let _ = read_npy(&file);
    }
}

/// Inputs that once failed (the bomb header is from the issue; the rest from fuzzing runs).
#[test]
fn regressions() {
    // A Reshape target `[2⁴⁰, 2⁴⁰]` (for `[-1, 24]`), whose product overflowed.
    let mut huge_reshape = ONNX_PADDLE.to_vec();
    let target = [(-1i64).to_le_bytes(), 24i64.to_le_bytes()].concat();
    let at = huge_reshape
        .windows(target.len())
        .position(|w| w == target)
        .expect("the Reshape's target in the file");
    let huge = [(1i64 << 40).to_le_bytes(), (1i64 << 40).to_le_bytes()].concat();
    huge_reshape[at..at + huge.len()].copy_from_slice(&huge);
    let mut no_files = |_: &str| Err("no external data here".to_string());
    let error = Model::from_onnx(
        "m.onnx",
        &huge_reshape,
        &mut no_files,
        &OnnxOptions::default(),
    )
    .map(|_| ())
    .expect_err("refused");
    assert!(error.to_string().contains("too large"), "{error}");

    let mut bomb = PNG[..33].to_vec();
    bomb[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]); // 100000 × 100000
    image_pipeline(&bomb);
    assert!(preprocess::decode(&bomb).is_err());
}
