//! ONNX files → the engine's graph, with their SE blocks found by what they compute.
//!
//! A file is decoded with the messages of ONNX's own `onnx.proto` (`proto/`, compiled by
//! `build.rs`), its nodes lowered one by one for one input size (`lower`: the shape arithmetic
//! exporters write is folded, layouts are tracked), its SE blocks recognised (`se`) and named by
//! the module path the exporter kept (`names`), and the result optimised like a timm model's.

mod lower;
mod names;
mod se;
mod tensor;

/// The messages of `proto/onnx.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub(crate) mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

use std::collections::HashMap;

use prost::Message;

use crate::engine::graph::{GraphBuilder, Stage};
use crate::engine::{passes, Graph, SeBlock};
use lower::{Dim, Dyn, Lowering, Val};
pub use tensor::External;

/// The oldest and newest default-domain opsets read (the ops' attribute → input moves between
/// them are all handled).
pub const OPSETS: std::ops::RangeInclusive<i64> = 7..=25;

/// The input side used when a file leaves its height and width open and none is chosen.
pub const DEFAULT_SIDE: usize = 224;

/// An imported file: its graph (optimised, SE blocks annotated) and what it says about itself.
#[derive(Debug)]
pub struct OnnxModel {
    pub graph: Graph,
    /// `[channels, height, width]` the graph was lowered for.
    pub input_size: [usize; 3],
    /// The file leaves its input's height and width open.
    pub open_size: bool,
    /// The file ends in a Softmax: its output is probabilities, not logits.
    pub probabilities: bool,
    /// `metadata_props`, as written.
    pub metadata: Vec<(String, String)>,
    pub opset: i64,
    /// The graph's name and, by SE block, the name of the node that computes its gate (the
    /// sigmoid): what graph viewers key node data by ([`OnnxInfo::gate_nodes`]).
    pub graph_name: String,
    pub gate_nodes: Vec<(String, String)>,
}

/// Why a file cannot be run. Every message names the culprit: the file, or the node, its op and
/// the opset.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("not an ONNX model ({0})")]
    Decode(String),
    #[error("{0}")]
    Model(String),
    #[error("node '{node}' ({op}, opset {opset}) {message}")]
    Node {
        node: String,
        op: String,
        opset: i64,
        message: String,
    },
}

