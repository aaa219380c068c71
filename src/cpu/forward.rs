use super::parallel::on_pool;
use super::squeeze_excite::{dense, excitation, scale_add_relu};
use super::{conv2d, conv2d_squeezed, global_avg_pool, pool2d};
use crate::engine::{
    ExcitationTap, FeatureMapTap, GateOverride, Layer, Network, RunOptions, RunOutput, Tensor,
};

/// Runs `network` on `input` (`[N, C, H, W]`, already normalised) on the CPU.
pub fn forward(network: &Network, input: &Tensor, options: &RunOptions) -> RunOutput {
    on_pool(|| forward_on_pool(network, input, options))
}

fn forward_on_pool(network: &Network, input: &Tensor, options: &RunOptions) -> RunOutput {
    let batch = input.shape[0];
    let mut x = run_layers(&network.stem, input);
    let mut excitations = Vec::new();
    let mut feature_map = None;
    for block in &network.blocks {
        // The squeeze comes out of the body's last convolution (see `conv2d_squeezed`).
        let (mut y, squeezed) = match (&block.se, block.body.split_last()) {
            (Some(_), Some((Layer::Conv { conv, relu }, init))) if !init.is_empty() => {
                conv2d_squeezed(&run_layers(init, &x), conv, *relu)
            }
            (Some(_), _) => {
                let y = run_layers(&block.body, &x);
                let squeezed = global_avg_pool(&y).data;
                (y, squeezed)
            }
            (None, _) => (run_layers(&block.body, &x), Vec::new()),
        };
        // An identity shortcut reads `x` in place; only a projection makes a new tensor.
        let projected = (!block.shortcut.is_empty()).then(|| run_layers(&block.shortcut, &x));
        let shortcut = projected.as_ref().unwrap_or(&x);
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
            feature_map = Some(FeatureMapTap {
                block: se.name.clone(),
                map: y.clone(),
            });
        }
        scale_add_relu(&mut y, gates.as_deref(), shortcut);
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
        .flat_map(|features| dense(&head.weight, &head.bias, features))
        .collect();
    RunOutput {
        logits,
        excitations,
        feature_map,
    }
}

/// Applies `layers` in order; every layer reads its input by reference, so nothing is copied.
fn run_layers(layers: &[Layer], input: &Tensor) -> Tensor {
    let apply = |layer: &Layer, x: &Tensor| match layer {
        Layer::Conv { conv, relu } => conv2d(x, conv, *relu),
        Layer::Pool(pool) => pool2d(x, pool),
    };
    match layers.split_first() {
        None => input.clone(),
        Some((first, rest)) => rest
            .iter()
            .fold(apply(first, input), |x, layer| apply(layer, &x)),
    }
}
