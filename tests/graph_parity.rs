//! Graphs the old fixed template could not hold, built node by node with `GraphBuilder`, run by
//! the one executor on the CPU and on the GPU (lavapipe in CI), each against PyTorch
//! (`tools/make_graph_fixtures.py`): SE after a concat, BatchNorm inside the excitation, a
//! single-conv SE with a hard sigmoid, one value with three readers, and the ops ONNX files bring
//! (asymmetric padding, a channel split, ReLU6, tanh, GELU, average pooling that counts the
//! padding, Paddle's hard sigmoid, a dropout, a softmax). Batch of two.

mod common;

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use common::expected;
use se_lens::engine::graph::{BatchNorm, ValueId};
use se_lens::engine::{
    passes, Activation, BinaryOp, Conv2d, Graph, GraphBuilder, Linear, Op, Padding, Pool, PoolKind,
    RunOptions, Tolerance,
};
use se_lens::exec::gpu::GpuGraph;
use se_lens::gpu::GpuContext;
use se_lens::model::Weights;

const LOGITS: Tolerance = Tolerance::new(1e-4, 1e-4);
const GATES: Tolerance = Tolerance::new(0.0, 1e-4);

/// Reads a case's weights into graph nodes.
struct Reader<'a> {
    weights: Weights<'a>,
    b: GraphBuilder,
}

impl Reader<'_> {
    fn tensor(&self, name: &str) -> Vec<f32> {
        let shape = self.weights.shape(name).unwrap_or_else(|| panic!("{name}"));
        self.weights.take(name, &shape).expect(name)
    }

    /// A PyTorch `Conv2d` (square kernel, padding `k / 2`), with or without a bias.
    fn conv(&mut self, name: &str, x: ValueId, stride: usize) -> ValueId {
        self.conv_padded(name, x, stride, None)
    }

    /// [`Reader::conv`] with its own padding.
    fn conv_padded(
        &mut self,
        name: &str,
        x: ValueId,
        stride: usize,
        padding: Option<Padding>,
    ) -> ValueId {
        self.conv_full(name, x, stride, padding, 1, 1)
    }

    /// A PyTorch `Conv2d` with every option.
    fn conv_full(
        &mut self,
        name: &str,
        x: ValueId,
        stride: usize,
        padding: Option<Padding>,
        dilation: usize,
        groups: usize,
    ) -> ValueId {
        let shape = self.weights.shape(&format!("{name}.weight")).expect(name);
        let [out, per_group, k, _] = shape[..] else {
            panic!("{name}: not a 2-D convolution")
        };
        let bias_name = format!("{name}.bias");
        let bias = match self.weights.shape(&bias_name) {
            Some(_) => self.tensor(&bias_name),
            None => vec![0.0; out],
        };
        let conv = Conv2d {
            in_channels: per_group * groups,
            out_channels: out,
            kernel: k,
            stride,
            dilation,
            padding: padding.unwrap_or(Padding::Symmetric(k / 2)),
            groups,
            weight: self.tensor(&format!("{name}.weight")),
            bias,
            winograd: Default::default(),
        };
        let op = Op::Conv {
            conv,
            act: Activation::None,
            squeeze: false,
        };
        self.b.node(name, op, &[x]).expect(name)
    }

    fn batch_norm(&mut self, name: &str, x: ValueId) -> ValueId {
        let bn = BatchNorm {
            gamma: self.tensor(&format!("{name}.weight")),
            beta: self.tensor(&format!("{name}.bias")),
            mean: self.tensor(&format!("{name}.running_mean")),
            var: self.tensor(&format!("{name}.running_var")),
            eps: 1e-5,
        };
        self.b.node(name, Op::BatchNorm(bn), &[x]).expect(name)
    }

    fn act(&mut self, name: &str, act: Activation, x: ValueId) -> ValueId {
        self.b.node(name, Op::Act(act), &[x]).expect(name)
    }

    /// `ConvBnAct` of the fixture script.
    fn conv_bn_act(&mut self, name: &str, x: ValueId, stride: usize, act: Activation) -> ValueId {
        let y = self.conv(&format!("{name}.conv"), x, stride);
        let y = self.batch_norm(&format!("{name}.bn"), y);
        match act {
            Activation::None => y,
            act => self.act(&format!("{name}.act"), act, y),
        }
    }

    /// A 1×1 convolution on a per-channel vector, as the linear layer it is.
    fn fc(&mut self, name: &str, x: ValueId) -> ValueId {
        let weight = self.tensor(&format!("{name}.weight"));
        let out = self.weights.shape(&format!("{name}.weight")).expect(name)[0];
        let bias_name = format!("{name}.bias");
        let bias = match self.weights.shape(&bias_name) {
            Some(_) => self.tensor(&bias_name),
            None => vec![0.0; out],
        };
        let linear = Linear {
            in_features: weight.len() / out,
            out_features: out,
            weight,
            bias,
            act: Activation::None,
        };
        self.b.node(name, Op::Linear(linear), &[x]).expect(name)
    }

    fn mean(&mut self, name: &str, x: ValueId) -> ValueId {
        self.b.node(name, Op::GlobalAvgPool, &[x]).expect(name)
    }

    fn binary(&mut self, name: &str, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.b.node(name, Op::Binary(op), &[a, b]).expect(name)
    }

    /// The paper's SE of the fixture script, annotated.
    fn squeeze_excite(&mut self, name: &str, x: ValueId) -> ValueId {
        let z = self.mean(&format!("{name}.pool"), x);
        let h = self.fc(&format!("{name}.fc1"), z);
        let h = self.act(&format!("{name}.act"), Activation::Relu, h);
        let g = self.fc(&format!("{name}.fc2"), h);
        let g = self.act(&format!("{name}.gate"), Activation::Sigmoid, g);
        self.b.se_block(name, x, g);
        self.binary(&format!("{name}.scale"), BinaryOp::Mul, x, g)
    }

    /// Global pool → `head`, the end of every case.
    fn finish(mut self, x: ValueId) -> Graph {
        let pooled = self.mean("pool", x);
        let logits = self.fc("head", pooled);
        passes::optimize(self.b.finish(logits))
    }
}

