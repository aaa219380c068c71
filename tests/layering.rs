//! The crate's layers depend downwards only (ARCHITECTURE.md, "Layers"):
//! engine (graph IR, tensors, run options) → cpu / gpu kernels → exec (the one executor) →
//! runtime (backend choice, fallback) → model loading → preprocessing → ui.
//! A module may use its own layer and the ones before it; this test reads every source file
//! (up to its unit tests, which may load a model to test a runtime).

use std::path::{Path, PathBuf};

/// Each layer and the modules it may not use.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "engine",
        &["cpu", "gpu", "exec", "runtime", "model", "preprocess", "ui"],
    ),
    (
        "cpu",
        &["gpu", "exec", "runtime", "model", "preprocess", "ui"],
    ),
    (
        "gpu",
        &["cpu", "exec", "runtime", "model", "preprocess", "ui"],
    ),
    ("exec", &["runtime", "model", "preprocess", "ui"]),
    ("runtime.rs", &["model", "preprocess", "ui"]),
    (
        "model",
        &["cpu", "gpu", "exec", "runtime", "preprocess", "ui"],
    ),
    ("preprocess", &["cpu", "gpu", "exec", "runtime", "ui"]),
];

fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).expect("a source folder") {
        files.extend(sources(&entry.expect("an entry").path()));
    }
    files
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    for (layer, forbidden) in LAYERS {
        let files = sources(&src.join(layer));
        assert!(!files.is_empty(), "no sources for {layer}");
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        {
            let text = std::fs::read_to_string(file).expect("readable source");
            let code_lines = text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(") || !l.contains("test"));
            for (number, line) in code_lines.enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for module in *forbidden {
                    if code.contains(&format!("crate::{module}::"))
                        || code.contains(&format!("crate::{module};"))
                        || code.contains(&format!("crate::{{{module}"))
                        || code.contains(&format!("crate::{module}}}"))
                    {
                        violations.push(format!(
                            "{}:{}: {layer} uses {module}: {}",
                            file.strip_prefix(&src).unwrap_or(file).display(),
                            number + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
