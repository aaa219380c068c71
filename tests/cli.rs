//! The `se-lens` binary as a user runs it: the JSON contract, and a clear message with a
//! non-zero exit (never a panic) for every kind of bad input.
#![cfg(not(target_arch = "wasm32"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TINY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/models/seresnet18_tiny"
);

fn se_lens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_se-lens"))
        .args(args)
        .output()
        .expect("se-lens runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch copy of the tiny model folder that a test may damage.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("se-lens-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(Path::new(TINY).join(file), dir.join(file)).expect("copy");
    }
    dir
}

fn npy(shape: &[usize], descr: &str, data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ({},), }}\n",
        dims.join(", ")
    );
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

fn input_npy(dir: &Path, shape: &[usize]) -> PathBuf {
    let values: Vec<u8> = (0..shape.iter().product::<usize>())
        .flat_map(|i| ((i % 17) as f32 / 8.0 - 1.0).to_le_bytes())
        .collect();
    let path = dir.join("input.npy");
    std::fs::write(&path, npy(shape, "<f4", &values)).expect("write npy");
    path
}

fn assert_fails_with(output: &Output, needle: &str) {
    let message = stderr(output);
    assert!(!output.status.success(), "expected failure, got success");
    assert!(
        message.contains(needle),
        "stderr lacks '{needle}':\n{message}"
    );
    assert!(
        !message.contains("panicked"),
        "panic instead of a message:\n{message}"
    );
}

