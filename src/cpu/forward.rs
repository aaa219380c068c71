use super::squeeze_excite::{dense, excitation, scale_add_relu};
use super::{conv2d, global_avg_pool, pool2d};
use crate::engine::{ExcitationTap, GateOverride, Layer, Network, RunOptions, RunOutput, Tensor};

/// Runs `network` on `input` (`[N, C, H, W]`, already normalised) on the CPU.
pub fn forward(network: &Network, input: &Tensor, options: &RunOptions) -> RunOutput {
    let batch = input.shape[0];
    let mut x = run_layers(&network.stem, input.clone());
    let mut excitations = Vec::new();
    for block in &network.blocks {
        let shortcut = if block.shortcut.is_empty() {
            x.clone()
        } else {
            run_layers(&block.shortcut, x.clone())
        };
        let mut y = run_layers(&block.body, x);
        let gates = block
            .se
            .as_ref()
            .map(|se| match options.gate_overrides.get(&se.name) {
                None => excitation(&y, se),
                Some(GateOverride::Ones) => vec![1.0; batch * se.channels],
                Some(GateOverride::Values(gate)) => gate.repeat(batch),
            });
        scale_add_relu(&mut y, gates.as_deref(), &shortcut);
        if let (Some(se), Some(values)) = (&block.se, gates) {
            excitations.push(ExcitationTap {
                block: se.name.clone(),
                values,
            });
        }
        x = y;
    }
    let pooled = global_avg_pool(&x);
    let head = &network.head;
    let logits = pooled
        .data
        .chunks_exact(head.in_features)
        .flat_map(|features| dense(&head.weight, &head.bias, features).collect::<Vec<_>>())
        .collect();
    RunOutput {
        logits,
        excitations,
    }
}

fn run_layers(layers: &[Layer], mut x: Tensor) -> Tensor {
    for layer in layers {
        x = match layer {
            Layer::Conv { conv, relu } => conv2d(&x, conv, *relu),
            Layer::Pool(pool) => pool2d(&x, pool),
        };
    }
    x
}
