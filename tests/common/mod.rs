//! Fixtures shared by the parity tests (`model_parity.rs`, `gpu_parity.rs`): each case is a timm
//! hub folder plus `expected.safetensors` with `input`, `logits` and `gate/<SE module path>`, from
//! `tools/make_fixtures.py`.
#![allow(dead_code)] // each test file uses part of this

use std::path::{Path, PathBuf};

use se_lens::engine::{RunOptions, Tensor};
use se_lens::exec::region::{region_gates, ImageRegions, Region, RegionSums};
use se_lens::model::{Model, Weights};

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

/// The squeeze-region probe on every SE block of `model`, for the first image of `input` (`name`
/// says which case failed): over the whole map it is the run's gate bit for bit, what lies
/// outside a region does not move that region's gate, and the folder summary of one image
/// against its own gates differs from them by nothing.
pub fn check_region_probe(name: &str, model: &Model, input: &Tensor) {
    let [_, c, h, w] = input.shape;
    let first = Tensor::new([1, c, h, w], input.data[..c * h * w].to_vec());
    for (index, se) in model.graph.se_blocks.iter().enumerate() {
        let options = RunOptions {
            feature_map: Some(se.name.clone()),
            ..RunOptions::default()
        };
        let output = se_lens::exec::cpu::forward(&model.graph, &first, &options).unwrap();
        let map = output
            .feature_map
            .expect("the feature map was asked for")
            .map;
        let [_, _, height, width] = map.shape;
        let probe = |map: &Tensor, region: &Region| {
            region_gates(&model.graph, se, map, region).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let gate = &output.excitations[index].values;
        let what = format!("{name} {}", se.name);
        assert_eq!(&probe(&map, &Region::full(height, width)), gate, "{what}");
        // The left half's gate is the same when the right half of the map changes.
        let left = Region::from_rect([0.0, 0.0, 0.5, 1.0], height, width);
        let mut changed = map.clone();
        for (i, v) in changed.data.iter_mut().enumerate() {
            *v += f32::from(!left.cells[i % (height * width)]);
        }
        assert_eq!(probe(&map, &left), probe(&changed, &left), "{what}");
        let mut sums = RegionSums::default();
        sums.add(ImageRegions::measure(&model.graph, se, &map, gate).unwrap());
        let summary = sums.finish();
        assert_eq!(summary[0].between_images, 0.0, "{what}");
        assert_eq!(summary[0].map, [height, width], "{what}");
        assert!(
            summary[0].halves.iter().all(|h| h.is_finite() && *h >= 0.0),
            "{what}"
        );
    }
}
