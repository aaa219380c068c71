//! The CPU backend of the executor: each op is a `cpu` kernel on host tensors.

use super::{Execution, Ops};
use crate::cpu;
use crate::engine::graph::{BinaryOp, Graph, NodeId};
use crate::engine::{
    softmax, Activation, Conv2d, Linear, Pool, RunError, RunOptions, RunOutput, Tensor,
};

/// The CPU's side of a run: tensors in host memory, reads kept in order.
#[derive(Default)]
pub struct CpuOps {
    reads: Vec<Tensor>,
}

/// A CPU run that a single-threaded caller (the browser) steps, yielding between stages.
pub type CpuRun<'g> = Execution<'g, CpuOps>;

/// Runs `graph` on `input` (`[N, C, H, W]`, already normalised) on the CPU.
pub fn forward(graph: &Graph, input: &Tensor, options: &RunOptions) -> Result<RunOutput, RunError> {
    CpuRun::start(graph, input, options)?.finish()
}

impl<'g> CpuRun<'g> {
    pub fn start(graph: &'g Graph, input: &Tensor, options: &RunOptions) -> Result<Self, RunError> {
        Execution::new(graph, CpuOps::default(), input, options)
    }

    /// Runs any stages left and returns the output.
    pub fn finish(self) -> Result<RunOutput, RunError> {
        let (ops, pending) = self.run_to_end()?;
        Ok(pending
            .output(ops.reads)
            .expect("the CPU hands back every read"))
    }
}

#[cfg(test)]
impl CpuOps {
    /// What was read so far (for tests that wrap these ops).
    pub(super) fn reads_so_far(&self) -> &[Tensor] {
        &self.reads
    }
}

impl Ops for CpuOps {
    type Tensor = Tensor;
    type Error = RunError;

    fn upload(&mut self, tensor: &Tensor) -> Result<Tensor, RunError> {
        Ok(tensor.clone())
    }

    fn copy(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
        Ok(x.clone())
    }

    fn read(&mut self, x: Tensor) {
        self.reads.push(x);
    }

    fn free(&mut self, x: Tensor) {
        cpu::buffers::give(x.data);
    }

    fn conv(
        &mut self,
        _: NodeId,
        conv: &Conv2d,
        act: Activation,
        x: &Tensor,
    ) -> Result<Tensor, RunError> {
        Ok(cpu::conv2d(x, conv, act))
    }

    fn conv_squeezed(
        &mut self,
        _: NodeId,
        conv: &Conv2d,
        act: Activation,
        x: &Tensor,
    ) -> Result<(Tensor, Tensor), RunError> {
        let (y, means) = cpu::conv2d_squeezed(x, conv, act);
        let shape = [y.shape[0], y.shape[1], 1, 1];
        Ok((y, Tensor::new(shape, means)))
    }

    fn pool(&mut self, pool: &Pool, x: &Tensor) -> Result<Tensor, RunError> {
        Ok(cpu::pool2d(x, pool))
    }

    fn global_avg_pool(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
        Ok(cpu::global_avg_pool(x))
    }

    fn global_max_pool(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
        Ok(cpu::global_max_pool(x))
    }

    fn linear(&mut self, _: NodeId, linear: &Linear, x: &Tensor) -> Result<Tensor, RunError> {
        Ok(cpu::linear(x, linear))
    }

    fn act(&mut self, act: Activation, mut x: Tensor) -> Result<Tensor, RunError> {
        cpu::activation(&mut x, act);
        Ok(x)
    }

    fn binary(&mut self, op: BinaryOp, mut a: Tensor, b: &Tensor) -> Result<Tensor, RunError> {
        cpu::binary(&mut a, op, b);
        Ok(a)
    }

    fn scale_add_act(
        &mut self,
        mut x: Tensor,
        gate: Option<&Tensor>,
        skip: Option<&Tensor>,
        act: Activation,
    ) -> Result<Tensor, RunError> {
        cpu::scale_add_act(&mut x, gate.map(|g| &g.data[..]), skip, act);
        Ok(x)
    }

    fn concat(&mut self, parts: &[&Tensor]) -> Result<Tensor, RunError> {
        Ok(cpu::concat(parts))
    }

    fn upsample(&mut self, x: &Tensor, factor: [usize; 2]) -> Result<Tensor, RunError> {
        Ok(cpu::upsample(x, factor))
    }

    fn slice(&mut self, x: &Tensor, start: usize, len: usize) -> Result<Tensor, RunError> {
        Ok(cpu::slice_channels(x, start, len))
    }

    fn resize_nearest(&mut self, x: &Tensor, like: &Tensor) -> Result<Tensor, RunError> {
        let [_, _, height, width] = like.shape;
        Ok(cpu::resize_nearest(x, [height, width]))
    }

    fn reflect_pad(&mut self, x: &Tensor, pad: usize) -> Result<Tensor, RunError> {
        Ok(cpu::reflect_pad(x, pad))
    }

    fn channel_shuffle(&mut self, x: &Tensor, groups: usize) -> Result<Tensor, RunError> {
        Ok(cpu::channel_shuffle(x, groups))
    }

    fn softmax(&mut self, x: &Tensor) -> Result<Tensor, RunError> {
        let data = x.data.chunks_exact(x.shape[1]).flat_map(softmax).collect();
        Ok(Tensor::new(x.shape, data))
    }
}