fn build(case: &str, weights: &[u8]) -> Graph {
    let mut r = Reader {
        weights: Weights::parse(weights).expect("weights"),
        b: GraphBuilder::new(3),
    };
    let x = r.b.input();
    match case {
        "se_after_concat" => {
            let a = r.conv_bn_act("a", x, 1, Activation::Relu);
            let b = r.conv_bn_act("b", x, 1, Activation::Relu);
            let cat = r.b.node("cat", Op::Concat, &[a, b]).expect("cat");
            let y = r.squeeze_excite("se", cat);
            r.finish(y)
        }
        "se_bn_excitation" => {
            let y = r.conv_bn_act("stem", x, 2, Activation::Silu);
            let z = r.mean("se.pool", y);
            let h = r.fc("se.fc1", z);
            let h = r.batch_norm("se.bn", h);
            let h = r.act("se.act", Activation::Relu, h);
            let g = r.fc("se.fc2", h);
            let g = r.act("se.gate", Activation::Sigmoid, g);
            r.b.se_block("se", y, g);
            let y = r.binary("se.scale", BinaryOp::Mul, g, y);
            r.finish(y)
        }
        "single_conv_se" => {
            let y = r.conv_bn_act("stem", x, 1, Activation::Relu);
            let z = r.mean("se.pool", y);
            let g = r.fc("se.fc", z);
            let g = r.act("se.gate", Activation::HardSigmoid, g);
            r.b.se_block("se", y, g);
            let y = r.binary("se.scale", BinaryOp::Mul, y, g);
            r.finish(y)
        }
        "three_readers" => {
            let s = r.conv_bn_act("stem", x, 1, Activation::Relu);
            let branch = r.conv_bn_act("branch", s, 1, Activation::Relu);
            let branch = r.squeeze_excite("se", branch);
            let side = r.conv_bn_act("side", s, 1, Activation::None);
            let sum = r.binary("add1", BinaryOp::Add, branch, s);
            let sum = r.binary("add2", BinaryOp::Add, sum, side);
            let y = r.act("relu", Activation::Relu, sum);
            r.finish(y)
        }
        "mixed_ops" => {
            // ZeroPad2d((left 0, right 1, top 2, bottom 0)) folded into the stem's padding.
            let padding = Some(Padding::explicit(2, 0, 0, 1));
            let s = r.conv_padded("stem.conv", x, 2, padding);
            let s = r.batch_norm("stem.bn", s);
            let s = r.act("stem.act", Activation::Relu6, s);
            let a = r.b.node("split.0", Op::Slice { start: 0, len: 4 }, &[s]);
            let b = r.b.node("split.1", Op::Slice { start: 4, len: 8 }, &[s]);
            let a = r.conv_bn_act("a", a.expect("split"), 1, Activation::Tanh);
            let pool = Pool {
                kind: PoolKind::AvgIncludePad,
                kernel: 3,
                stride: 1,
                padding: 1,
                ceil_mode: false,
            };
            let b = r.conv_full(
                "dw",
                b.expect("split"),
                1,
                Some(Padding::Symmetric(2)),
                2,
                8,
            );
            let b = r.b.node("pool", Op::Pool(pool), &[b]).expect("pool");
            let b = r.act("gelu", Activation::Gelu, b);
            let y = r.b.node("cat", Op::Concat, &[a, b]).expect("cat");
            let y = r.conv_full("dilated", y, 1, Some(Padding::Symmetric(3)), 3, 1);
            let shuffle = Op::ChannelShuffle { groups: 3 };
            let y = r.b.node("shuffle", shuffle, &[y]).expect("shuffle");
            let z = r.mean("se.pool", y);
            let h = r.fc("se.fc1", z);
            let h = r.act("se.act", Activation::Relu, h);
            let g = r.fc("se.fc2", h);
            let g = r.b.hard_sigmoid("se.gate", 0.2, 0.5, g).expect("gate");
            r.b.se_block("se", y, g);
            let y = r.binary("se.scale", BinaryOp::Mul, y, g);
            let y = r.mean("pool", y);
            let y = r.b.node("drop", Op::Identity, &[y]).expect("dropout");
            let logits = r.fc("head", y);
            let probs =
                r.b.node("softmax", Op::Softmax, &[logits])
                    .expect("softmax");
            passes::optimize(r.b.finish(probs))
        }
        _ => panic!("no graph for {case}"),
    }
}

