use super::parallel::on_pool;
use std::borrow::Cow;

use super::squeeze_excite::{dense, excitation, scale_add_act};
use super::{conv2d, conv2d_squeezed, global_avg_pool, pool2d};
use crate::engine::{
    Activation, Block, ExcitationTap, FeatureMapTap, GateOverride, Layer, Network, RunError,
    RunOptions, RunOutput, Tensor,
};

/// Runs `network` on `input` (`[N, C, H, W]`, already normalised) on the CPU.
pub fn forward(
    network: &Network,
    input: &Tensor,
    options: &RunOptions,
) -> Result<RunOutput, RunError> {
    on_pool(|| Ok(Forward::new(network, input, options)?.finish()))
}

/// A forward pass one block at a time, so a single-threaded caller (the browser) can
/// yield between blocks and show progress; [`forward`] runs it to the end.
pub struct Forward<'a> {
    network: &'a Network,
    options: &'a RunOptions,
    batch: usize,
    /// The activation after the stem and the blocks done so far.
    x: Tensor,
    done: usize,
    excitations: Vec<ExcitationTap>,
    feature_map: Option<FeatureMapTap>,
}

impl<'a> Forward<'a> {
    /// Checks `options` against the network, then runs the stem.
    pub fn new(
        network: &'a Network,
        input: &Tensor,
        options: &'a RunOptions,
    ) -> Result<Self, RunError> {
        options.check(network.gate_widths())?;
        Ok(Self {
            network,
            options,
            batch: input.shape[0],
            x: run_layers(&network.stem, input),
            done: 0,
            excitations: Vec::new(),
            feature_map: None,
        })
    }

    /// `(blocks done, blocks in all)`.
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.network.blocks.len())
    }

    /// Runs the next block; `false` once every block has run.
    pub fn step(&mut self) -> bool {
        let Some(block) = self.network.blocks.get(self.done) else {
            return false;
        };
        self.x = self.block(block);
        self.done += 1;
        true
    }

    /// Runs any blocks left, then the neck, the global pool and the head.
    pub fn finish(mut self) -> RunOutput {
        while self.step() {}
        let pooled = global_avg_pool(&run_layers(&self.network.neck, &self.x)).data;
        let logits = self.network.head.iter().fold(pooled, |x, layer| {
            x.chunks_exact(layer.in_features)
                .flat_map(|features| dense(&layer.weight, &layer.bias, features, layer.act))
                .collect()
        });
        RunOutput {
            logits,
            excitations: self.excitations,
            feature_map: self.feature_map,
        }
    }

    fn block(&mut self, block: &Block) -> Tensor {
        let (x, options, batch) = (&self.x, self.options, self.batch);
        // The squeeze comes out of the body's last convolution (see `conv2d_squeezed`).
        let (mut y, squeezed) = match (&block.se, block.body.split_last()) {
            (Some(_), Some((Layer::Conv { conv, act }, init))) => {
                let input = match init.is_empty() {
                    true => Cow::Borrowed(x),
                    false => Cow::Owned(run_layers(init, x)),
                };
                conv2d_squeezed(&input, conv, *act)
            }
            (Some(_), _) => {
                let y = run_layers(&block.body, x);
                let squeezed = global_avg_pool(&y).data;
                (y, squeezed)
            }
            (None, _) => (run_layers(&block.body, x), Vec::new()),
        };
        let gates = block
            .se
            .as_ref()
            .map(|se| match options.gate_overrides.get(&se.name) {
                None => excitation(&squeezed, se),
                Some(GateOverride::Ones) => vec![1.0; batch * se.channels],
                Some(GateOverride::Values(gate)) => gate.repeat(batch),
            });
        if let Some(se) = block
            .se
            .as_ref()
            .filter(|se| options.feature_map.as_ref() == Some(&se.name))
        {
            self.feature_map = Some(FeatureMapTap {
                block: se.name.clone(),
                map: y.clone(),
            });
        }
        // An identity shortcut reads `x` in place; only a projection makes a new tensor.
        let projected = block
            .residual
            .as_ref()
            .filter(|residual| !residual.projection.is_empty())
            .map(|residual| run_layers(&residual.projection, x));
        let shortcut = block
            .residual
            .as_ref()
            .map(|_| projected.as_ref().unwrap_or(x));
        let act = block.residual.as_ref().map_or(Activation::None, |r| r.act);
        if block.tail.is_empty() {
            // ResNet: scale, add and ReLU in one pass.
            if gates.is_some() || shortcut.is_some() {
                scale_add_act(&mut y, gates.as_deref(), shortcut, act);
            }
        } else {
            if let Some(gates) = &gates {
                scale_add_act(&mut y, Some(gates), None, Activation::None);
            }
            y = run_layers(&block.tail, &y);
            if shortcut.is_some() {
                scale_add_act(&mut y, None, shortcut, act);
            }
        }
        if let (Some(se), Some(values)) = (&block.se, gates) {
            self.excitations.push(ExcitationTap {
                block: se.name.clone(),
                values,
            });
        }
        y
    }
}

/// Applies `layers` in order; every layer reads its input by reference, so nothing is copied.
fn run_layers(layers: &[Layer], input: &Tensor) -> Tensor {
    let apply = |layer: &Layer, x: &Tensor| match layer {
        Layer::Conv { conv, act } => conv2d(x, conv, *act),
        Layer::Pool(pool) => pool2d(x, pool),
    };
    match layers.split_first() {
        None => input.clone(),
        Some((first, rest)) => rest
            .iter()
            .fold(apply(first, input), |x, layer| apply(layer, &x)),
    }
}
