//! `preprocess` against timm's eval transform (PIL resize, torchvision crop, ToTensor, Normalize).
//!
//! Fixtures: tests/fixtures/preprocess/ (committed), regenerated with
//!     .venv/bin/python tools/make_preprocess_fixture.py
//! Cases: photos from the scikit-image wheel; bicubic/bilinear; square and non-square inputs;
//! `center`, `squash` and `border` crop modes; an upscale; crop_pct > 1; a grayscale PNG; a
//! 1-channel model (luma input); PNG variants PIL converts to RGB; one JPEG.
//!
//! Tolerances:
//! - PNG decoding and the PIL resize are integer algorithms: the bytes must be equal.
//! - The normalised tensor is `(u8 / 255 − mean) / std` in f32 on both sides, so it is exact in
//!   practice; we allow 1e-6 absolute (1/17,000 of one 8-bit level, which is ≈ 0.017 here) so
//!   that a compiler's float contraction cannot fail the test while any real pixel error still does.
//! - JPEG: libjpeg-turbo (PIL) and the `image` crate's decoder round their IDCT and chroma
//!   upsampling differently, so pixels may differ by a few levels; see `jpeg_is_close_to_timm`.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};

use se_lens::engine::{read_npy, Tolerance};
use se_lens::model::PretrainedCfg;
use se_lens::preprocess::{decode, preprocess, resize, Filter, RgbImage};
use serde::Deserialize;

#[derive(Deserialize)]
struct Manifest {
    transform_cases: Vec<TransformCase>,
    resize_cases: Vec<ResizeCase>,
    decode_cases: Vec<DecodeCase>,
}

#[derive(Deserialize)]
struct TransformCase {
    name: String,
    image: String,
    pretrained_cfg: PretrainedCfg,
    expected: String,
}

#[derive(Deserialize)]
struct ResizeCase {
    name: String,
    image: String,
    width: usize,
    height: usize,
    filter: String,
    expected: String,
}

#[derive(Deserialize)]
struct DecodeCase {
    name: String,
    file: String,
    pil_mode: String,
    expected: String,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest() -> Manifest {
    serde_json::from_slice(&read("manifest.json")).expect("manifest.json")
}

fn load(name: &str) -> RgbImage {
    decode(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs a transform case; returns (ours, timm's).
fn run_case(case: &TransformCase) -> (Vec<f32>, Vec<f32>) {
    let image = load(&case.image);
    let tensor =
        preprocess(&image, &case.pretrained_cfg).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let (shape, expected) = read_npy(&read(&case.expected)).expect("npy");
    let [channels, height, width] = case.pretrained_cfg.input_size;
    let want = [1, channels, height, width];
    assert_eq!(shape, want, "{}: fixture shape", case.name);
    assert_eq!(tensor.shape, want, "{}: our shape", case.name);
    (tensor.data, expected)
}

#[test]
fn png_preprocess_matches_timm() {
    let cases = manifest().transform_cases;
    let png_cases: Vec<_> = cases.iter().filter(|c| c.image.ends_with(".png")).collect();
    assert!(png_cases.len() >= 6, "fixture lost its PNG cases");
    for case in png_cases {
        let (ours, timm) = run_case(case);
        eprintln!("{}: max |Δ| = {:e}", case.name, max_abs_diff(&ours, &timm));
        Tolerance::new(0.0, 1e-6)
            .check(&ours, &timm)
            .unwrap_or_else(|m| panic!("{}: {m}", case.name));
    }
}

#[test]
fn jpeg_is_close_to_timm() {
    let cases = manifest().transform_cases;
    let case = cases
        .iter()
        .find(|c| c.image.ends_with(".jpg"))
        .expect("a JPEG case");
    let (ours, timm) = run_case(case);
    // In normalised units one 8-bit level is 1 / (255 · std) ≈ 0.0175 (std ≥ 0.224 here). On
    // this 4:2:0 JPEG the decoders differ on 13% of bytes by 1–4 levels (chroma upsampling and
    // IDCT rounding); after the resize's averaging that measured max 2 levels, mean 0.23 level.
    let level = 1.0 / (255.0 * 0.224);
    let max = max_abs_diff(&ours, &timm);
    let mean = ours
        .iter()
        .zip(&timm)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / ours.len() as f32;
    eprintln!(
        "{}: max |Δ| = {max:e} ({:.2} levels), mean |Δ| = {mean:e} ({:.3} levels)",
        case.name,
        max / level,
        mean / level
    );
    assert!(max <= 4.0 * level + 1e-6, "{}: max |Δ| {max}", case.name);
    assert!(mean <= 0.5 * level, "{}: mean |Δ| {mean}", case.name);
}

#[test]
fn resize_matches_pil_byte_for_byte() {
    let cases = manifest().resize_cases;
    assert!(cases.len() >= 5, "fixture lost its resize cases");
    for case in cases {
        let filter = Filter::from_timm_name(&case.filter).expect("filter name");
        let ours = resize(&load(&case.image), case.width, case.height, filter);
        let pil = load(&case.expected);
        assert_eq!(
            (ours.width, ours.height),
            (pil.width, pil.height),
            "{}",
            case.name
        );
        let differing = ours
            .pixels
            .iter()
            .zip(&pil.pixels)
            .filter(|(a, b)| a != b)
            .count();
        let max = ours
            .pixels
            .iter()
            .zip(&pil.pixels)
            .map(|(&a, &b)| a.abs_diff(b))
            .max()
            .unwrap_or(0);
        assert_eq!(
            differing, 0,
            "{}: {differing} bytes differ from PIL (max {max} levels)",
            case.name
        );
    }
}

#[test]
fn decode_matches_pil_convert_rgb() {
    let cases = manifest().decode_cases;
    assert!(cases.len() >= 8, "fixture lost its decode cases");
    for case in cases {
        let ours = load(&case.file);
        let pil = load(&case.expected);
        assert_eq!(
            ours, pil,
            "{} (PIL mode {}): decode differs from PIL's .convert('RGB')",
            case.name, case.pil_mode
        );
    }
}