#[test]
fn json_follows_the_contract() {
    let dir = scratch("json");
    let input = input_npy(&dir, &[1, 3, 64, 80]);
    let output = se_lens(&[
        "classify",
        "--model",
        TINY,
        "--tensor",
        input.to_str().unwrap(),
        "--top",
        "3",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let line = String::from_utf8(output.stdout).expect("utf-8");
    let json: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object");
    assert_eq!(json["model"], "seresnet18");
    assert_eq!(json["backend"], "cpu");
    assert_eq!(json["top"].as_array().unwrap().len(), 3);
    assert_eq!(json["logits"].as_array().unwrap().len(), 10);
    let probs: Vec<f64> = json["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["prob"].as_f64().unwrap())
        .collect();
    assert!(
        probs.windows(2).all(|w| w[0] >= w[1]),
        "top-k not sorted: {probs:?}"
    );
    let excitations = json["excitations"].as_array().unwrap();
    assert_eq!(excitations.len(), 8);
    assert_eq!(excitations[0]["block"], "layer1.0.se");
    assert_eq!(excitations[7]["values"].as_array().unwrap().len(), 64);
    assert!(json["timings_ms"]["forward"].as_f64().unwrap() > 0.0);
}

/// `--backend gpu` runs on Vulkan (lavapipe here) and agrees with the CPU run.
#[test]
fn the_gpu_backend_agrees_with_the_cpu() {
    let dir = scratch("gpu");
    let input = input_npy(&dir, &[1, 3, 64, 80]);
    let run = |backend: &str| {
        let output = se_lens(&[
            "classify",
            "--model",
            TINY,
            "--tensor",
            input.to_str().unwrap(),
            "--json",
            "--backend",
            backend,
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let line = String::from_utf8(output.stdout).expect("utf-8");
        serde_json::from_str::<serde_json::Value>(line.trim()).expect("one JSON object")
    };
    let (gpu, cpu) = (run("gpu"), run("cpu"));
    assert_eq!(gpu["backend"], "vulkan", "{gpu}");
    assert!(gpu["adapter"].is_string());
    assert!(gpu.get("fallback_reason").is_none());
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    se_lens::engine::Tolerance::new(1e-4, 1e-4)
        .check(&floats(&gpu["logits"]), &floats(&cpu["logits"]))
        .expect("logits");
    assert_eq!(gpu["top"][0]["index"], cpu["top"][0]["index"]);
    for (g, c) in gpu["excitations"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cpu["excitations"].as_array().unwrap())
    {
        se_lens::engine::Tolerance::new(0.0, 1e-4)
            .check(&floats(&g["values"]), &floats(&c["values"]))
            .expect("gates");
    }
    let usage = se_lens(&[
        "classify",
        "--model",
        TINY,
        "--tensor",
        "x.npy",
        "--backend",
        "tpu",
    ]);
    assert_eq!(usage.status.code(), Some(2));
    assert_fails_with(&usage, "invalid value 'tpu' for '--backend <cpu|gpu|auto>'");
}

#[test]
fn bad_tensors_are_refused_clearly() {
    let dir = scratch("npy");
    let wrong_dtype = dir.join("f64.npy");
    std::fs::write(&wrong_dtype, npy(&[1, 3, 2, 2], "<f8", &[0; 96])).unwrap();
    assert_fails_with(
        &se_lens(&[
            "classify",
            "--model",
            TINY,
            "--tensor",
            wrong_dtype.to_str().unwrap(),
        ]),
        "'<f4'",
    );
    let wrong_shape = input_npy(&dir, &[3, 32, 32]);
    assert_fails_with(
        &se_lens(&[
            "classify",
            "--model",
            TINY,
            "--tensor",
            wrong_shape.to_str().unwrap(),
        ]),
        "expected [1, 3, H, W]",
    );
    let missing = dir.join("nope.npy");
    assert_fails_with(
        &se_lens(&[
            "classify",
            "--model",
            TINY,
            "--tensor",
            missing.to_str().unwrap(),
        ]),
        "cannot read",
    );
}

#[test]
fn bad_models_are_refused_with_the_culprit_named() {
    let input = input_npy(&scratch("input"), &[1, 3, 32, 32]);
    let run = |dir: &Path| {
        se_lens(&[
            "classify",
            "--model",
            dir.to_str().unwrap(),
            "--tensor",
            input.to_str().unwrap(),
        ])
    };
    let edit_config = |name: &str, from: &str, to: &str| {
        let dir = scratch(name);
        let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
        assert!(config.contains(from), "{from}");
        std::fs::write(dir.join("config.json"), config.replacen(from, to, 1)).unwrap();
        dir
    };

    assert_fails_with(
        &run(&edit_config(
            "arch",
            "\"seresnet18\"",
            "\"vit_base_patch16_224\"",
        )),
        "unknown architecture 'vit_base_patch16_224'",
    );
    // A 34-layer network needs blocks the 18-layer file lacks.
    assert_fails_with(
        &run(&edit_config("missing", "\"seresnet18\"", "\"seresnet34\"")),
        "no tensor 'layer1.2.conv1.weight'",
    );
    // Wider channels than the weights were saved with.
    assert_fails_with(
        &run(&edit_config("shape", "8,", "16,")),
        "'layer1.0.downsample.0.weight' has shape [8, 64, 1, 1], expected [16, 64, 1, 1]",
    );
    assert_fails_with(
        &run(&edit_config("garbled", "{", "{{")),
        "config.json is not valid",
    );
    // An absurd photo rule would allocate side² pixels per image: refused at load.
    assert_fails_with(
        &run(&edit_config(
            "photo",
            "{",
            "{\"photo_preprocess\": {\"item_on_black\": 1000000000},",
        )),
        "photo_preprocess.item_on_black is 1000000000; expected 1 to 1024",
    );

    let truncated = scratch("truncated");
    let bytes = std::fs::read(truncated.join("model.safetensors")).unwrap();
    std::fs::write(
        truncated.join("model.safetensors"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    assert_fails_with(&run(&truncated), "model.safetensors is not valid");

    // Sizes that would make preprocessing allocate absurd images are refused at load.
    assert_fails_with(
        &run(&edit_config(
            "input-size",
            "\"input_size\": [",
            "\"input_size\": [3, 100000, 100000], \"ignored\": [",
        )),
        "input_size [3, 100000, 100000]: height and width must be 1 to 2048",
    );
    assert_fails_with(
        &run(&edit_config(
            "crop",
            "\"crop_pct\": 0.875",
            "\"crop_pct\": 0.0001",
        )),
        "crop_pct 0.0001 is outside 0.25 to 2",
    );
    // A tensor of another dtype (same header length: I32 for F32).
    let dtype = scratch("dtype");
    let mut bytes = std::fs::read(dtype.join("model.safetensors")).unwrap();
    let at = bytes
        .windows(5)
        .position(|w| w == b"\"F32\"")
        .expect("an F32 tensor");
    bytes[at + 1..at + 4].copy_from_slice(b"I32");
    std::fs::write(dtype.join("model.safetensors"), bytes).unwrap();
    assert_fails_with(
        &run(&dtype),
        "has dtype I32; SE Lens reads F32, F16 and BF16",
    );
    // A 2 GiB weights file (sparse: nothing is written) is refused before it is read.
    let huge = scratch("huge");
    std::fs::File::options()
        .write(true)
        .open(huge.join("model.safetensors"))
        .and_then(|file| file.set_len(2 << 30))
        .unwrap();
    assert_fails_with(&run(&huge), "bytes; at most 1 GiB is loaded");

    let pickle = scratch("pickle");
    std::fs::remove_file(pickle.join("model.safetensors")).unwrap();
    std::fs::write(pickle.join("pytorch_model.bin"), b"\x80\x02pickle").unwrap();
    assert_fails_with(&run(&pickle), "PyTorch pickle");

    assert_fails_with(
        &run(Path::new("/nonexistent/model")),
        "cannot read /nonexistent/model/config.json",
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = se_lens(&["classify", "--tensor", "x.npy"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output)
        .contains("required arguments were not provided:\n  --model <DIR|FILE.onnx>"));
    let both = se_lens(&["classify", "--model", TINY, "--tensor", "x.npy", "x.png"]);
    assert_eq!(both.status.code(), Some(2));
    assert!(stderr(&both).contains("'--tensor <X.npy>' cannot be used with '[IMAGE]...'"));
    let zero = se_lens(&["classify", "--model", TINY, "--top", "0", "x.png"]);
    assert_eq!(zero.status.code(), Some(2));
    assert_eq!(se_lens(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(se_lens(&[]).status.code(), Some(2));
}

/// `--help` names every command, and each command's `--help` every flag it takes.
#[test]
fn help_documents_every_command_and_flag() {
    let help = |args: &[&str]| {
        let output = se_lens(args);
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let top = help(&["--help"]);
    for command in ["classify", "evaluate", "bench", "probe"] {
        assert!(
            top.contains(&format!("  {command}  ")),
            "{command} in:\n{top}"
        );
    }
    for (command, flags) in [
        (
            "classify",
            &[
                "--model <DIR|FILE.onnx>",
                "--tensor <X.npy>",
                "--backend <cpu|gpu|auto>",
                "--top <K>",
                "--json",
                "[IMAGE]...",
            ][..],
        ),
        (
            "evaluate",
            &["--model <DIR|FILE.onnx>", "--images <ROOT>", "--limit <N>"],
        ),
        (
            "bench",
            &[
                "--model <DIR|FILE.onnx>",
                "--size <N>",
                "--runs <N>",
                "--versus <DIR|FILE.onnx>",
                "--backend <cpu|gpu|auto>",
            ],
        ),
        (
            "probe",
            &["--model <DIR|FILE.onnx>", "--backend <cpu|gpu|auto>"],
        ),
    ] {
        let text = help(&[command, "--help"]);
        for flag in flags {
            assert!(text.contains(flag), "{flag} in `{command} --help`:\n{text}");
        }
    }
    assert!(help(&["--version"]).starts_with("se-lens "));
}

#[test]
fn bench_times_two_models_run_for_run() {
    let args = ["bench", "--model", TINY, "--size", "32", "--runs", "5"];
    let output = se_lens(&[&args[..], &["--versus", DEFAULT_MODEL]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(
        (line["model"].as_str(), line["runs"].as_u64()),
        (Some("seresnet18"), Some(5))
    );
    assert_eq!(line["versus"], "seresnet18");
    let field = |name: &str| {
        line[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    assert!(field("median_ms") > 0.0 && field("versus_median_ms") > 0.0);
    let (p10, median, p90) = (
        field("ratio_p10"),
        field("ratio_median"),
        field("ratio_p90"),
    );
    assert!(0.0 < p10 && p10 <= median && median <= p90, "{line}");
    // Alone, the line has no comparison.
    let alone: serde_json::Value = serde_json::from_slice(&se_lens(&args).stdout).expect("JSON");
    assert!(alone.get("versus").is_none() && alone["median_ms"].as_f64().unwrap() > 0.0);
    assert_fails_with(
        &se_lens(&[&args[..], &["--versus", "/nonexistent"]].concat()),
        "cannot read",
    );
}

#[test]
fn probe_lists_every_se_block() {
    let output = se_lens(&["probe", "--model", TINY]);
    assert!(output.status.success(), "{}", stderr(&output));
    let probe: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(probe["model"], "seresnet18");
    assert_eq!(probe["classes"], 10);
    assert_eq!(probe["backend"], "cpu");
    assert!(probe["gflop"].as_f64().unwrap() > 0.0);
    let blocks = probe["se_blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 8);
    assert_eq!(blocks[0]["block"], "layer1.0.se");
    assert_eq!(blocks[7]["channels"], 64);
    assert_eq!(blocks[7]["gate"], "sigmoid");
    assert_fails_with(
        &se_lens(&["probe", "--model", "/nonexistent"]),
        "cannot read",
    );
}

/// The CLI's JSON line is the page's `excitations.json` export plus the CLI's timings: both are
/// `engine::Report`, filled from the same run.
#[test]
fn the_json_line_is_the_pages_export_plus_timings() {
    use se_lens::engine::{RunOptions, Tensor};
    use se_lens::model::Model;
    use se_lens::ui::view_model::RunView;

    let dir = scratch("export");
    let input = input_npy(&dir, &[1, 3, 64, 80]);
    let path = input.to_str().unwrap();
    let output = se_lens(&["classify", "--model", TINY, "--tensor", path, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut cli: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(cli["timings_ms"]["load"].as_f64().unwrap() > 0.0);
    cli.as_object_mut().unwrap().remove("timings_ms");

    let model = Model::load_dir(Path::new(TINY)).expect("tiny model");
    let bytes = std::fs::read(&input).unwrap();
    let (_, data) = se_lens::engine::read_npy(&bytes).expect("npy");
    let run = se_lens::exec::cpu::forward(
        &model.graph,
        &Tensor::new([1, 3, 64, 80], data),
        &RunOptions::default(),
    )
    .expect("valid options");
    let page =
        RunView::new(&run, model.scores, &model.labels, 5).to_json("seresnet18", path, "cpu");
    let page: serde_json::Value = serde_json::from_str(&page).expect("JSON");
    assert_eq!(cli, page);
}

const DEFAULT_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/models/seresnet10-fmnist"
);
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/samples");

#[test]
fn evaluate_reports_accuracy_confusion_and_class_means() {
    // Class folders by index and by label name ("/" written as "_").
    let root = std::env::temp_dir().join(format!("se-lens-eval-{}", std::process::id()));
    for (folder, sample) in [
        ("9", "fmnist-ankle-boot-0.png"),
        ("Bag", "fmnist-bag-18.png"),
        ("T-shirt_top", "fmnist-t-shirt-top-19.png"),
        ("T-shirt_top", "fmnist-t-shirt-top-27.png"),
    ] {
        std::fs::create_dir_all(root.join(folder)).expect("class folder");
        std::fs::copy(
            Path::new(SAMPLES).join(sample),
            root.join(folder).join(sample),
        )
        .expect("copy sample");
    }
    let evaluate = || {
        se_lens(&[
            "evaluate",
            "--model",
            DEFAULT_MODEL,
            "--images",
            root.to_str().unwrap(),
        ])
    };
    let output = evaluate();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["images"], 4);
    assert_eq!(report["class_counts"][0], 2);
    assert_eq!(report["class_counts"][8], 1);
    let confusion = report["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);
    assert_eq!(report["predictions"].as_array().unwrap().len(), 4);
    let blocks = report["excitations"].as_array().unwrap();
    assert_eq!(blocks.len(), 4);
    assert_eq!(blocks[3]["block"], "layer4.0.se");
    assert_eq!(blocks[3]["class_means"].as_array().unwrap().len(), 10);
    assert_eq!(blocks[3]["mean"].as_array().unwrap().len(), 256);

    std::fs::create_dir_all(root.join("Hat")).expect("bad folder");
    assert_fails_with(
        &evaluate(),
        "Hat: not a class index below 10 or a label name",
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn the_default_model_classifies_dataset_images_and_photos() {
    // A dataset image gives the same result through the photo rule as its exact tensor would:
    // the rule passes it unchanged, so the CLI agrees with `se-lens evaluate` and PyTorch.
    let sample = format!("{SAMPLES}/fmnist-ankle-boot-0.png");
    let output = se_lens(&["classify", "--model", DEFAULT_MODEL, &sample, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["top"][0]["label"], "Ankle boot");
    // A colour photo of any size is accepted (fitted to 28×28 grey first).
    let photo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/preprocess/chelsea.png"
    );
    let output = se_lens(&["classify", "--model", DEFAULT_MODEL, photo, "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `--model FILE.onnx`: the file's SE blocks, its probabilities shown as they are (it ends in a
/// Softmax), labels from a file; ONNX-only flags refused for a folder; a bad file named.
#[test]
fn onnx_files_run_with_their_options() {
    let onnx = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/onnx");
    let paddle = format!("{onnx}/paddle_style/model.onnx");
    let dir = scratch("onnx");
    let input = input_npy(&dir, &[1, 3, 20, 24]);
    let labels = dir.join("labels.txt");
    let names: Vec<String> = (0..10).map(|i| format!("kind {i}")).collect();
    std::fs::write(&labels, names.join("\n") + "\n").expect("labels");
    let output = se_lens(&[
        "classify",
        "--model",
        &paddle,
        "--labels",
        labels.to_str().unwrap(),
        "--tensor",
        input.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["model"], "model.onnx");
    let top = &json["top"][0];
    let index = top["index"].as_u64().unwrap() as usize;
    assert_eq!(top["label"], format!("kind {index}"));
    assert_eq!(
        top["prob"], json["logits"][index],
        "probabilities as they are"
    );
    let blocks: Vec<&str> = json["excitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["block"].as_str().unwrap())
        .collect();
    assert_eq!(blocks, ["p2o.HardSigmoid.se1", "p2o.Div.se2"]);

    let probe = se_lens(&["probe", "--model", &paddle]);
    assert!(probe.status.success(), "{}", stderr(&probe));
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("JSON");
    assert_eq!(probe["se_blocks"][0]["channels"], 16);

    assert_fails_with(
        &se_lens(&["probe", "--model", TINY, "--input-size", "64"]),
        "are for .onnx files",
    );
    // Every bad file (tools/make_onnx_fixtures.py): its message, no panic.
    let bad = format!("{onnx}/bad");
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(format!("{bad}/expected.json")).expect("read"))
            .expect("JSON");
    for (name, part) in &expected {
        let file = format!("{bad}/{name}");
        assert_fails_with(
            &se_lens(&["probe", "--model", &file]),
            part.as_str().unwrap(),
        );
    }
    std::fs::write(&labels, "[\"cat\", \"dog\"]").expect("labels");
    assert_fails_with(
        &se_lens(&[
            "probe",
            "--model",
            &paddle,
            "--labels",
            labels.to_str().unwrap(),
        ]),
        "2 labels for a model with 10 outputs",
    );
}
