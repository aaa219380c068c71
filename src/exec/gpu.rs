//! The GPU backend of the executor: each op recorded into one command buffer of an
//! [`Encoder`], one submission per run, only the taps and the logits read back.

use std::rc::Rc;
use std::sync::Arc;

use super::{Execution, Ops};
use crate::engine::graph::{BinaryOp, Graph, NodeId, Op};
use crate::engine::{Activation, Conv2d, Linear, Pool, RunOptions, RunOutput, Tensor};
use crate::gpu::{Encoder, GpuContext, GpuConv, GpuDense, GpuError, GpuTensor};

/// A graph whose weights live on the GPU, uploaded once.
pub struct GpuGraph {
    context: Rc<GpuContext>,
    graph: Arc<Graph>,
    /// Per node: its weights on the device, if it has any.
    weights: Vec<Weights>,
}

enum Weights {
    None,
    Conv(GpuConv),
    Dense(GpuDense),
}

impl GpuGraph {
    /// Uploads every weight of `graph` to `context`'s device.
    pub async fn upload(context: Rc<GpuContext>, graph: Arc<Graph>) -> Result<Self, GpuError> {
        context.check_alive()?;
        let device = &context.device;
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let weights = graph
            .nodes
            .iter()
            .map(|node| match &node.op {
                Op::Conv { conv, .. } => GpuConv::upload(&context, conv).map(Weights::Conv),
                Op::Linear(linear) => {
                    GpuDense::upload(&context, &linear.weight, &linear.bias).map(Weights::Dense)
                }
                _ => Ok(Weights::None),
            })
            .collect::<Result<Vec<_>, GpuError>>();
        let (invalid, out_of_memory) = (validation.pop(), memory.pop());
        if let Some(error) = invalid.await.or(out_of_memory.await) {
            return Err(GpuError::Rejected(error.to_string()));
        }
        Ok(Self {
            context,
            graph,
            weights: weights?,
        })
    }

    pub fn context(&self) -> &GpuContext {
        &self.context
    }

    /// One forward pass in one submission. The result passes a sanity check (finite logits,
    /// finite gates, gates of a sigmoid-like gate function inside [0, 1]) or is an error.
    pub async fn forward(
        &self,
        input: &Tensor,
        options: &RunOptions,
    ) -> Result<RunOutput, GpuError> {
        self.context.check_alive()?;
        let ops = GpuOps {
            encoder: self.context.encoder(),
            weights: &self.weights,
        };
        let (ops, pending) = Execution::new(&self.graph, ops, input, options)?.run_to_end()?;
        let tensors = ops.encoder.finish().await?;
        let output = pending.output(tensors).map_err(GpuError::Readback)?;
        sanity_check(&self.graph, &output, options)?;
        Ok(output)
    }
}

struct GpuOps<'a> {
    encoder: Encoder<'a>,
    weights: &'a [Weights],
}

