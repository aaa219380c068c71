//! ONNX files against ONNX Runtime (`tools/make_onnx_fixtures.py`): each file imported, its SE
//! blocks found and named, and run on the CPU and the GPU (lavapipe in CI). Logits 1e-4 relative
//! to the largest, gates 1e-4 absolute. The committed files are written node by node for the
//! variants exporters produce (Paddle, Keras/tf2onnx NHWC, BatchNorm in the excitation, single-conv
//! SE, Gemm excitation, decoys) or exported from small PyTorch modules; the full-size ones are
//! timm and torchvision models exported by both torch exporters (TorchScript at opsets 13 and 18,
//! dynamo at 18 and 21), which `make test` generates (scripts/fixtures.sh). Bad files are refused with a clear message.

mod common;

use std::path::{Path, PathBuf};
use std::rc::Rc;

use common::expected;
use se_lens::engine::{RunOptions, Tolerance};
use se_lens::exec::gpu::GpuGraph;
use se_lens::gpu::GpuContext;
use se_lens::model::{ChannelOrder, Model, OnnxOptions, Scores};

const LOGITS: Tolerance = Tolerance::new(1e-4, 1e-4);
const GATES: Tolerance = Tolerance::new(0.0, 1e-4);

#[derive(serde::Deserialize)]
struct Case {
    se_blocks: Vec<String>,
    probabilities: bool,
    /// For a file that leaves its input size open.
    input_size: Option<[usize; 2]>,
    channel_order: Option<ChannelOrder>,
}

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx")
}

/// [`common::cases_in`], which must find some.
fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let cases = common::cases_in(dir);
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

/// Imports a case, checks what was found, and runs it on the CPU and (given a context) the GPU
/// against ONNX Runtime.
fn check(dir: &Path, gpu: Option<&Rc<GpuContext>>) {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let case: Case =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).expect("case.json"))
            .expect("case.json");
    let options = OnnxOptions {
        input_size: case.input_size,
        channel_order: case.channel_order,
        ..Default::default()
    };
    let model =
        Model::load(&dir.join("model.onnx"), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let found: Vec<&str> = model
        .graph
        .se_blocks
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    assert_eq!(found, case.se_blocks, "{name}: the SE blocks found");
    let scores = match case.probabilities {
        true => Scores::Probabilities,
        false => Scores::Logits,
    };
    assert_eq!(model.scores, scores, "{name}");

    let expected = expected(dir);
    let options = RunOptions::default();
    let mut runs = vec![(
        "cpu",
        se_lens::exec::cpu::forward(&model.graph, &expected.input, &options)
            .unwrap_or_else(|e| panic!("{name}: {e}")),
    )];
    if let Some(context) = gpu {
        let graph = pollster::block_on(GpuGraph::upload(
            Rc::clone(context),
            std::sync::Arc::clone(&model.graph),
        ))
        .unwrap_or_else(|e| panic!("{name}: upload: {e}"));
        let output = pollster::block_on(graph.forward(&expected.input, &options))
            .unwrap_or_else(|e| panic!("{name}: GPU run: {e}"));
        runs.push(("gpu", output));
    }
    for (backend, output) in runs {
        LOGITS
            .check(&output.logits, &expected.logits)
            .unwrap_or_else(|m| panic!("{name} {backend} logits: {m}"));
        assert_eq!(output.excitations.len(), expected.gates.len(), "{name}");
        for tap in &output.excitations {
            let (_, gate) = expected
                .gates
                .iter()
                .find(|(block, _)| *block == tap.block)
                .unwrap_or_else(|| panic!("{name}: no reference for {}", tap.block));
            GATES
                .check(&tap.values, gate)
                .unwrap_or_else(|m| panic!("{name} {backend} gate {}: {m}", tap.block));
        }
    }
}

fn gpu() -> Rc<GpuContext> {
    Rc::new(pollster::block_on(GpuContext::new()).expect("a GPU adapter (lavapipe)"))
}

#[test]
fn committed_onnx_files_match_onnx_runtime_on_the_cpu_and_the_gpu() {
    let context = gpu();
    for dir in cases_in(&committed()) {
        check(&dir, Some(&context));
    }
}