const CASES: [&str; 5] = [
    "se_after_concat",
    "se_bn_excitation",
    "single_conv_se",
    "three_readers",
    "mixed_ops",
];

fn case_dir(case: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graphs")
        .join(case)
}

#[test]
fn graphs_beyond_the_template_match_pytorch_on_the_cpu_and_the_gpu() {
    let context = Rc::new(pollster::block_on(GpuContext::new()).expect("a GPU adapter (lavapipe)"));
    for case in CASES {
        let dir = case_dir(case);
        let weights = std::fs::read(dir.join("weights.safetensors")).expect("weights");
        let graph = Arc::new(build(case, &weights));
        assert!(
            !graph.nodes.iter().any(|n| matches!(n.op, Op::BatchNorm(_))),
            "{case}: every BatchNorm is folded"
        );
        let expected = expected(&dir);
        let options = RunOptions::default();
        let cpu = se_lens::exec::cpu::forward(&graph, &expected.input, &options)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let gpu_graph =
            pollster::block_on(GpuGraph::upload(Rc::clone(&context), Arc::clone(&graph)))
                .unwrap_or_else(|e| panic!("{case}: upload: {e}"));
        let gpu = pollster::block_on(gpu_graph.forward(&expected.input, &options))
            .unwrap_or_else(|e| panic!("{case}: GPU run: {e}"));
        for (backend, output) in [("cpu", &cpu), ("gpu", &gpu)] {
            LOGITS
                .check(&output.logits, &expected.logits)
                .unwrap_or_else(|m| panic!("{case} {backend} logits: {m}"));
            assert_eq!(output.excitations.len(), expected.gates.len(), "{case}");
            for (tap, (block, gate)) in output.excitations.iter().zip(&expected.gates) {
                assert_eq!(&tap.block, block, "{case}");
                GATES
                    .check(&tap.values, gate)
                    .unwrap_or_else(|m| panic!("{case} {backend} gate {block}: {m}"));
            }
        }
    }
}

/// Ablating and tapping work on any annotated SE, not only the template's.
#[test]
fn overrides_and_the_feature_map_work_on_any_annotated_se() {
    let dir = case_dir("se_after_concat");
    let weights = std::fs::read(dir.join("weights.safetensors")).expect("weights");
    let graph = build("se_after_concat", &weights);
    let input = expected(&dir).input;
    let options = RunOptions {
        gate_overrides: [("se".to_string(), se_lens::engine::GateOverride::Ones)].into(),
        feature_map: Some("se".into()),
    };
    let ablated = se_lens::exec::cpu::forward(&graph, &input, &options).expect("valid options");
    assert_eq!(ablated.excitations[0].values, vec![1.0; 2 * 16]);
    let map = ablated.feature_map.expect("the tap");
    assert_eq!(map.map.shape, [2, 16, 20, 24]);
    // With every gate 1, the head sees the concatenation's own mean.
    let normal = se_lens::exec::cpu::forward(&graph, &input, &RunOptions::default()).unwrap();
    assert_ne!(ablated.logits, normal.logits);
}
