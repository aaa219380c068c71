//! ONNX nodes → graph nodes, one node at a time in graph order.
//!
//! Every ONNX value is either a constant (initializers, `Constant` nodes, and anything computed
//! from them alone, folded here: the shape arithmetic exporters write) or a runtime value: an
//! engine value, always NCHW, seen through the file's own shape. That view ([`Dyn::dims`]) is
//! what lets a file reshape `[N, C, 1, 1]` to `[N, C]`, or transpose NCHW to NHWC and back
//! (Keras models through tf2onnx), without the engine moving any data: each logical axis
//! records which engine axis it is. An op whose meaning depends on the layout (a convolution,
//! a reduction, a channel slice) reads that record; a reshape that would move values between
//! channels and planes is refused by name.

mod gelu;

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::names::module_path;
use super::proto::{AttributeProto, NodeProto};
use super::tensor::{self, broadcast_shape, normalize_axis, Const};
use crate::engine::graph::{
    infer_shape, BatchNorm, BinaryOp, GraphBuilder, Op, ShapeError, ValueId,
};
use crate::engine::{Activation, Conv2d, Linear, Padding, Pool, PoolKind, Slope};

/// One axis of a runtime value as the file sees it: its size, and which axis of the engine's
/// NCHW tensor it is (`None`: a size-1 axis the file added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dim {
    pub size: usize,
    pub axis: Option<usize>,
}

/// A value computed at run time.
#[derive(Clone, Debug)]
pub struct Dyn {
    pub id: ValueId,
    pub dims: Vec<Dim>,
    /// Zeros a `Pad` added around the planes (top, left, bottom, right), which only the
    /// convolution reading this value may apply (as its own padding).
    pub pad: [usize; 4],
}

#[derive(Clone, Debug)]
pub enum Val {
    Const(Rc<Const>),
    Dyn(Dyn),
}

/// Where an engine node came from: the module path of its ONNX node (when the exporter
/// recorded one) and that node's name.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub module: Option<String>,
    pub onnx_name: String,
}

pub struct Lowering<'a> {
    pub builder: GraphBuilder,
    /// Every engine value's `[N, C, H, W]` at the chosen input size.
    pub shapes: Vec<[usize; 4]>,
    pub env: HashMap<String, Val>,
    /// Per engine node.
    pub origins: Vec<Origin>,
    pub opset: i64,
    producers: HashMap<&'a str, &'a NodeProto>,
    /// The nodes that read each value, once per input that reads it.
    readers: HashMap<&'a str, Vec<&'a NodeProto>>,
    /// Nodes of a written-out GELU ([`gelu`]) that are not lowered, by their output.
    skipped: HashSet<String>,
    /// Where a written-out GELU ends (its last node's output): its input and its form.
    gelus: HashMap<String, (String, Activation)>,
    origin: Origin,
}

type Lowered = Result<Vec<Val>, String>;

/// A reduction over the planes.
#[derive(Clone, Copy)]
enum Reduce {
    Mean,
    Max,
}

impl Reduce {
    fn of(op: &str) -> Self {
        match op.contains("Max") {
            true => Reduce::Max,
            false => Reduce::Mean,
        }
    }

    fn op(self) -> Op {
        match self {
            Reduce::Mean => Op::GlobalAvgPool,
            Reduce::Max => Op::GlobalMaxPool,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Reduce::Mean => "mean",
            Reduce::Max => "max",
        }
    }
}

impl<'a> Lowering<'a> {
    pub fn new(
        builder: GraphBuilder,
        input_shape: [usize; 4],
        opset: i64,
        nodes: &'a [NodeProto],
    ) -> Self {
        let producers = nodes
            .iter()
            .flat_map(|node| node.output.iter().map(move |name| (name.as_str(), node)))
            .collect();
        let mut readers: HashMap<&str, Vec<&NodeProto>> = HashMap::new();
        for node in nodes {
            for input in &node.input {
                readers.entry(input.as_str()).or_default().push(node);
            }
        }
        Self {
            builder,
            shapes: vec![input_shape],
            env: HashMap::new(),
            origins: Vec::new(),
            opset,
            producers,
            readers,
            skipped: HashSet::new(),
            gelus: HashMap::new(),
            origin: Origin::default(),
        }
    }

    fn readers(&self, value: &str) -> &[&'a NodeProto] {
        self.readers.get(value).map_or(&[], Vec::as_slice)
    }

    /// The engine's view of value `id`, unchanged: NCHW.
    pub fn nchw(&self, id: ValueId) -> Dyn {
        Dyn {
            id,
            dims: self.shapes[id]
                .iter()
                .enumerate()
                .map(|(axis, &size)| Dim {
                    size,
                    axis: Some(axis),
                })
                .collect(),
            pad: [0; 4],
        }
    }