#[test]
fn full_size_onnx_exports_match_onnx_runtime_on_the_cpu_and_the_gpu() {
    let pointer = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/onnx-fixtures-dir");
    let dir = std::fs::read_to_string(&pointer).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run SE_LENS_FIXTURES_LARGE=1 scripts/fixtures.sh (make test does)",
            pointer.display()
        )
    });
    let context = gpu();
    for case in cases_in(Path::new(dir.trim())) {
        check(&case, Some(&context));
    }
}

/// Every bad file is one clear error (no panic), naming what is wrong.
#[test]
fn bad_onnx_files_are_refused_with_a_clear_message() {
    let dir = committed().join("bad");
    let expected: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
            .expect("expected.json");
    assert!(expected.len() >= 8);
    for (file, part) in expected {
        let error = Model::load(&dir.join(&file), &OnnxOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{file} was accepted"))
            .to_string();
        assert!(error.contains(&part), "{file}: '{error}' lacks '{part}'");
    }
}

/// The input size of a file that leaves it open is the caller's; labels must fit the classes.
#[test]
fn options_set_the_open_input_size_and_check_the_labels() {
    let file = committed().join("single_conv_se/model.onnx");
    let model = Model::load(&file, &OnnxOptions::default()).expect("loads");
    assert_eq!(model.config.pretrained_cfg.input_size, [3, 224, 224]);
    let sized = OnnxOptions {
        input_size: Some([64, 48]),
        ..Default::default()
    };
    let model = Model::load(&file, &sized).expect("loads");
    assert_eq!(model.config.pretrained_cfg.input_size, [3, 64, 48]);
    assert_eq!(model.labels.len(), 5);
    let labels = OnnxOptions {
        labels: Some(vec!["a".into(), "b".into()]),
        ..Default::default()
    };
    let error = Model::load(&file, &labels).unwrap_err().to_string();
    assert!(
        error.contains("2 labels for a model with 5 outputs"),
        "{error}"
    );
}

/// A hard-sigmoid gate keeps the slope the file wrote (the teaching view names it), although
/// the passes fold it into the layer before.
#[test]
fn hard_sigmoid_gates_keep_their_slope() {
    let slopes = |case: &str| -> Vec<Option<[f32; 2]>> {
        let file = committed().join(case).join("model.onnx");
        let model = Model::load(&file, &OnnxOptions::default()).expect("loads");
        model
            .graph
            .se_blocks
            .iter()
            .map(|b| b.hard_sigmoid)
            .collect()
    };
    let near = |a: Option<[f32; 2]>, b: [f32; 2]| {
        a.is_some_and(|a| (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6)
    };
    let paddle = slopes("paddle_style");
    assert!(near(paddle[0], [0.2, 0.5]), "{paddle:?}");
    assert!(near(paddle[1], [1.0 / 6.0, 0.5]), "{paddle:?}");
    assert_eq!(slopes("keras_nhwc"), [None], "a sigmoid gate");
}

/// The squeeze-region probe recomputes every found block's gate from its tapped input (max and
/// mean squeezes, Gemm and 1×1-convolution excitations, BatchNorm between): over the whole map it
/// is the run's gate bit for bit, and what lies outside a region does not move that region's
/// gate. Each block's gate node is named for graph viewers.
#[test]
fn the_region_probe_over_the_whole_map_is_the_gate_of_the_run() {
    for dir in cases_in(&committed()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: Case =
            serde_json::from_slice(&std::fs::read(dir.join("case.json")).unwrap()).unwrap();
        let options = OnnxOptions {
            input_size: case.input_size,
            channel_order: case.channel_order,
            ..Default::default()
        };
        let model = Model::load(&dir.join("model.onnx"), &options).unwrap();
        // Every block's gate node is named, for graph viewers' node data (Model Explorer's ids).
        let onnx = model.onnx.as_ref().unwrap();
        let named: Vec<&String> = onnx.gate_nodes.iter().map(|(block, _)| block).collect();
        let blocks: Vec<&String> = model.graph.se_blocks.iter().map(|se| &se.name).collect();
        assert_eq!(named, blocks, "{name}");
        if name == "torch_max_squeeze_dynamo" {
            assert_eq!(onnx.graph_name, "main_graph");
            assert_eq!(
                onnx.gate_nodes[1],
                ("blocks.1.se".into(), "node_sigmoid_1".into())
            );
        }
        common::check_region_probe(&name, &model, &expected(&dir).input);
    }
}
