//! Whole networks on the GPU (Mesa lavapipe in CI) against the CPU path and against timm, on
//! every architecture fixture of `model_parity.rs`; taps, ablation and the CPU fallback.
//!
//! Tolerances (the issue's): logits within 1e-4 relative (1e-4 absolute near zero), gates within
//! 1e-4 absolute, both against the CPU and against PyTorch.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use common::{committed_case, committed_cases, expected, full_size_cases_but_large};
use se_lens::engine::{
    max_abs_diff, GateOverride, RunError, RunOptions, RunOutput, Tensor, Tolerance,
};
use se_lens::exec::gpu::GpuGraph;
use se_lens::gpu::{GpuContext, GpuError};
use se_lens::model::Model;
use se_lens::runtime::{Backend, BackendPreference};

const LOGITS: Tolerance = Tolerance::new(1e-4, 1e-4);
const GATES: Tolerance = Tolerance::new(0.0, 1e-4);

fn context() -> Rc<GpuContext> {
    Rc::new(
        pollster::block_on(GpuContext::new())
            .expect("a Vulkan adapter (install mesa-vulkan-drivers for lavapipe)"),
    )
}

/// The fixture's input, logits and gates (by block) as timm computed them.
/// Gate vectors by SE block name.
type Gates = Vec<(String, Vec<f32>)>;

fn compare(
    what: &str,
    gpu: &RunOutput,
    reference_logits: &[f32],
    reference_gates: &Gates,
) -> (f32, f32) {
    LOGITS
        .check(&gpu.logits, reference_logits)
        .unwrap_or_else(|m| panic!("{what} logits: {m}"));
    assert_eq!(
        gpu.excitations.len(),
        reference_gates.len(),
        "{what}: SE blocks differ"
    );
    let mut gate_diff = 0.0f32;
    for (tap, (block, values)) in gpu.excitations.iter().zip(reference_gates) {
        assert_eq!(&tap.block, block, "{what}: block order");
        GATES
            .check(&tap.values, values)
            .unwrap_or_else(|m| panic!("{what} gate {block}: {m}"));
        gate_diff = gate_diff.max(max_abs_diff(&tap.values, values));
    }
    (max_abs_diff(&gpu.logits, reference_logits), gate_diff)
}

fn check_case(context: &Rc<GpuContext>, case: &Path) {
    let name = case
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let started = std::time::Instant::now();
    let model = Model::load_dir(case).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected = expected(case);
    let input = &expected.input;
    let options = RunOptions::default();
    let gpu_model = pollster::block_on(GpuGraph::upload(
        Rc::clone(context),
        Arc::clone(&model.graph),
    ))
    .unwrap_or_else(|e| panic!("{name}: upload: {e}"));
    let gpu = pollster::block_on(gpu_model.forward(input, &options))
        .unwrap_or_else(|e| panic!("{name}: gpu run: {e}"));
    let cpu = se_lens::exec::cpu::forward(&model.graph, input, &options).expect("valid options");
    let cpu_gates: Vec<_> = cpu
        .excitations
        .iter()
        .map(|t| (t.block.clone(), t.values.clone()))
        .collect();
    let (vs_cpu_logit, vs_cpu_gate) =
        compare(&format!("{name} vs cpu"), &gpu, &cpu.logits, &cpu_gates);
    // timm's gates come sorted by name; order ours the same way for that comparison.
    let mut sorted = gpu.clone();
    sorted.excitations.sort_by(|a, b| a.block.cmp(&b.block));
    let (vs_timm_logit, vs_timm_gate) = compare(
        &format!("{name} vs timm"),
        &sorted,
        &expected.logits,
        &expected.gates,
    );
    eprintln!(
        "{name}: gpu vs cpu max |Δlogit| {vs_cpu_logit:.1e}, |Δgate| {vs_cpu_gate:.1e}; \
         vs timm {vs_timm_logit:.1e}, {vs_timm_gate:.1e} ({:.1?})",
        started.elapsed()
    );
}

#[test]
fn committed_tiny_models_match_cpu_and_timm_on_the_gpu() {
    let context = context();
    let cases = committed_cases();
    assert!(cases.len() >= 4);
    for case in cases {
        check_case(&context, &case);
    }
}

/// Full-size cases whose every kernel the cases named next to them run here (the test checks
/// that those run); like the `--large` copies, `model_parity.rs` checks them on the CPU. On
/// lavapipe they took 104 s of this test's 410 s.
const RUN_ELSEWHERE_ON_THE_GPU: &[(&str, &str)] = &[
    // 59 s: 64 groups of 4 channels and the legacy layout.
    ("legacy_senet154", "senet154_c17, legacy_seresnext50_32x4d"),
    ("resnet50", "seresnet50"),
    ("resnext50_32x4d", "seresnext50_32x4d"),
    ("seresnet34", "seresnet18"),
    ("legacy_seresnet34", "legacy_seresnet18"),
];

/// The full-size architectures `make test` generates (scripts/fixtures.sh), but for the
/// `--large` deeper copies (SE-ResNet-101/152, …): their kernels are the shallower models', on
/// lavapipe they took 264 s of this test's 734 s, and `model_parity.rs` checks them on the CPU.
#[test]
fn full_size_architectures_match_cpu_and_timm_on_the_gpu() {
    let context = context();
    let cases = full_size_cases_but_large();
    for case in &cases {
        let name = case.file_name().unwrap_or_default().to_string_lossy();
        if let Some((_, by)) = RUN_ELSEWHERE_ON_THE_GPU.iter().find(|(n, _)| *n == name) {
            let stand_ins = by.split(", ");
            assert!(
                stand_ins
                    .clone()
                    .all(|s| cases.iter().any(|c| c.ends_with(s))),
                "{name}: {by} must run in its place"
            );
            continue;
        }
        check_case(&context, case);
    }
}