    /// Lowers one node, binding its outputs in `env`.
    pub fn lower(&mut self, node: &NodeProto) -> Result<(), String> {
        self.origin = Origin {
            module: module_path(node),
            onnx_name: node.name().to_owned(),
        };
        let output = node.output.first().map(String::as_str).unwrap_or_default();
        if self.skipped.contains(output) {
            return Ok(());
        }
        if let Some((x, act)) = self.gelus.get(output).cloned() {
            let value = match self.env.get(&x) {
                Some(Val::Dyn(d)) if d.pad == [0; 4] => d.clone(),
                _ => {
                    return Err(format!(
                        "ends a GELU of '{x}', which is not a computed value"
                    ))
                }
            };
            let gelu = self.emit_dyn(Op::Act(act), &[value.id], &value)?;
            self.env.insert(output.to_owned(), gelu);
            return Ok(());
        }
        let inputs =
            node.input
                .iter()
                .map(|name| match name.is_empty() {
                    true => Ok(None),
                    false => {
                        self.env.get(name).cloned().map(Some).ok_or_else(|| {
                            format!("reads '{name}', which no node before it computes")
                        })
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
        let all_const = inputs.iter().flatten().all(|v| matches!(v, Val::Const(_)));
        let outputs = if all_const {
            let consts: Vec<Option<&Const>> = inputs
                .iter()
                .map(|v| match v {
                    Some(Val::Const(c)) => Some(&**c),
                    _ => None,
                })
                .collect();
            fold(node, &consts)?
                .into_iter()
                .map(|c| Val::Const(Rc::new(c)))
                .collect()
        } else {
            self.lower_runtime(node, &inputs)?
        };
        for (name, value) in node.output.iter().zip(outputs) {
            if !name.is_empty() {
                self.env.insert(name.clone(), value);
            }
        }
        Ok(())
    }

    /// Appends `op` and records its output's shape and origin.
    fn emit(&mut self, op: Op, inputs: &[ValueId]) -> Result<ValueId, String> {
        let name = self.node_name();
        let id = self
            .builder
            .node(name, op, inputs)
            .map_err(|e| e.to_string())?;
        self.sync()?;
        Ok(id)
    }

    fn emit_dyn(&mut self, op: Op, inputs: &[ValueId], like: &Dyn) -> Result<Val, String> {
        let id = self.emit(op, inputs)?;
        Ok(Val::Dyn(Dyn {
            id,
            dims: like.dims.clone(),
            pad: [0; 4],
        }))
    }

    fn node_name(&self) -> String {
        match (&self.origin.module, self.origin.onnx_name.is_empty()) {
            (Some(module), _) => module.clone(),
            (None, false) => self.origin.onnx_name.clone(),
            (None, true) => format!("node{}", self.origins.len()),
        }
    }

    /// Shapes and origins for the nodes the builder appended since the last call.
    fn sync(&mut self) -> Result<(), String> {
        let graph = self.builder.graph();
        for node in &graph.nodes[self.origins.len()..] {
            self.shapes.resize(graph.values.len(), [0; 4]);
            infer_shape(node, &mut self.shapes).map_err(|e| match e {
                ShapeError::TooSmall => format!(
                    "its window is larger than its {:?} input (choose a larger input size)",
                    self.shapes[node.inputs[0]]
                ),
                ShapeError::Node(e) => e.to_string(),
            })?;
            self.origins.push(self.origin.clone());
        }
        Ok(())
    }

    fn is_vector(&self, d: &Dyn) -> bool {
        self.builder.info(d.id).vector
    }

    /// Whether the file sees `d` exactly as the engine holds it: four axes, N C H W in order.
    fn is_nchw(&self, d: &Dyn) -> bool {
        let shape = self.shapes[d.id];
        let sizes_match =
            d.dims.len() == 4 && d.dims.iter().zip(shape).all(|(dim, s)| dim.size == s);
        let mut order = d.dims.iter().filter(|dim| dim.size > 1).map(|dim| dim.axis);
        sizes_match
            && order.clone().all(|a| a.is_some())
            && order
                .clone()
                .zip(order.by_ref().skip(1))
                .all(|(a, b)| a < b)
    }

    fn require_nchw(&self, d: &Dyn, what: &str) -> Result<(), String> {
        match self.is_nchw(d) {
            true => Ok(()),
            false => Err(format!(
                "{what} needs an NCHW input; this one is {:?} in the file's layout",
                sizes(d)
            )),
        }
    }

    /// The position of the channel axis among `d`'s axes.
    fn channel_position(&self, d: &Dyn) -> Option<usize> {
        d.dims
            .iter()
            .position(|dim| dim.axis == Some(1))
            .or_else(|| {
                // A one-channel value whose channel axis a reshape dropped: any size-1 axis is it.
                (self.shapes[d.id][1] == 1).then(|| d.dims.iter().position(|dim| dim.size == 1))?
            })
    }

    fn lower_runtime(&mut self, node: &NodeProto, inputs: &[Option<Val>]) -> Lowered {
        let op = node.op_type();
        let dyn_at = |i: usize| -> Result<Dyn, String> {
            match inputs.get(i) {
                Some(Some(Val::Dyn(d))) if d.pad == [0; 4] || op == "Conv" => Ok(d.clone()),
                Some(Some(Val::Dyn(_))) => Err(
                    "reads a Pad's output; SE Lens applies a Pad only as a convolution's padding"
                        .into(),
                ),
                Some(Some(Val::Const(_))) => Err(format!(
                    "input {i} is a constant where a computed value was expected"
                )),
                _ => Err(format!("input {i} is missing")),
            }
        };
        let const_at = |i: usize| -> Result<Option<Rc<Const>>, String> {
            match inputs.get(i) {
                Some(Some(Val::Const(c))) => Ok(Some(c.clone())),
                Some(Some(Val::Dyn(_))) => Err(format!(
                    "input {i} must be a constant (an initializer), not a computed value"
                )),
                _ => Ok(None),
            }
        };
        let required = |i: usize| -> Result<Rc<Const>, String> {
            const_at(i)?.ok_or_else(|| format!("input {i} is missing"))
        };
        let act = |this: &mut Self, act: Activation| -> Lowered {
            let x = dyn_at(0)?;
            Ok(vec![this.emit_dyn(Op::Act(act), &[x.id], &x)?])
        };
        match op {
            "Identity" | "Dropout" => Ok(vec![Val::Dyn(dyn_at(0)?)]),
            "Cast" => match attr_int(node, "to") {
                Some(1) => Ok(vec![Val::Dyn(dyn_at(0)?)]),
                to => Err(format!(
                    "casts a computed value to type {to:?}; only to float is supported"
                )),
            },
            "Relu" => act(self, Activation::Relu),
            "LeakyRelu" => match attr_float(node, "alpha").unwrap_or(0.01) {
                0.0 => act(self, Activation::Relu),
                alpha => match Slope::new(alpha) {
                    Some(slope) => act(self, Activation::LeakyRelu(slope)),
                    None => Err(format!("a LeakyRelu slope of {alpha}")),
                },
            },
            "Sigmoid" => act(self, Activation::Sigmoid),
            "Erf" | "Tanh" | "Pow" => {
                let found = match op {
                    "Pow" => self.gelu_ahead(node),
                    _ => self.gelu_at(node),
                };
                match (found, op) {
                    (Some(found), _) => {
                        self.skipped.extend(found.inside);
                        self.gelus.insert(found.root, (found.x, found.act));
                        Ok(Vec::new())
                    }
                    (None, "Tanh") => act(self, Activation::Tanh),
                    (None, "Erf") => Err("is not part of a GELU (x/2 · (1 + erf(x/√2))), the one place SE Lens runs Erf".into()),
                    (None, _) => Err("raises a computed value to a power, which SE Lens runs only inside GELU's tanh form".into()),
                }
            }
            "HardSwish" => act(self, Activation::HardSwish),
            "Gelu" => match attr_str(node, "approximate").unwrap_or("none") {
                "none" => act(self, Activation::Gelu),
                "tanh" => act(self, Activation::GeluTanh),
                other => Err(format!(
                    "approximate = '{other}' is not a GELU form (none or tanh)"
                )),
            },
            "HardSigmoid" => {
                let x = dyn_at(0)?;
                let alpha = attr_float(node, "alpha").unwrap_or(0.2);
                let beta = attr_float(node, "beta").unwrap_or(0.5);
                self.hard_sigmoid(&x, alpha, beta)
            }
            "Clip" => {
                let bound = |attr: &str, i: usize| -> Result<Option<f64>, String> {
                    match attr_float(node, attr) {
                        Some(v) => Ok(Some(f64::from(v))),
                        None => Ok(const_at(i)?.and_then(|c| c.uniform())),
                    }
                };
                let (min, max) = (bound("min", 1)?, bound("max", 2)?);
                let big = |v: Option<f64>| v.is_none_or(|v| v >= f64::from(f32::MAX));
                match (min, max) {
                    (Some(0.0), Some(6.0)) => act(self, Activation::Relu6),
                    (Some(0.0), max) if big(max) => act(self, Activation::Relu),
                    (min, max) if big(min.map(|v| -v)) && big(max) => {
                        Ok(vec![Val::Dyn(dyn_at(0)?)])
                    }
                    (min, max) => Err(format!(
                        "clips to [{}, {}]; SE Lens runs Clip as ReLU (0, ∞) or ReLU6 (0, 6)",
                        min.unwrap_or(f64::NEG_INFINITY),
                        max.unwrap_or(f64::INFINITY)
                    )),
                }
            }
            "Mul" | "Div" | "Add" | "Sub" => {
                if let Some(val) = self.recognize_activation(node)? {
                    return Ok(vec![val]);
                }
                let op = match op {
                    "Mul" => BinaryOp::Mul,
                    "Div" => BinaryOp::Div,
                    "Add" => BinaryOp::Add,
                    _ => BinaryOp::Sub,
                };
                let [Some(a), Some(b)] = inputs else {
                    return Err("takes two inputs".into());
                };
                for v in [a, b] {
                    if let Val::Dyn(d) = v {
                        if d.pad != [0; 4] {
                            return Err("reads a Pad's output; SE Lens applies a Pad only as a convolution's padding".into());
                        }
                    }
                }
                Ok(vec![self.binary(op, a, b)?])
            }
            "Conv" => {
                let x = dyn_at(0)?;
                let weight = required(1)?;
                let bias = const_at(2)?;
                self.conv(node, &x, &weight, bias.as_deref())
            }
            "BatchNormalization" => {
                let x = dyn_at(0)?;
                let channels = self.shapes[x.id][1];
                if x.dims.len() < 2 || self.channel_position(&x) != Some(1) {
                    return Err("normalizes an axis other than the channels".into());
                }
                let param = |i: usize| -> Result<Vec<f32>, String> {
                    let c = required(i)?;
                    match c.len() == channels {
                        true => Ok(c.to_f32()),
                        false => Err(format!(
                            "input {i} has {} values for {channels} channels",
                            c.len()
                        )),
                    }
                };
                let bn = BatchNorm {
                    gamma: param(1)?,
                    beta: param(2)?,
                    mean: param(3)?,
                    var: param(4)?,
                    eps: f64::from(attr_float(node, "epsilon").unwrap_or(1e-5)),
                };
                Ok(vec![self.emit_dyn(Op::BatchNorm(bn), &[x.id], &x)?])
            }
            "GlobalAveragePool" | "GlobalMaxPool" => {
                let x = dyn_at(0)?;
                self.require_nchw(&x, op)?;
                self.global_pool(&x, Reduce::of(op))
            }
            "ReduceMean" | "ReduceMax" => {
                let x = dyn_at(0)?;
                let axes = match attr_ints(node, "axes") {
                    Some(axes) => Some(axes.to_vec()),
                    None => const_at(1)?.map(|c| c.to_i64()),
                };
                let keep = attr_int(node, "keepdims").unwrap_or(1) != 0;
                let rank = x.dims.len();
                let axes: Vec<usize> = match axes {
                    Some(axes) if !axes.is_empty() => axes
                        .iter()
                        .map(|&a| normalize_axis(a, rank))
                        .collect::<Result<_, _>>()?,
                    _ if attr_int(node, "noop_with_empty_axes") == Some(1) => Vec::new(),
                    _ => (0..rank).collect(),
                };
                self.reduce(&x, &axes, keep, Reduce::of(op))
            }
            "MaxPool" | "AveragePool" => {
                let x = dyn_at(0)?;
                self.require_nchw(&x, op)?;
                self.pool(node, &x)
            }
            "Gemm" => {
                let x = dyn_at(0)?;
                if attr_int(node, "transA").unwrap_or(0) != 0 {
                    return Err("transA = 1 (a transposed input) is not supported".into());
                }
                let w = required(1)?;
                let (k, m) = match (&w.shape[..], attr_int(node, "transB").unwrap_or(0)) {
                    ([k, m], 0) => (*k, *m),
                    ([m, k], _) => (*k, *m),
                    (shape, _) => return Err(format!("B has shape {shape:?}; a matrix is needed")),
                };
                let alpha = attr_float(node, "alpha").unwrap_or(1.0);
                let beta = attr_float(node, "beta").unwrap_or(1.0);
                let mut weight = match attr_int(node, "transB").unwrap_or(0) {
                    0 => w.transposed(&[1, 0])?.to_f32(),
                    _ => w.to_f32(),
                };
                weight.iter_mut().for_each(|v| *v *= alpha);
                let bias = match const_at(2)? {
                    None => vec![0.0; m],
                    Some(c) => {
                        let values = c.to_f32();
                        match values.len() {
                            1 => vec![values[0] * beta; m],
                            n if n == m && c.shape.iter().rev().skip(1).all(|&d| d == 1) => {
                                values.iter().map(|v| v * beta).collect()
                            }
                            _ => {
                                return Err(format!(
                                    "C has shape {:?}; a bias per output is needed",
                                    c.shape
                                ))
                            }
                        }
                    }
                };
                self.linear(&x, k, m, weight, bias)
            }
            "MatMul" => {
                let x = dyn_at(0)?;
                let w = required(1)?;
                let [k, m] = w.shape[..] else {
                    return Err(format!(
                        "the second operand has shape {:?}; a matrix is needed",
                        w.shape
                    ));
                };
                let weight = w.transposed(&[1, 0])?.to_f32();
                self.linear(&x, k, m, weight, vec![0.0; m])
            }
            "Flatten" => {
                let x = dyn_at(0)?;
                let axis = attr_int(node, "axis").unwrap_or(1);
                let axis = match axis == x.dims.len() as i64 {
                    true => x.dims.len(),
                    false => normalize_axis(axis, x.dims.len())?,
                };
                let all = sizes(&x);
                let target = vec![all[..axis].iter().product(), all[axis..].iter().product()];
                Ok(vec![Val::Dyn(reshape(&x, &target)?)])
            }
            "Reshape" => {
                let x = dyn_at(0)?;
                let shape = required(1)?.to_i64();
                let target =
                    reshape_target(&sizes(&x), &shape, attr_int(node, "allowzero") == Some(1))?;
                Ok(vec![Val::Dyn(reshape(&x, &target)?)])
            }
            "Squeeze" | "Unsqueeze" => {
                let x = dyn_at(0)?;
                let axes = match attr_ints(node, "axes") {
                    Some(axes) => Some(axes.to_vec()),
                    None => const_at(1)?.map(|c| c.to_i64()),
                };
                let mut dims = x.dims.clone();
                if op == "Squeeze" {
                    let rank = dims.len();
                    let drop: Vec<usize> = match axes {
                        Some(axes) => axes
                            .iter()
                            .map(|&a| normalize_axis(a, rank))
                            .collect::<Result<_, _>>()?,
                        None => (0..rank).filter(|&i| dims[i].size == 1).collect(),
                    };
                    if drop.iter().any(|&i| dims[i].size != 1) {
                        return Err(format!("squeezes an axis of {:?} that is not 1", sizes(&x)));
                    }
                    dims = dims
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| !drop.contains(i))
                        .map(|(_, d)| d)
                        .collect();
                } else {
                    let axes = axes.ok_or("has no axes")?;
                    let rank = dims.len() + axes.len();
                    let mut at: Vec<usize> = axes
                        .iter()
                        .map(|&a| normalize_axis(a, rank))
                        .collect::<Result<_, _>>()?;
                    at.sort_unstable();
                    for i in at {
                        dims.insert(
                            i,
                            Dim {
                                size: 1,
                                axis: None,
                            },
                        );
                    }
                }
                Ok(vec![Val::Dyn(Dyn { dims, ..x })])
            }
            "Transpose" => {
                let x = dyn_at(0)?;
                let rank = x.dims.len();
                let perm: Vec<usize> = match attr_ints(node, "perm") {
                    Some(perm) => perm
                        .iter()
                        .map(|&p| normalize_axis(p, rank))
                        .collect::<Result<_, _>>()?,
                    None => (0..rank).rev().collect(),
                };
                let mut seen = vec![false; rank];
                if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true))
                {
                    return Err(format!("perm {perm:?} does not permute {rank} axes"));
                }
                let dims = perm.iter().map(|&p| x.dims[p]).collect();
                Ok(vec![Val::Dyn(Dyn { dims, ..x })])
            }
            "Concat" => {
                let parts = (0..inputs.len())
                    .map(dyn_at)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| "concatenates constants with computed values".to_string())?;
                let axis = normalize_axis(
                    attr_int(node, "axis").ok_or("has no axis")?,
                    parts[0].dims.len(),
                )?;
                self.concat(&parts, axis)
            }
            "Split" => {
                let x = dyn_at(0)?;
                let axis = normalize_axis(attr_int(node, "axis").unwrap_or(0), x.dims.len())?;
                let size = x.dims[axis].size;
                let split: Vec<usize> = match attr_ints(node, "split") {
                    Some(s) => tensor::dims(s)?,
                    None => match const_at(1)? {
                        Some(c) => tensor::dims(&c.to_i64())?,
                        None => {
                            let parts = attr_int(node, "num_outputs")
                                .map_or(node.output.len(), |n| n.max(1) as usize);
                            let chunk = size.div_ceil(parts);
                            (0..parts)
                                .map(|i| chunk.min(size.saturating_sub(i * chunk)))
                                .collect()
                        }
                    },
                };
                if split.iter().sum::<usize>() != size || split.len() != node.output.len() {
                    return Err(format!(
                        "splits an axis of {size} into {split:?} for {} outputs",
                        node.output.len()
                    ));
                }
                let mut start = 0;
                let mut outputs = Vec::new();
                for len in split {
                    outputs.push(Val::Dyn(self.channel_range(&x, axis, start, len)?));
                    start += len;
                }
                Ok(outputs)
            }
            "Slice" => {
                let x = dyn_at(0)?;
                let ranges = slice_ranges(node, &sizes(&x), |i| {
                    const_at(i).map(|c| c.map(|c| c.to_i64()))
                })?;
                let mut out = x.clone();
                for (axis, range) in ranges {
                    let size = out.dims[axis].size;
                    if range.len() == size && range.iter().enumerate().all(|(i, &r)| i == r) {
                        continue;
                    }
                    let contiguous = range.windows(2).all(|w| w[1] == w[0] + 1);
                    if range.is_empty() || !contiguous {
                        return Err("slices with a step other than 1 or to nothing".into());
                    }
                    out = self.channel_range(&out, axis, range[0], range.len())?;
                }
                Ok(vec![Val::Dyn(out)])
            }
            "Shape" => {
                let x = match &inputs[0] {
                    Some(Val::Dyn(d)) => d.clone(),
                    _ => unreachable!("a Shape of a constant is folded"),
                };
                let mut all: Vec<i64> = sizes(&x).iter().map(|&s| s as i64).collect();
                for (i, p) in [2usize, 3].into_iter().zip([[0, 2], [1, 3]]) {
                    if let Some(pos) = x.dims.iter().position(|d| d.axis == Some(i)) {
                        all[pos] += (x.pad[p[0]] + x.pad[p[1]]) as i64;
                    }
                }
                let rank = all.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let start = clamp(attr_int(node, "start").unwrap_or(0));
                let end = clamp(attr_int(node, "end").unwrap_or(rank));
                let part = all[start..end.max(start)].to_vec();
                Ok(vec![Val::Const(Rc::new(Const::i64(
                    vec![part.len()],
                    part,
                )))])
            }
            "Softmax" => {
                let x = dyn_at(0)?;
                let rank = x.dims.len();
                let default = if self.opset < 13 { 1 } else { -1 };
                let axis = normalize_axis(attr_int(node, "axis").unwrap_or(default), rank)?;
                let over = if self.opset < 13 {
                    axis..rank
                } else {
                    axis..axis + 1
                };
                let channel = self.channel_position(&x);
                let only_channels = (0..rank)
                    .all(|i| over.contains(&i) == (Some(i) == channel) || x.dims[i].size == 1);
                if !self.is_vector(&x) || !only_channels {
                    return Err(format!("a softmax over axis {axis} of {:?}; only over the classes of a vector is supported", sizes(&x)));
                }
                Ok(vec![self.emit_dyn(Op::Softmax, &[x.id], &x)?])
            }
            "Pad" => {
                let x = dyn_at(0)?;
                self.require_nchw(&x, "Pad")?;
                let mode = attr_str(node, "mode").unwrap_or("constant");
                let pads = match attr_ints(node, "pads") {
                    Some(p) => p.to_vec(),
                    None => required(1)?.to_i64(),
                };
                let value = match attr_float(node, "value") {
                    Some(v) => f64::from(v),
                    None => const_at(2)?.and_then(|c| c.uniform()).unwrap_or(0.0),
                };
                if const_at(3)?.is_some() {
                    return Err("Pad with axes is not supported".into());
                }
                if mode == "reflect" {
                    return match pads[..] {
                        [0, 0, p, l, 0, 0, b, r] if [l, b, r] == [p; 3] && p > 0 => {
                            if x.pad != [0; 4] {
                                return Err("reflects a zero-padded value".into());
                            }
                            let pad = tensor::dims(&[p])?[0];
                            let id = self.emit(Op::ReflectPad { pad }, &[x.id])?;
                            Ok(vec![Val::Dyn(self.nchw(id))])
                        }
                        _ => Err(format!(
                            "pads {pads:?} in reflect mode; SE Lens reflects planes by the same \
                             amount on every side"
                        )),
                    };
                }
                if mode != "constant" || value != 0.0 {
                    return Err(format!(
                        "pads with {mode} mode and value {value}; only zero and reflect padding are supported"
                    ));
                }
                let [0, 0, top, left, 0, 0, bottom, right] = pads[..] else {
                    return Err(format!(
                        "pads {pads:?}; only non-negative padding of the planes is supported"
                    ));
                };
                let p = tensor::dims(&[top, left, bottom, right])?;
                let pad = [
                    x.pad[0] + p[0],
                    x.pad[1] + p[1],
                    x.pad[2] + p[2],
                    x.pad[3] + p[3],
                ];
                Ok(vec![Val::Dyn(Dyn { pad, ..x })])
            }
            "Resize" | "Upsample" => {
                let x = dyn_at(0)?;
                self.require_nchw(&x, op)?;
                // Upsample (opsets 7–9): scales as an attribute, then as input 1; Resize: scales
                // as input 1 (opset 10), then input 2 with sizes as input 3.
                let scales = match attr(node, "scales") {
                    Some(a) => Some(a.floats.iter().map(|&s| f64::from(s)).collect()),
                    None if op == "Upsample" || self.opset == 10 => {
                        const_at(1)?.map(|c| c.to_f32().into_iter().map(f64::from).collect())
                    }
                    None => const_at(2)?.map(|c| c.to_f32().into_iter().map(f64::from).collect()),
                };
                let sizes = match op == "Resize" && self.opset >= 11 {
                    true => const_at(3)?.map(|c| c.to_i64()),
                    false => None,
                };
                self.upsample(node, &x, scales.filter(|s: &Vec<f64>| !s.is_empty()), sizes)
            }
            _ => Err("is not an op SE Lens runs on computed values".into()),
        }
    }

    /// `clip(alpha · x + beta, 0, 1)`.
    fn hard_sigmoid(&mut self, x: &Dyn, alpha: f32, beta: f32) -> Lowered {
        let name = self.node_name();
        let id = self
            .builder
            .hard_sigmoid(&name, alpha, beta, x.id)
            .map_err(|e| e.to_string())?;
        self.sync()?;
        Ok(vec![Val::Dyn(Dyn { id, ..x.clone() })])
    }

    /// SiLU, hard-swish and a hard sigmoid written out of smaller ops, by what they compute:
    /// `x · sigmoid(x)`, `x · hard_sigmoid(x)`, `x · clip(x + 3, 0, 6) / 6`,
    /// `clip(x + b, 0, c) / c` (any `b`, `c`: a hard sigmoid of slope `1/c`).
    fn recognize_activation(&mut self, node: &NodeProto) -> Result<Option<Val>, String> {
        let dyn_of = |this: &Self, name: &str| match this.env.get(name) {
            Some(Val::Dyn(d)) if d.pad == [0; 4] => Some(d.clone()),
            _ => None,
        };
        let [a, b] = &node.input[..] else {
            return Ok(None);
        };
        if node.op_type() == "Mul" {
            for (x, g) in [(a, b), (b, a)] {
                let Some(xd) = dyn_of(self, x) else { continue };
                if let Some(gate) = self.producers.get(g.as_str()) {
                    if gate.op_type() == "Sigmoid" && gate.input.first() == Some(x) {
                        return Ok(Some(self.emit_dyn(
                            Op::Act(Activation::Silu),
                            &[xd.id],
                            &xd,
                        )?));
                    }
                }
                if let Some((input, alpha, beta)) = self.hard_sigmoid_of(g) {
                    if &input == x && alpha == 1.0 / 6.0 && beta == 0.5 {
                        return Ok(Some(self.emit_dyn(
                            Op::Act(Activation::HardSwish),
                            &[xd.id],
                            &xd,
                        )?));
                    }
                }
            }
        }
        let output = node.output.first().map(String::as_str).unwrap_or_default();
        if let Some((x, alpha, beta)) = self.hard_sigmoid_of(output) {
            if let Some(xd) = dyn_of(self, &x) {
                return Ok(self.hard_sigmoid(&xd, alpha, beta)?.pop());
            }
        }
        // x · clip(x + 3, 0, 6) / 6 (Paddle's hard-swish).
        if node.op_type() == "Div" && self.uniform(b) == Some(6.0) {
            if let Some(mul) = self
                .producers
                .get(a.as_str())
                .filter(|n| n.op_type() == "Mul")
            {
                if let [p, q] = &mul.input[..] {
                    for (x, r) in [(p, q), (q, p)] {
                        let relu6 = self
                            .producers
                            .get(r.as_str())
                            .and_then(|n| self.clip_add(n));
                        if relu6 == Some((x.clone(), 3.0, 6.0)) {
                            if let Some(xd) = dyn_of(self, x) {
                                return Ok(Some(self.emit_dyn(
                                    Op::Act(Activation::HardSwish),
                                    &[xd.id],
                                    &xd,
                                )?));
                            }
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// `(x, alpha, beta)` when `value` is `clip(alpha · x + beta, 0, 1)`: a HardSigmoid node, or
    /// `clip(x + b, 0, c)` divided by `c` (or times `1/c`).
    fn hard_sigmoid_of(&self, value: &str) -> Option<(String, f32, f32)> {
        let node = self.producers.get(value)?;
        if node.op_type() == "HardSigmoid" {
            let alpha = attr_float(node, "alpha").unwrap_or(0.2);
            let beta = attr_float(node, "beta").unwrap_or(0.5);
            return Some((node.input.first()?.clone(), alpha, beta));
        }
        let [p, q] = &node.input[..] else { return None };
        let (clipped, scale) = match node.op_type() {
            "Div" => (p, 1.0 / self.uniform(q)?),
            "Mul" => match self.uniform(q) {
                Some(s) => (p, s),
                None => (q, self.uniform(p)?),
            },
            _ => return None,
        };
        let (x, shift, max) = self.clip_add(self.producers.get(clipped.as_str())?)?;
        ((max * scale - 1.0).abs() < 1e-6).then_some((x, scale as f32, (shift * scale) as f32))
    }

    /// `(x, b, c)` when `node` is `clip(x + b, 0, c)` (`b` may be 0: a bare clip).
    fn clip_add(&self, node: &NodeProto) -> Option<(String, f64, f64)> {
        let (min, max) = match node.op_type() {
            "Clip" => (
                attr_float(node, "min")
                    .map(f64::from)
                    .or_else(|| self.uniform(node.input.get(1)?)),
                attr_float(node, "max")
                    .map(f64::from)
                    .or_else(|| self.uniform(node.input.get(2)?)),
            ),
            _ => return None,
        };
        if min != Some(0.0) {
            return None;
        }
        let input = node.input.first()?;
        let added = self
            .producers
            .get(input.as_str())
            .filter(|n| n.op_type() == "Add");
        let (x, shift) = match added.map(|n| &n.input[..]) {
            Some([p, q]) => match (self.uniform(q), self.uniform(p)) {
                (Some(b), _) => (p.clone(), b),
                (None, Some(b)) => (q.clone(), b),
                _ => (input.clone(), 0.0),
            },
            _ => (input.clone(), 0.0),
        };
        Some((x, shift, max?))
    }

    /// The value of a constant whose elements are all equal.
    fn uniform(&self, name: &str) -> Option<f64> {
        match self.env.get(name)? {
            Val::Const(c) => c.uniform(),
            Val::Dyn(_) => None,
        }
    }

    fn binary(&mut self, op: BinaryOp, a: &Val, b: &Val) -> Result<Val, String> {
        match (a, b) {
            (Val::Dyn(x), Val::Const(c)) => self.affine(op, x, c, false),
            (Val::Const(c), Val::Dyn(x)) => self.affine(op, x, c, true),
            (Val::Dyn(x), Val::Dyn(y)) => {
                let (sx, sy) = (sizes(x), sizes(y));
                let out = broadcast_shape(&sx, &sy)?;
                let full = |d: &Dyn, s: &[usize]| {
                    s.len() == out.len() && s == &out[..] && d.dims.len() == out.len()
                };
                let (big, small) = match (full(x, &sx), full(y, &sy)) {
                    (true, _) => (x, y),
                    (false, true) if matches!(op, BinaryOp::Add | BinaryOp::Mul) => (y, x),
                    _ => return Err(format!("{op:?} of {sx:?} and {sy:?}: a value broadcast onto a smaller one is not supported")),
                };
                let offset = big.dims.len() - small.dims.len();
                let aligned = small.dims.iter().enumerate().all(|(i, d)| {
                    let other = big.dims[i + offset];
                    d.size == 1 || (d.size == other.size && d.axis == other.axis)
                });
                let same_engine_shape = self.shapes[small.id] == self.shapes[big.id];
                let per_channel =
                    self.is_vector(small) && self.shapes[small.id][1] == self.shapes[big.id][1];
                if !aligned || !(same_engine_shape || per_channel) {
                    return Err(format!("{op:?} of {sx:?} and {sy:?}: only same-shape values or a per-channel vector broadcast over planes are supported"));
                }
                let id = self.emit(Op::Binary(op), &[big.id, small.id])?;
                Ok(Val::Dyn(Dyn {
                    id,
                    dims: big.dims.clone(),
                    pad: [0; 4],
                }))
            }
            (Val::Const(_), Val::Const(_)) => unreachable!("folded"),
        }
    }

    /// `x ∘ c` (or `c ∘ x`) for a constant `c` that is one value or one per channel: a
    /// per-channel affine, written as a BatchNorm so that the passes fold it into the layer
    /// before.
    fn affine(
        &mut self,
        op: BinaryOp,
        x: &Dyn,
        c: &Const,
        const_first: bool,
    ) -> Result<Val, String> {
        let sx = sizes(x);
        let out = broadcast_shape(&sx, &c.shape)?;
        let offset = out.len() - sx.len();
        if out[offset..] != sx[..] {
            return Err(format!(
                "broadcasts a {sx:?} value up to a {:?} constant",
                c.shape
            ));
        }
        let mut dims = vec![
            Dim {
                size: 1,
                axis: None
            };
            offset
        ];
        dims.extend(&x.dims);
        let channels = self.shapes[x.id][1];
        let channel = dims.iter().position(|d| d.axis == Some(1));
        let c_offset = out.len() - c.shape.len();
        let spread = c
            .shape
            .iter()
            .enumerate()
            .any(|(i, &s)| s > 1 && Some(i + c_offset) != channel);
        if spread {
            return Err(format!(
                "a constant of shape {:?} varies over more than the channels of {sx:?}",
                c.shape
            ));
        }
        let values = c.to_f32();
        let per_channel: Vec<f64> = match values.len() {
            1 => vec![f64::from(values[0]); channels],
            n if n == channels => values.iter().map(|&v| f64::from(v)).collect(),
            n => return Err(format!("{n} constant values for {channels} channels")),
        };
        let (gamma, beta): (Vec<f32>, Vec<f32>) = per_channel
            .iter()
            .map(|&v| match (op, const_first) {
                (BinaryOp::Add, _) => Ok((1.0, v)),
                (BinaryOp::Mul, _) => Ok((v, 0.0)),
                (BinaryOp::Sub, false) => Ok((1.0, -v)),
                (BinaryOp::Sub, true) => Ok((-1.0, v)),
                (BinaryOp::Div, false) => Ok((1.0 / v, 0.0)),
                (BinaryOp::Div, true) => {
                    Err("a constant divided by a computed value is not supported".to_string())
                }
            })
            .map(|r| r.map(|(g, b)| (g as f32, b as f32)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let bn = BatchNorm {
            gamma,
            beta,
            mean: vec![0.0; channels],
            var: vec![1.0; channels],
            eps: 0.0,
        };
        let id = self.emit(Op::BatchNorm(bn), &[x.id])?;
        Ok(Val::Dyn(Dyn {
            id,
            dims,
            pad: [0; 4],
        }))
    }

    fn conv(&mut self, node: &NodeProto, x: &Dyn, w: &Const, bias: Option<&Const>) -> Lowered {
        let plain = Dyn {
            pad: [0; 4],
            ..x.clone()
        };
        self.require_nchw(&plain, "Conv")?;
        let [out_channels, per_group, kh, kw] = w.shape[..] else {
            return Err(format!(
                "weight has shape {:?}; only 2-D convolutions are supported",
                w.shape
            ));
        };
        let groups = usize::try_from(attr_int(node, "group").unwrap_or(1))
            .map_err(|_| "a negative group")?;
        let [_, in_channels, h, wd] = self.shapes[x.id];
        if groups == 0 || per_group * groups != in_channels || out_channels % groups != 0 {
            return Err(format!("a [{out_channels}, {per_group}, {kh}, {kw}] weight in {groups} group(s) does not fit {in_channels} input channels"));
        }
        if kh != kw {
            return Err(format!(
                "a {kh}×{kw} kernel; SE Lens's convolutions are square"
            ));
        }
        let pair = |name: &str| -> Result<usize, String> {
            match attr_ints(node, name) {
                None => Ok(1),
                Some([a, b]) if a == b && *a >= 1 => Ok(*a as usize),
                Some(v) => Err(format!(
                    "{name} {v:?}; SE Lens needs them equal on both axes"
                )),
            }
        };
        let (stride, dilation) = (pair("strides")?, pair("dilations")?);
        let [top, left, bottom, right] = padding(
            node,
            [h + x.pad[0] + x.pad[2], wd + x.pad[1] + x.pad[3]],
            kh,
            stride,
            dilation,
        )?;
        let pads = [
            top + x.pad[0],
            left + x.pad[1],
            bottom + x.pad[2],
            right + x.pad[3],
        ];
        let bias = match bias {
            Some(b) if b.len() == out_channels => b.to_f32(),
            Some(b) => {
                return Err(format!(
                    "bias has {} values for {out_channels} outputs",
                    b.len()
                ))
            }
            None => vec![0.0; out_channels],
        };
        if self.is_vector(x) && kh == 1 && groups == 1 && pads == [0; 4] {
            return self.linear(&plain, in_channels, out_channels, w.to_f32(), bias);
        }
        let conv = Conv2d {
            in_channels,
            out_channels,
            kernel: kh,
            stride,
            dilation,
            padding: Padding::explicit(pads[0], pads[1], pads[2], pads[3]),
            groups,
            weight: w.to_f32(),
            bias,
            winograd: Default::default(),
        };
        let op = Op::Conv {
            conv,
            act: Activation::None,
            squeeze: false,
        };
        let id = self.emit(op, &[x.id])?;
        Ok(vec![Val::Dyn(self.nchw(id))])
    }

    /// A linear layer on the channels of a vector (`[N, K]`, `[N, K, 1, 1]`, `[N, 1, K]`…):
    /// `weight` is `[out, in]`.
    fn linear(&mut self, x: &Dyn, k: usize, m: usize, weight: Vec<f32>, bias: Vec<f32>) -> Lowered {
        let position = self.channel_position(x);
        let last_or_nchw =
            position == Some(x.dims.len() - 1) || (position == Some(1) && self.is_nchw(x));
        if !self.is_vector(x) || self.shapes[x.id][1] != k || !last_or_nchw {
            return Err(format!(
                "a {k} → {m} linear layer on a {:?} value; it needs a vector of {k} features",
                sizes(x)
            ));
        }
        let linear = Linear {
            in_features: k,
            out_features: m,
            weight,
            bias,
            act: Activation::None,
        };
        let id = self.emit(Op::Linear(linear), &[x.id])?;
        let mut dims = x.dims.clone();
        dims[position.expect("checked")] = Dim {
            size: m,
            axis: Some(1),
        };
        Ok(vec![Val::Dyn(Dyn {
            id,
            dims,
            pad: [0; 4],
        })])
    }

    fn global_pool(&mut self, x: &Dyn, reduce: Reduce) -> Lowered {
        let id = match self.is_vector(x) {
            true => x.id,
            false => self.emit(reduce.op(), &[x.id])?,
        };
        Ok(vec![Val::Dyn(self.nchw(id))])
    }

    /// A mean or max over the planes (an SE squeeze, `x.mean((2, 3))`, `x.amax((2, 3))`), or
    /// over size-1 axes only.
    fn reduce(&mut self, x: &Dyn, axes: &[usize], keep: bool, reduce: Reduce) -> Lowered {
        let reduced: Vec<Option<usize>> = axes
            .iter()
            .filter(|&&i| x.dims[i].size > 1)
            .map(|&i| x.dims[i].axis)
            .collect();
        let kept_spatial = x
            .dims
            .iter()
            .enumerate()
            .any(|(i, d)| d.size > 1 && matches!(d.axis, Some(2 | 3)) && !axes.contains(&i));
        let id = if reduced.is_empty() {
            x.id
        } else if !kept_spatial && reduced.iter().all(|a| matches!(a, Some(2 | 3))) {
            self.emit(reduce.op(), &[x.id])?
        } else {
            return Err(format!(
                "a {} over axes {axes:?} of {:?}; only over the planes is supported",
                reduce.name(),
                sizes(x)
            ));
        };
        let dims = x
            .dims
            .iter()
            .enumerate()
            .filter(|(i, _)| keep || !axes.contains(i))
            .map(|(i, d)| match axes.contains(&i) {
                true => Dim {
                    size: 1,
                    axis: d.axis,
                },
                false => *d,
            })
            .collect();
        Ok(vec![Val::Dyn(Dyn {
            id,
            dims,
            pad: [0; 4],
        })])
    }

    /// A nearest-neighbour `Resize` (or `Upsample`) by whole factors of the planes. The
    /// coordinate modes where that reads input `y / factor` for output `y` are accepted; the
    /// others are refused by name.
    fn upsample(
        &mut self,
        node: &NodeProto,
        x: &Dyn,
        scales: Option<Vec<f64>>,
        sizes: Option<Vec<i64>>,
    ) -> Lowered {
        let mode = attr_str(node, "mode").unwrap_or("nearest");
        if mode != "nearest" {
            return Err(format!(
                "resizes in '{mode}' mode; SE Lens resizes by nearest neighbour only"
            ));
        }
        let shape = self.shapes[x.id];
        // Per engine axis, from values for all four axes or for the `axes` attribute's.
        let full = |values: Vec<f64>, mut all: [f64; 4]| -> Result<[f64; 4], String> {
            match attr_ints(node, "axes") {
                None if values.len() == 4 => all.copy_from_slice(&values),
                Some(axes) if axes.len() == values.len() => {
                    for (&axis, v) in axes.iter().zip(values) {
                        all[normalize_axis(axis, 4)?] = v;
                    }
                }
                _ => {
                    return Err(format!(
                        "{} scales or sizes do not fit a 4-axis input",
                        values.len()
                    ))
                }
            }
            Ok(all)
        };
        let shape = shape.map(|s| s as f64);
        let ratios = match (scales, sizes) {
            (Some(scales), _) => full(scales, [1.0; 4])?,
            (None, Some(sizes)) => {
                let sizes = full(sizes.iter().map(|&s| s as f64).collect(), shape)?;
                std::array::from_fn(|i| sizes[i] / shape[i])
            }
            (None, None) => return Err("has neither scales nor sizes as constants".into()),
        };
        let whole = |r: f64| (r >= 1.0 && r.fract() == 0.0 && r <= 64.0).then_some(r as usize);
        let factor = match (ratios[0], ratios[1], whole(ratios[2]), whole(ratios[3])) {
            (1.0, 1.0, Some(down), Some(across)) => [down, across],
            _ => return Err(format!("scales the input by {ratios:?}; SE Lens upsamples the planes by whole factors only")),
        };
        let coordinates =
            attr_str(node, "coordinate_transformation_mode").unwrap_or(match node.op_type() {
                "Upsample" => "asymmetric",
                _ => "half_pixel",
            });
        let rounding = attr_str(node, "nearest_mode").unwrap_or(match node.op_type() {
            "Upsample" => "floor",
            _ => "round_prefer_floor",
        });
        let floor_of = matches!(
            (coordinates, rounding),
            ("asymmetric" | "tf_half_pixel_for_nn", "floor")
                | (
                    "half_pixel" | "pytorch_half_pixel" | "half_pixel_symmetric",
                    "round_prefer_floor" | "round_prefer_ceil"
                )
        );
        if !floor_of && factor != [1, 1] {
            return Err(format!("rounds coordinates by {coordinates} and {rounding}, which does not read input y / factor for output y; SE Lens resizes only so"));
        }
        let [n, c, h, w] = self.shapes[x.id];
        tensor::element_count(&[n, c, h * factor[0], w * factor[1]])
            .map_err(|e| format!("upsamples to more than SE Lens holds: {e}"))?;
        let id = match factor {
            [1, 1] => x.id,
            factor => self.emit(Op::Upsample { factor }, &[x.id])?,
        };
        Ok(vec![Val::Dyn(self.nchw(id))])
    }

    fn pool(&mut self, node: &NodeProto, x: &Dyn) -> Lowered {
        let kernel = match attr_ints(node, "kernel_shape") {
            Some([a, b]) if a == b && *a >= 1 => *a as usize,
            k => {
                return Err(format!(
                    "kernel_shape {k:?}; SE Lens pools with square windows"
                ))
            }
        };
        let stride = match attr_ints(node, "strides") {
            None => 1,
            Some([a, b]) if a == b && *a >= 1 => *a as usize,
            Some(s) => {
                return Err(format!(
                    "strides {s:?}; SE Lens needs them equal on both axes"
                ))
            }
        };
        if attr_ints(node, "dilations").is_some_and(|d| d.iter().any(|&d| d != 1)) {
            return Err("a dilated pooling window is not supported".into());
        }
        let [_, _, h, w] = self.shapes[x.id];
        let pads = padding(node, [h, w], kernel, stride, 1)?;
        if pads.iter().any(|&p| p != pads[0]) {
            return Err(format!(
                "pads {pads:?}; SE Lens pools with the same padding on every side"
            ));
        }
        let kind = match (
            node.op_type(),
            attr_int(node, "count_include_pad").unwrap_or(0),
        ) {
            ("MaxPool", _) => PoolKind::Max,
            (_, 0) => PoolKind::Avg,
            _ => PoolKind::AvgIncludePad,
        };
        if node.output.len() > 1 && !node.output[1].is_empty() {
            return Err("MaxPool's indices output is not supported".into());
        }
        let pool = Pool {
            kind,
            kernel,
            stride,
            padding: pads[0],
            ceil_mode: attr_int(node, "ceil_mode").unwrap_or(0) != 0,
        };
        let id = self.emit(Op::Pool(pool), &[x.id])?;
        Ok(vec![Val::Dyn(self.nchw(id))])
    }

    fn concat(&mut self, parts: &[Dyn], axis: usize) -> Lowered {
        let first = &parts[0];
        let fits = |d: &Dyn| {
            d.dims.len() == first.dims.len()
                && d.dims[axis].axis == Some(1)
                && d.dims
                    .iter()
                    .zip(&first.dims)
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b)
                && self.is_vector(d) == self.is_vector(first)
        };
        if !parts.iter().all(fits) {
            return Err(format!("concatenates {:?} on axis {axis}; only channels of values of one layout can be joined", parts.iter().map(sizes).collect::<Vec<_>>()));
        }
        let ids: Vec<ValueId> = parts.iter().map(|d| d.id).collect();
        let id = self.emit(Op::Concat, &ids)?;
        let mut dims = first.dims.clone();
        dims[axis].size = self.shapes[id][1];
        Ok(vec![Val::Dyn(Dyn {
            id,
            dims,
            pad: [0; 4],
        })])
    }

    /// `x` (NCHW) with its channels in reverse order: what a model that takes BGR images sees
    /// when it is fed RGB. One slice per channel, joined again.
    pub fn reverse_channels(&mut self, x: &Dyn) -> Result<Dyn, String> {
        self.origin = Origin {
            module: None,
            onnx_name: "input.bgr".into(),
        };
        let parts = (0..x.dims[1].size)
            .rev()
            .map(|c| self.channel_range(x, 1, c, 1))
            .collect::<Result<Vec<_>, _>>()?;
        match self.concat(&parts, 1)?.pop() {
            Some(Val::Dyn(reversed)) => Ok(reversed),
            _ => unreachable!("a concatenation of runtime values is one"),
        }
    }

    /// Channels `start .. start + len` of `x`, whose `axis` must be its channels.
    fn channel_range(
        &mut self,
        x: &Dyn,
        axis: usize,
        start: usize,
        len: usize,
    ) -> Result<Dyn, String> {
        if x.dims[axis].axis != Some(1) {
            return Err(format!(
                "slices axis {axis} of {:?}; only channels can be sliced",
                sizes(x)
            ));
        }
        let id = match (start, len) {
            (0, n) if n == x.dims[axis].size => x.id,
            _ => self.emit(Op::Slice { start, len }, &[x.id])?,
        };
        let mut dims = x.dims.clone();
        dims[axis].size = len;
        Ok(Dyn {
            id,
            dims,
            pad: [0; 4],
        })
    }
}

fn sizes(d: &Dyn) -> Vec<usize> {
    d.dims.iter().map(|dim| dim.size).collect()
}

/// `x` under a new shape with the same values in the same order: only size-1 axes may appear
/// or disappear, since the engine cannot move values between channels and planes.
fn reshape(x: &Dyn, target: &[usize]) -> Result<Dyn, String> {
    let mut old = x.dims.iter().filter(|d| d.size > 1);
    let mut dims = Vec::with_capacity(target.len());
    for &size in target {
        match size {
            1 => dims.push(Dim { size, axis: None }),
            _ => match old.next() {
                Some(d) if d.size == size => dims.push(*d),
                _ => return Err(reshape_error(x, target)),
            },
        }
    }
    match old.next() {
        None => Ok(Dyn { dims, ..x.clone() }),
        Some(_) => Err(reshape_error(x, target)),
    }
}

fn reshape_error(x: &Dyn, target: &[usize]) -> String {
    format!(
        "reshapes {:?} to {target:?}, which moves values between channels and planes; SE Lens runs reshapes that only add or drop size-1 axes",
        sizes(x)
    )
}

/// ONNX's Reshape target: `0` copies the input's dimension (unless `allowzero`), one `-1` is
/// inferred.
fn reshape_target(input: &[usize], shape: &[i64], allowzero: bool) -> Result<Vec<usize>, String> {
    let total: usize = input.iter().product();
    // A target's dimensions are the file's: they or their product may not fit.
    let too_large = || format!("target shape {shape:?} is too large");
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &d) in shape.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or("copies a dimension the input lacks")?),
            d if d >= 0 => out.push(usize::try_from(d).map_err(|_| too_large())?),
            _ => return Err(format!("target shape {shape:?} is not valid")),
        }
    }
    let known = out
        .iter()
        .try_fold(1usize, |p, &d| p.checked_mul(d))
        .ok_or_else(too_large)?;
    match infer {
        Some(i) if known != 0 && total.is_multiple_of(known) => out[i] = total / known,
        Some(_) => return Err(format!("cannot infer {shape:?} for {input:?}")),
        None if known != total => return Err(format!("cannot reshape {input:?} to {shape:?}")),
        None => {}
    }
    Ok(out)
}

/// Explicit `[top, left, bottom, right]` padding from `pads` or `auto_pad`, for a `[h, w]`
/// input (SAME_* depends on the input size, known here).
fn padding(
    node: &NodeProto,
    [h, w]: [usize; 2],
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Result<[usize; 4], String> {
    let same = |size: usize, lower: bool| {
        let span = dilation * (kernel - 1) + 1;
        let total = ((size.div_ceil(stride) - 1) * stride + span).saturating_sub(size);
        let small = total / 2;
        match lower {
            true => (total - small, small),
            false => (small, total - small),
        }
    };
    match attr_str(node, "auto_pad").unwrap_or("NOTSET") {
        "SAME_UPPER" | "SAME_LOWER" => {
            let lower = attr_str(node, "auto_pad") == Some("SAME_LOWER");
            let ((top, bottom), (left, right)) = (same(h, lower), same(w, lower));
            Ok([top, left, bottom, right])
        }
        "VALID" => Ok([0; 4]),
        "NOTSET" | "" => match attr_ints(node, "pads") {
            None => Ok([0; 4]),
            Some(p) if p.len() == 4 => {
                let p = tensor::dims(p)?;
                Ok([p[0], p[1], p[2], p[3]])
            }
            Some(p) => Err(format!("pads {p:?} are not for two spatial axes")),
        },
        other => Err(format!("auto_pad '{other}' is not valid")),
    }
}

/// Slice's `(axis, indices)` per sliced axis, from its inputs (opset ≥ 10) or attributes.
fn slice_ranges(
    node: &NodeProto,
    shape: &[usize],
    input: impl Fn(usize) -> Result<Option<Vec<i64>>, String>,
) -> Result<Vec<(usize, Vec<usize>)>, String> {
    let get = |attr: &str, i: usize| -> Result<Option<Vec<i64>>, String> {
        match attr_ints(node, attr) {
            Some(v) => Ok(Some(v.to_vec())),
            None => input(i),
        }
    };
    let starts = get("starts", 1)?.ok_or("has no starts")?;
    let ends = get("ends", 2)?.ok_or("has no ends")?;
    let rank = shape.len();
    let axes = match get("axes", 3)? {
        Some(a) => a
            .iter()
            .map(|&a| normalize_axis(a, rank))
            .collect::<Result<Vec<_>, _>>()?,
        None => (0..starts.len()).collect(),
    };
    let steps = input(4)?.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts, ends, axes and steps differ in length".into());
    }
    let mut ranges = Vec::new();
    for (((&start, &end), &axis), &step) in starts.iter().zip(&ends).zip(&axes).zip(&steps) {
        let size = shape[axis] as i64;
        if step == 0 {
            return Err("a step of 0".into());
        }
        let clamp =
            |v: i64, low: i64, high: i64| (if v < 0 { v + size } else { v }).clamp(low, high);
        let indices: Vec<usize> = if step > 0 {
            let (s, e) = (clamp(start, 0, size), clamp(end, 0, size));
            // (A step past usize, on wasm32, takes the first index only, as any step ≥ size.)
            let step = usize::try_from(step).unwrap_or(usize::MAX);
            (s..e).step_by(step).map(|i| i as usize).collect()
        } else {
            let (s, e) = (clamp(start, -1, size - 1), clamp(end, -1, size - 1));
            let mut v = Vec::new();
            let mut i = s;
            while i > e {
                v.push(i as usize);
                i += step;
            }
            v
        };
        ranges.push((axis, indices));
    }
    Ok(ranges)
}

/// Evaluates a node whose inputs are all constants.
fn fold(node: &NodeProto, inputs: &[Option<&Const>]) -> Result<Vec<Const>, String> {
    let at = |i: usize| -> Result<&Const, String> {
        inputs
            .get(i)
            .copied()
            .flatten()
            .ok_or_else(|| format!("input {i} is missing"))
    };
    let one = |c: Const| Ok(vec![c]);
    let op = node.op_type();
    let float = |f: fn(f64, f64) -> f64,
                 i: fn(i64, i64) -> Option<i64>|
     -> Result<Vec<Const>, String> { one(Const::binary(at(0)?, at(1)?, f, i)?) };
    match op {
        "Constant" => one(constant(node)?),
        "Identity" | "Dropout" => one(at(0)?.clone()),
        "Cast" => {
            let x = at(0)?;
            match attr_int(node, "to") {
                Some(1 | 10 | 11 | 16) => one(Const::f32(x.shape.clone(), x.to_f32())),
                Some(_) => one(Const::i64(x.shape.clone(), x.to_i64())),
                None => Err("has no target type".into()),
            }
        }
        "Add" => float(|a, b| a + b, |a, b| a.checked_add(b)),
        "Sub" => float(|a, b| a - b, |a, b| a.checked_sub(b)),
        "Mul" => float(|a, b| a * b, |a, b| a.checked_mul(b)),
        "Div" => float(|a, b| a / b, |a, b| a.checked_div(b)),
        "Pow" => float(f64::powf, |a, b| {
            u32::try_from(b).ok().and_then(|b| a.checked_pow(b))
        }),
        "Max" => float(f64::max, |a, b| Some(a.max(b))),
        "Min" => float(f64::min, |a, b| Some(a.min(b))),
        "Equal" => float(
            |a, b| f64::from(u8::from(a == b)),
            |a, b| Some(i64::from(a == b)),
        ),
        "Sqrt" => one(at(0)?.map(f64::sqrt)),
        "Neg" => match &at(0)?.data {
            tensor::Data::I64(v) => one(Const::i64(
                at(0)?.shape.clone(),
                v.iter().map(|x| -x).collect(),
            )),
            tensor::Data::F32(_) => one(at(0)?.map(|x| -x)),
        },
        "Reciprocal" => one(at(0)?.map(|x| 1.0 / x)),
        "Floor" => one(at(0)?.map(f64::floor)),
        "Ceil" => one(at(0)?.map(f64::ceil)),
        "Shape" => {
            let shape: Vec<i64> = at(0)?.shape.iter().map(|&d| d as i64).collect();
            one(Const::i64(vec![shape.len()], shape))
        }
        "Size" => one(Const::i64(vec![], vec![at(0)?.len() as i64])),
        "Gather" => one(at(0)?.gather(at(1)?, attr_int(node, "axis").unwrap_or(0))?),
        "Concat" => {
            let parts: Vec<&Const> = (0..inputs.len()).map(at).collect::<Result<_, _>>()?;
            one(Const::concat(
                &parts,
                attr_int(node, "axis").ok_or("has no axis")?,
            )?)
        }
        "Unsqueeze" | "Squeeze" => {
            let x = at(0)?;
            let axes = match attr_ints(node, "axes") {
                Some(a) => Some(a.to_vec()),
                None => inputs.get(1).copied().flatten().map(Const::to_i64),
            };
            let mut shape = x.shape.clone();
            if op == "Unsqueeze" {
                let rank = shape.len() + axes.as_ref().map_or(0, Vec::len);
                let mut at: Vec<usize> = axes
                    .ok_or("has no axes")?
                    .iter()
                    .map(|&a| normalize_axis(a, rank))
                    .collect::<Result<_, _>>()?;
                at.sort_unstable();
                at.into_iter().for_each(|i| shape.insert(i, 1));
            } else {
                let rank = shape.len();
                let drop: Vec<usize> = match axes {
                    Some(a) => a
                        .iter()
                        .map(|&a| normalize_axis(a, rank))
                        .collect::<Result<_, _>>()?,
                    None => (0..rank).filter(|&i| shape[i] == 1).collect(),
                };
                shape = shape
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !drop.contains(i))
                    .map(|(_, d)| d)
                    .collect();
            }
            one(x.clone().reshaped(shape)?)
        }
        "Reshape" => {
            let x = at(0)?;
            let target = reshape_target(
                &x.shape,
                &at(1)?.to_i64(),
                attr_int(node, "allowzero") == Some(1),
            )?;
            one(x.clone().reshaped(target)?)
        }
        "Flatten" => {
            let x = at(0)?;
            let axis = attr_int(node, "axis").unwrap_or(1);
            let axis = if axis == x.shape.len() as i64 {
                x.shape.len()
            } else {
                normalize_axis(axis, x.shape.len())?
            };
            let shape = vec![
                x.shape[..axis].iter().product(),
                x.shape[axis..].iter().product(),
            ];
            one(x.clone().reshaped(shape)?)
        }
        "Transpose" => {
            let x = at(0)?;
            let perm: Vec<usize> = match attr_ints(node, "perm") {
                Some(p) => tensor::dims(p)?,
                None => (0..x.shape.len()).rev().collect(),
            };
            one(x.transposed(&perm)?)
        }
        "Slice" => {
            let x = at(0)?;
            let ranges = slice_ranges(node, &x.shape, |i| {
                Ok(inputs.get(i).copied().flatten().map(Const::to_i64))
            })?;
            let mut out = x.clone();
            for (axis, range) in ranges {
                out = out.sliced(axis, &range);
            }
            one(out)
        }
        "ConstantOfShape" => {
            let shape = tensor::dims(&at(0)?.to_i64())?;
            tensor::element_count(&shape)?;
            let value = match attr(node, "value").and_then(|a| a.t.as_ref()) {
                Some(t) => tensor::decode(
                    t,
                    &mut |_| Err("external data in an attribute".into()),
                    &mut HashMap::new(),
                )?,
                None => Const::f32(vec![1], vec![0.0]),
            };
            one(value.reshaped(vec![1])?.broadcast_to(&shape))
        }
        "Expand" => {
            let x = at(0)?;
            let target = tensor::dims(&at(1)?.to_i64())?;
            let shape = broadcast_shape(&x.shape, &target)?;
            tensor::element_count(&shape)?;
            one(x.broadcast_to(&shape))
        }
        "Range" => {
            let (start, limit, delta) = (at(0)?, at(1)?, at(2)?);
            let [s, l, d] = [start, limit, delta].map(|c| c.uniform().unwrap_or(0.0));
            if d == 0.0 {
                return Err("a Range with delta 0".into());
            }
            let n = ((l - s) / d).ceil().max(0.0) as usize;
            tensor::element_count(&[n])?;
            let values = (0..n).map(|i| s + i as f64 * d);
            match start.is_float() {
                true => one(Const::f32(vec![n], values.map(|v| v as f32).collect())),
                false => one(Const::i64(vec![n], values.map(|v| v as i64).collect())),
            }
        }
        "Where" => {
            let (cond, a, b) = (at(0)?, at(1)?, at(2)?);
            let shape = broadcast_shape(&broadcast_shape(&cond.shape, &a.shape)?, &b.shape)?;
            tensor::element_count(&shape)?;
            let c = cond.broadcast_to(&shape).to_i64();
            let (a, b) = (a.broadcast_to(&shape), b.broadcast_to(&shape));
            match (&a.data, &b.data) {
                (tensor::Data::I64(x), tensor::Data::I64(y)) => one(Const::i64(
                    shape,
                    c.iter()
                        .zip(x.iter().zip(y))
                        .map(|(&c, (&x, &y))| if c != 0 { x } else { y })
                        .collect(),
                )),
                _ => {
                    let (x, y) = (a.to_f32(), b.to_f32());
                    one(Const::f32(
                        shape,
                        c.iter()
                            .zip(x.iter().zip(&y))
                            .map(|(&c, (&x, &y))| if c != 0 { x } else { y })
                            .collect(),
                    ))
                }
            }
        }
        _ => Err("is not an op SE Lens folds on constants".into()),
    }
}

/// A `Constant` node's value.
fn constant(node: &NodeProto) -> Result<Const, String> {
    let a = node.attribute.first().ok_or("has no value")?;
    match a.name() {
        "value" => tensor::decode(
            a.t.as_ref().ok_or("has no tensor")?,
            &mut |_| Err("external data in a Constant node".into()),
            &mut HashMap::new(),
        ),
        "value_float" => Ok(Const::f32(vec![], vec![a.f()])),
        "value_floats" => Ok(Const::f32(vec![a.floats.len()], a.floats.clone())),
        "value_int" => Ok(Const::i64(vec![], vec![a.i()])),
        "value_ints" => Ok(Const::i64(vec![a.ints.len()], a.ints.clone())),
        other => Err(format!("a constant given as {other} is not supported")),
    }
}

fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(AttributeProto::i)
}

fn attr_float(node: &NodeProto, name: &str) -> Option<f32> {
    attr(node, name).map(AttributeProto::f)
}

fn attr_ints<'n>(node: &'n NodeProto, name: &str) -> Option<&'n [i64]> {
    attr(node, name).map(|a| a.ints.as_slice())
}

fn attr_str<'n>(node: &'n NodeProto, name: &str) -> Option<&'n str> {
    attr(node, name).and_then(|a| std::str::from_utf8(a.s()).ok())
}
