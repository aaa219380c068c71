//! Fixtures shared by the parity tests (`model_parity.rs`, `gpu_parity.rs`): each case is a timm
//! hub folder plus `expected.safetensors` with `input`, `logits` and `gate/<SE module path>`, from
//! `tools/make_fixtures.py`.
#![allow(dead_code)] // each test file uses part of this

use std::path::{Path, PathBuf};

use se_lens::engine::Tensor;
use se_lens::model::Weights;

/// What timm computed for a case.
pub struct Expected {
    pub input: Tensor,
    pub logits: Vec<f32>,
    /// `(SE module path, gate)`, sorted by path.
    pub gates: Vec<(String, Vec<f32>)>,
}

pub fn expected(case: &Path) -> Expected {
    let bytes = std::fs::read(case.join("expected.safetensors")).expect("expected.safetensors");
    let file = Weights::parse(&bytes).expect("valid safetensors");
    let take = |name: &str| file.take(name, &file.shape(name).expect(name)).expect(name);
    let shape: [usize; 4] = file
        .shape("input")
        .expect("input")
        .try_into()
        .expect("NCHW input");
    let mut gates: Vec<(String, Vec<f32>)> = file
        .names()
        .into_iter()
        .filter_map(|name| name.strip_prefix("gate/"))
        .map(|block| (block.to_owned(), take(&format!("gate/{block}"))))
        .collect();
    gates.sort_by(|a, b| a.0.cmp(&b.0));
    Expected {
        input: Tensor::new(shape, take("input")),
        logits: take("logits"),
        gates,
    }
}

/// A committed case of `tests/fixtures/models/`.
pub fn committed_case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

/// The small cases committed under `tests/fixtures/models/`.
pub fn committed_cases() -> Vec<PathBuf> {
    cases_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models"))
}

/// The full-size cases `make test` generates (scripts/fixtures.sh writes their folder to
/// `target/fixtures-dir`), without the copies of the committed ones.
pub fn full_size_cases() -> Vec<PathBuf> {
    let pointer = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fixtures-dir");
    let Ok(dir) = std::fs::read_to_string(&pointer) else {
        panic!(
            "{} is missing: run scripts/fixtures.sh (make test does)",
            pointer.display()
        );
    };
    let cases: Vec<PathBuf> = cases_in(Path::new(dir.trim()))
        .into_iter()
        .filter(|path| !path.to_string_lossy().ends_with("_tiny"))
        .collect();
    assert!(!cases.is_empty(), "no fixtures in {}", dir.trim());
    cases
}

/// [`full_size_cases`] without the `--large` ones (deeper copies of architectures the default
/// set already has, which `make_fixtures.py` marks `"large": true` in its manifest).
pub fn full_size_cases_but_large() -> Vec<PathBuf> {
    full_size_cases()
        .into_iter()
        .filter(|case| {
            let dir = case.parent().expect("a fixtures folder");
            let manifest: serde_json::Value = serde_json::from_slice(
                &std::fs::read(dir.join("manifest.json")).expect("manifest.json"),
            )
            .expect("a JSON manifest");
            let name = case.file_name().expect("a case").to_string_lossy();
            manifest["cases"][name.as_ref()]["large"] != serde_json::Value::Bool(true)
        })
        .collect()
}

/// The cases in `dir`: its folders that hold an `expected.safetensors`, sorted.
pub fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.join("expected.safetensors").exists())
        .collect();
    cases.sort();
    cases
}