/// Imports an ONNX model. `size` is the input's `[height, width]` when the file leaves them
/// open (default 224×224); `bgr`: the model takes its channels in B, G, R order (the graph
/// then reverses the RGB images SE Lens feeds it); `external` reads an external-data file by
/// its location.
pub fn import(
    bytes: &[u8],
    external: &mut External<'_>,
    size: Option<[usize; 2]>,
    bgr: bool,
) -> Result<OnnxModel, OnnxError> {
    let model_err = |m: String| OnnxError::Model(m);
    if bytes.is_empty() {
        return Err(OnnxError::Decode("the file is empty".into()));
    }
    let model = proto::ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| OnnxError::Decode("the file has no graph".into()))?;
    let graph_name = graph.name().to_owned();
    let opset = model
        .opset_import
        .iter()
        .find(|o| matches!(o.domain(), "" | "ai.onnx"))
        .map(|o| o.version())
        .ok_or_else(|| model_err("the model imports no default-domain opset".into()))?;
    if !OPSETS.contains(&opset) {
        return Err(model_err(format!(
            "opset {opset} is outside the {}–{} SE Lens reads",
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    let nodes = sorted(graph)?;

    let mut cache = HashMap::new();
    let mut constants = HashMap::new();
    for init in &graph.initializer {
        let value = tensor::decode(init, external, &mut cache)
            .map_err(|e| model_err(format!("initializer '{}': {e}", init.name())))?;
        constants.insert(init.name().to_owned(), value);
    }
    drop(cache);

    let (input_name, input_shape, channels_last, open_size) = image_input(graph, &constants, size)?;
    let [_, channels, height, width] = input_shape;
    let mut lowering = Lowering::new(GraphBuilder::new(channels), input_shape, opset, &nodes);
    let mut input = lowering.nchw(0);
    if bgr {
        input = lowering
            .reverse_channels(&input)
            .map_err(|e| model_err(format!("the input's channels cannot be reversed: {e}")))?;
    }
    if channels_last {
        let [n, c, h, w] = input.dims[..] else {
            unreachable!("four axes")
        };
        input.dims = vec![n, h, w, c];
    }
    lowering.env.insert(input_name, Val::Dyn(input));
    for (name, value) in constants {
        lowering
            .env
            .insert(name, Val::Const(std::rc::Rc::new(value)));
    }
    for node in &nodes {
        if !matches!(node.domain(), "" | "ai.onnx") {
            return Err(node_error(
                node,
                opset,
                format!(
                    "is in domain '{}', which SE Lens does not run",
                    node.domain()
                ),
            ));
        }
        lowering
            .lower(node)
            .map_err(|message| node_error(node, opset, message))?;
    }

    let output_name = match &graph.output[..] {
        [] => return Err(model_err("the graph has no output".into())),
        [first, ..] => first.name(),
    };
    let output = match lowering.env.get(output_name) {
        Some(Val::Dyn(d)) => d.clone(),
        Some(Val::Const(_)) => {
            return Err(model_err(format!(
                "the output '{output_name}' is a constant"
            )))
        }
        None => {
            return Err(model_err(format!(
                "the output '{output_name}' is never computed"
            )))
        }
    };
    check_output(&lowering, &output, output_name)?;
    let probabilities = lowering
        .builder
        .graph()
        .nodes
        .iter()
        .any(|n| matches!(n.op, crate::engine::Op::Softmax) && n.outputs.contains(&output.id));

    let origins = std::mem::take(&mut lowering.origins);
    let mut graph = lowering.builder.finish(output.id);
    let gate_nodes = annotate_se_blocks(&mut graph, &origins);
    graph
        .check_input(input_shape)
        .map_err(|e| model_err(format!("the graph does not fit its input: {e}")))?;
    Ok(OnnxModel {
        graph: passes::optimize(graph),
        input_size: [channels, height, width],
        open_size,
        probabilities,
        metadata: model
            .metadata_props
            .iter()
            .map(|p| (p.key().to_owned(), p.value().to_owned()))
            .collect(),
        opset,
        graph_name,
        gate_nodes,
    })
}

fn node_error(node: &proto::NodeProto, opset: i64, message: String) -> OnnxError {
    OnnxError::Node {
        node: match node.name() {
            "" => node.output.first().cloned().unwrap_or_default(),
            name => name.to_owned(),
        },
        op: node.op_type().to_owned(),
        opset,
        message,
    }
}

/// The nodes in an order where every value is computed before it is read (files are written
/// so, but a file is not trusted to be), or why there is none: a value nothing computes, a
/// cycle.
fn sorted(graph: &proto::GraphProto) -> Result<Vec<proto::NodeProto>, OnnxError> {
    let mut defined: std::collections::HashSet<&str> = graph
        .initializer
        .iter()
        .map(|t| t.name())
        .chain(graph.input.iter().map(|v| v.name()))
        .chain([""])
        .collect();
    let producers: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    for node in &graph.node {
        if let Some(missing) = node
            .input
            .iter()
            .find(|i| !defined.contains(i.as_str()) && !producers.contains_key(i.as_str()))
        {
            return Err(OnnxError::Model(format!(
                "node '{}' ({}) reads '{missing}', which nothing in the file defines",
                node.name(),
                node.op_type()
            )));
        }
    }
    let mut done = vec![false; graph.node.len()];
    let mut order = Vec::with_capacity(graph.node.len());
    // Repeated passes in file order: one pass for a sorted file.
    while order.len() < graph.node.len() {
        let before = order.len();
        for (i, node) in graph.node.iter().enumerate() {
            if !done[i] && node.input.iter().all(|v| defined.contains(v.as_str())) {
                done[i] = true;
                defined.extend(node.output.iter().map(String::as_str));
                order.push(node.clone());
            }
        }
        if order.len() == before {
            let stuck = graph
                .node
                .iter()
                .zip(&done)
                .find(|(_, d)| !**d)
                .map(|(n, _)| n);
            let name = stuck.map_or("?", |n| n.name());
            return Err(OnnxError::Model(format!(
                "the graph has a cycle: node '{name}' depends on its own output"
            )));
        }
    }
    Ok(order)
}

/// The image input: its name, the `[1, C, H, W]` it is lowered for, and whether the file holds
/// it channels-last (NHWC).
fn image_input(
    graph: &proto::GraphProto,
    constants: &HashMap<String, tensor::Const>,
    size: Option<[usize; 2]>,
) -> Result<(String, [usize; 4], bool, bool), OnnxError> {
    let model_err = |m: String| OnnxError::Model(m);
    let inputs: Vec<&proto::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|v| !constants.contains_key(v.name()))
        .collect();
    let [input] = inputs[..] else {
        return Err(model_err(format!(
            "the graph has {} inputs ({}); SE Lens runs models with one image input",
            inputs.len(),
            inputs
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let tensor_type = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(proto::type_proto::Value::TensorType(t)) => t,
        _ => {
            return Err(model_err(format!(
                "input '{}' is not a tensor",
                input.name()
            )))
        }
    };
    if tensor_type.elem_type() != proto::tensor_proto::DataType::Float as i32 {
        return Err(model_err(format!(
            "input '{}' has element type {}; SE Lens feeds float32 images",
            input.name(),
            tensor_type.elem_type()
        )));
    }
    let dims: Vec<Option<usize>> = tensor_type
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(proto::tensor_shape_proto::dimension::Value::DimValue(v)) => {
                        usize::try_from(v).ok()
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let [_, d1, d2, d3] = dims[..] else {
        return Err(model_err(format!(
            "input '{}' has {} axes; SE Lens feeds images as [N, C, H, W] (or [N, H, W, C])",
            input.name(),
            dims.len()
        )));
    };
    let image_channels = |d: Option<usize>| matches!(d, Some(1 | 3));
    let (channels, (h, w), channels_last) =
        if image_channels(d1) || (d1.is_some() && !image_channels(d3)) {
            (d1.expect("static"), (d2, d3), false)
        } else if image_channels(d3) {
            (d3.expect("static"), (d1, d2), true)
        } else {
            return Err(model_err(format!(
                "input '{}' has no fixed channel count ({dims:?})",
                input.name()
            )));
        };
    let open_size = h.is_none() || w.is_none();
    let [height, width] = match (h, w) {
        (Some(h), Some(w)) => [h, w],
        _ => size.unwrap_or([DEFAULT_SIDE; 2]),
    };
    let largest = crate::model::PretrainedCfg::MAX_SIDE;
    if !(1..=largest).contains(&height) || !(1..=largest).contains(&width) || channels == 0 {
        return Err(model_err(format!(
            "input '{}' is {channels}×{height}×{width}; SE Lens runs 1 to {largest} pixels a side",
            input.name()
        )));
    }
    Ok((
        input.name().to_owned(),
        [1, channels, height, width],
        channels_last,
        open_size,
    ))
}

/// The output must be one score per class: `[N, K]` or `[N, K, 1, 1]`.
fn check_output(lowering: &Lowering<'_>, output: &Dyn, name: &str) -> Result<(), OnnxError> {
    let info = lowering.builder.info(output.id);
    let only_classes = output
        .dims
        .iter()
        .all(|d: &Dim| d.size == 1 || d.axis == Some(1));
    match info.vector && only_classes {
        true => Ok(()),
        false => Err(OnnxError::Model(format!(
            "the output '{name}' is a {:?} tensor; SE Lens shows classifiers, whose output is [N, classes]",
            output.dims.iter().map(|d| d.size).collect::<Vec<_>>()
        ))),
    }
}

/// Annotates every SE block [`se::find`] sees, named by its module path, else by its gate's
/// node, else `se.<k>`; each ends a stage of progress. Returns the name of each block's gate
/// node, by block, where the file names it.
fn annotate_se_blocks(graph: &mut Graph, origins: &[lower::Origin]) -> Vec<(String, String)> {
    let found = se::find(graph);
    let mut blocks: Vec<SeBlock> = Vec::new();
    let mut gate_nodes = Vec::new();
    for (k, f) in found.iter().enumerate() {
        let gate_node = graph.nodes.iter().position(|n| n.outputs.contains(&f.gate));
        let mut name = origins[f.node]
            .module
            .clone()
            .or_else(|| {
                gate_node
                    .map(|i| origins[i].onnx_name.clone())
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| format!("se.{k}"));
        if blocks.iter().any(|b| b.name == name) {
            name = format!("{name}.{k}");
        }
        if let Some(node) = gate_node
            .map(|i| &origins[i].onnx_name)
            .filter(|n| !n.is_empty())
        {
            gate_nodes.push((name.clone(), node.clone()));
        }
        blocks.push(SeBlock {
            name,
            channels: graph.values[f.input].channels,
            input: f.input,
            gate: f.gate,
            hard_sigmoid: graph.hard_sigmoid_of(f.gate),
        });
    }
    graph.stages = found
        .iter()
        .zip(&blocks)
        .map(|(f, b)| Stage {
            name: b.name.clone(),
            end: f.node + 1,
        })
        .collect();
    match graph.stages.last_mut() {
        Some(last) => last.end = graph.nodes.len(),
        None => graph.stages.push(Stage {
            name: "graph".into(),
            end: graph.nodes.len(),
        }),
    }
    graph.se_blocks = blocks;
    gate_nodes
}