impl Ops for GpuOps<'_> {
    type Tensor = GpuTensor;
    type Error = GpuError;

    fn upload(&mut self, tensor: &Tensor) -> Result<GpuTensor, GpuError> {
        self.encoder.upload(tensor)
    }

    fn copy(&mut self, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.encoder.copy(x)
    }

    fn read(&mut self, x: GpuTensor) {
        self.encoder.read(x);
    }

    fn conv(
        &mut self,
        node: NodeId,
        _: &Conv2d,
        act: Activation,
        x: &GpuTensor,
    ) -> Result<GpuTensor, GpuError> {
        let Weights::Conv(conv) = &self.weights[node] else {
            unreachable!("every convolution node was uploaded")
        };
        self.encoder.conv2d(x, conv, act)
    }

    fn conv_squeezed(
        &mut self,
        node: NodeId,
        conv: &Conv2d,
        act: Activation,
        x: &GpuTensor,
    ) -> Result<(GpuTensor, GpuTensor), GpuError> {
        let y = self.conv(node, conv, act, x)?;
        let mean = self.encoder.global_avg_pool(&y)?;
        Ok((y, mean))
    }

    fn pool(&mut self, pool: &Pool, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.encoder.pool2d(x, pool)
    }

    fn global_avg_pool(&mut self, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.encoder.global_avg_pool(x)
    }

    fn global_max_pool(&mut self, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.encoder.global_max_pool(x)
    }

    fn linear(
        &mut self,
        node: NodeId,
        linear: &Linear,
        x: &GpuTensor,
    ) -> Result<GpuTensor, GpuError> {
        let Weights::Dense(dense) = &self.weights[node] else {
            unreachable!("every linear node was uploaded")
        };
        self.encoder.dense(x, dense, linear.act)
    }

    fn act(&mut self, act: Activation, x: GpuTensor) -> Result<GpuTensor, GpuError> {
        if act != Activation::None {
            self.encoder.activation(&x, act)?;
        }
        Ok(x)
    }

    fn binary(&mut self, op: BinaryOp, a: GpuTensor, b: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.encoder.binary(op, &a, b, Activation::None)?;
        Ok(a)
    }

    fn scale_add_act(
        &mut self,
        x: GpuTensor,
        gate: Option<&GpuTensor>,
        skip: Option<&GpuTensor>,
        act: Activation,
    ) -> Result<GpuTensor, GpuError> {
        match (gate, skip) {
            (gate, Some(skip)) => self.encoder.scale_add_act(&x, gate, skip, act)?,
            (Some(gate), None) => self.encoder.binary(BinaryOp::Mul, &x, gate, act)?,
            (None, None) => return self.act(act, x),
        }
        Ok(x)
    }

    fn concat(&mut self, parts: &[&GpuTensor]) -> Result<GpuTensor, GpuError> {
        self.encoder.concat(parts)
    }

    fn upsample(&mut self, x: &GpuTensor, factor: [usize; 2]) -> Result<GpuTensor, GpuError> {
        self.encoder.upsample(x, factor)
    }

    fn slice(&mut self, x: &GpuTensor, start: usize, len: usize) -> Result<GpuTensor, GpuError> {
        self.encoder.slice_channels(x, start, len)
    }

    fn resize_nearest(&mut self, x: &GpuTensor, like: &GpuTensor) -> Result<GpuTensor, GpuError> {
        let [_, _, height, width] = like.shape;
        self.encoder.resize_nearest(x, [height, width])
    }

    fn reflect_pad(&mut self, x: &GpuTensor, pad: usize) -> Result<GpuTensor, GpuError> {
        self.encoder.reflect_pad(x, pad)
    }

    fn channel_shuffle(&mut self, x: &GpuTensor, groups: usize) -> Result<GpuTensor, GpuError> {
        self.encoder.channel_shuffle(x, groups)
    }

    fn softmax(&mut self, x: &GpuTensor) -> Result<GpuTensor, GpuError> {
        self.encoder.softmax(x)
    }
}

/// Whether the gates of `output` are what their gate functions can give: finite, and inside
/// [0, 1] for a sigmoid or hard sigmoid (unless overridden).
fn sanity_check(graph: &Graph, output: &RunOutput, options: &RunOptions) -> Result<(), GpuError> {
    if let Some(bad) = output.logits.iter().find(|v| !v.is_finite()) {
        return Err(GpuError::Insane(format!("a logit is {bad}")));
    }
    for (tap, se) in output.excitations.iter().zip(&graph.se_blocks) {
        let bounded = !options.gate_overrides.contains_key(&tap.block)
            && graph.gate_function(se).is_some_and(Activation::is_bounded);
        if let Some(bad) = tap
            .values
            .iter()
            .find(|&&g| !g.is_finite() || (bounded && !(0.0..=1.0).contains(&g)))
        {
            return Err(GpuError::Insane(format!(
                "a gate of {} is {bad}",
                tap.block
            )));
        }
    }
    Ok(())
}