fn tiny() -> (Model, Tensor) {
    let case = committed_case("seresnext26d_tiny");
    let model = Model::load_dir(&case).expect("model");
    let input = expected(&case).input;
    // A batch of two different images, so per-image gates are exercised.
    let mut data = input.data.clone();
    data.extend(input.data.iter().map(|v| 0.5 - v));
    let [_, c, h, w] = input.shape;
    (model, Tensor::new([2, c, h, w], data))
}

#[test]
fn ablation_and_the_feature_map_tap_match_the_cpu() {
    let context = context();
    let (model, input) = tiny();
    let gpu_model =
        pollster::block_on(GpuGraph::upload(context, Arc::clone(&model.graph))).expect("upload");
    let blocks = model.graph.se_block_names();
    let channels = model
        .graph
        .se_blocks
        .get(1)
        .expect("two SE blocks")
        .channels;
    let edited: Vec<f32> = (0..channels).map(|i| (i % 5) as f32 * 0.3).collect();
    let mut options = RunOptions {
        feature_map: Some(blocks[2].clone()),
        ..RunOptions::default()
    };
    options
        .gate_overrides
        .insert(blocks[0].clone(), GateOverride::Ones);
    options
        .gate_overrides
        .insert(blocks[1].clone(), GateOverride::Values(edited.clone()));
    let gpu = pollster::block_on(gpu_model.forward(&input, &options)).expect("gpu run");
    let cpu = se_lens::exec::cpu::forward(&model.graph, &input, &options).expect("valid options");
    LOGITS.check(&gpu.logits, &cpu.logits).expect("logits");
    assert!(gpu.excitations[0].values.iter().all(|&g| g == 1.0));
    assert_eq!(gpu.excitations[1].values, edited.repeat(2));
    for (g, c) in gpu.excitations.iter().zip(&cpu.excitations) {
        GATES.check(&g.values, &c.values).expect("gates");
    }
    let (g, c) = (
        gpu.feature_map.expect("gpu tap"),
        cpu.feature_map.expect("cpu tap"),
    );
    assert_eq!(
        (g.block.as_str(), g.map.shape),
        (blocks[2].as_str(), c.map.shape)
    );
    Tolerance::new(1e-4, 1e-5)
        .check(&g.map.data, &c.map.data)
        .expect("feature map");
}

/// A bad override is the caller's mistake, not the GPU's: one error, with one message, from the
/// GPU, the CPU and the backend that chooses between them, and the GPU stays in use.
#[test]
fn a_bad_gate_override_is_one_error_on_both_backends() {
    let (model, input) = tiny();
    let backend = pollster::block_on(Backend::new(&model.graph, BackendPreference::Gpu));
    let gpu = backend.gpu().expect("the GPU is in use");
    let block = model
        .graph
        .se_blocks
        .first()
        .expect("an SE block")
        .name
        .clone();
    let channels = model.graph.se_blocks.first().unwrap().channels;
    let expected = RunError::OverrideLength {
        block: block.clone(),
        given: 3,
        channels,
    };
    assert_eq!(
        expected.to_string(),
        format!("the gate override for {block} has 3 values; the block has {channels} channels")
    );
    let mut options = RunOptions::default();
    options
        .gate_overrides
        .insert(block, GateOverride::Values(vec![0.5; 3]));
    match pollster::block_on(gpu.forward(&input, &options)) {
        Err(GpuError::Options(error)) => assert_eq!(error, expected),
        other => panic!("expected the options error, got {:?}", other.map(|_| ())),
    }
    assert_eq!(
        se_lens::exec::cpu::forward(&model.graph, &input, &options),
        Err(expected.clone())
    );
    assert_eq!(
        pollster::block_on(backend.run(&model.graph, &input, &options)),
        Err(expected.clone())
    );
    assert_eq!(backend.fallback_reason(), None);
    assert_eq!(backend.name(), "vulkan");

    let mut unknown = RunOptions::default();
    unknown
        .gate_overrides
        .insert("layer9.9.se".into(), GateOverride::Ones);
    let error = RunError::UnknownBlock("layer9.9.se".into());
    assert_eq!(
        se_lens::exec::cpu::forward(&model.graph, &input, &unknown),
        Err(error.clone())
    );
    assert_eq!(
        pollster::block_on(backend.run(&model.graph, &input, &unknown)),
        Err(error)
    );
}

#[test]
fn auto_leaves_a_software_adapter_alone() {
    let (model, _) = tiny();
    let backend = pollster::block_on(Backend::new(&model.graph, BackendPreference::Auto));
    // CI has only lavapipe; on a machine with a hardware GPU, auto uses it.
    let context = pollster::block_on(GpuContext::new()).expect("an adapter");
    if context.is_software() {
        assert_eq!(backend.name(), "cpu");
        let reason = backend.fallback_reason().expect("a reason");
        assert!(reason.contains("software"), "{reason}");
    } else {
        assert_eq!(backend.name(), "vulkan");
    }
}

#[test]
fn the_cpu_preference_never_opens_a_device() {
    let (model, _) = tiny();
    let backend = pollster::block_on(Backend::new(&model.graph, BackendPreference::Cpu));
    assert_eq!(
        (backend.name(), backend.fallback_reason(), backend.adapter()),
        ("cpu", None, None)
    );
}
