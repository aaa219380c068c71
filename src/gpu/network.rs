use std::rc::Rc;

use super::{Encoder, GpuContext, GpuConv, GpuDense, GpuError, GpuTensor};
use crate::engine::{
    Activation, ExcitationTap, FeatureMapTap, GateOverride, Layer, Network, Pool, RunOptions,
    RunOutput, Tensor,
};

/// A network whose weights live on the GPU, uploaded once; twin of `cpu::forward`.
pub struct GpuModel {
    context: Rc<GpuContext>,
    stem: Vec<GpuLayer>,
    blocks: Vec<GpuBlock>,
    neck: Vec<GpuLayer>,
    head: Vec<(GpuDense, Activation)>,
}

enum GpuLayer {
    Conv { conv: GpuConv, act: Activation },
    Pool(Pool),
}

/// Twin of `engine::Block`.
struct GpuBlock {
    body: Vec<GpuLayer>,
    se: Option<GpuSqueezeExcite>,
    tail: Vec<GpuLayer>,
    /// The projection (empty: identity) and the activation after the add.
    residual: Option<(Vec<GpuLayer>, Activation)>,
}

struct GpuSqueezeExcite {
    name: String,
    channels: usize,
    fc1: GpuDense,
    act: Activation,
    fc2: GpuDense,
    gate: Activation,
}

impl GpuModel {
    /// Uploads every weight of `network` to `context`'s device.
    pub async fn upload(context: Rc<GpuContext>, network: &Network) -> Result<Self, GpuError> {
        context.check_alive()?;
        let device = &context.device;
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let uploaded = Self::upload_weights(&context, network);
        let (invalid, out_of_memory) = (validation.pop(), memory.pop());
        if let Some(error) = invalid.await.or(out_of_memory.await) {
            return Err(GpuError::Rejected(error.to_string()));
        }
        uploaded
    }

    fn upload_weights(context: &Rc<GpuContext>, network: &Network) -> Result<Self, GpuError> {
        let layers = |layers: &[Layer]| -> Result<Vec<GpuLayer>, GpuError> {
            layers
                .iter()
                .map(|layer| match layer {
                    Layer::Conv { conv, act } => Ok(GpuLayer::Conv {
                        conv: GpuConv::upload(context, conv)?,
                        act: *act,
                    }),
                    Layer::Pool(pool) => Ok(GpuLayer::Pool(*pool)),
                })
                .collect()
        };
        let blocks = network
            .blocks
            .iter()
            .map(|block| {
                let se = match &block.se {
                    None => None,
                    Some(se) => Some(GpuSqueezeExcite {
                        name: se.name.clone(),
                        channels: se.channels,
                        fc1: GpuDense::upload(context, &se.fc1_weight, &se.fc1_bias)?,
                        act: se.act,
                        fc2: GpuDense::upload(context, &se.fc2_weight, &se.fc2_bias)?,
                        gate: se.gate,
                    }),
                };
                let residual = match &block.residual {
                    None => None,
                    Some(residual) => Some((layers(&residual.projection)?, residual.act)),
                };
                Ok(GpuBlock {
                    body: layers(&block.body)?,
                    se,
                    tail: layers(&block.tail)?,
                    residual,
                })
            })
            .collect::<Result<_, GpuError>>()?;
        Ok(Self {
            context: Rc::clone(context),
            stem: layers(&network.stem)?,
            blocks,
            neck: layers(&network.neck)?,
            head: network
                .head
                .iter()
                .map(|layer| {
                    Ok((
                        GpuDense::upload(context, &layer.weight, &layer.bias)?,
                        layer.act,
                    ))
                })
                .collect::<Result<_, GpuError>>()?,
        })
    }

    pub fn context(&self) -> &GpuContext {
        &self.context
    }

    /// One forward pass: every op recorded into one submission; only the logits, the gates and
    /// the feature map `options` asks for come back. The result passes a sanity check
    /// (finite logits, finite gates, sigmoid gates inside [0, 1]) or is an error.
    pub async fn forward(
        &self,
        input: &Tensor,
        options: &RunOptions,
    ) -> Result<RunOutput, GpuError> {
        let widths = self
            .blocks
            .iter()
            .filter_map(|block| block.se.as_ref())
            .map(|se| (se.name.as_str(), se.channels));
        options.check(widths)?;
        self.context.check_alive()?;
        let batch = input.shape[0];
        let mut encoder = self.context.encoder();
        let mut x = {
            let input = encoder.upload(input)?;
            run_layers(&mut encoder, &self.stem, &input)?
        };
        let mut taps = Vec::new();
        let mut feature_map = None;
        for block in &self.blocks {
            let mut y = run_layers(&mut encoder, &block.body, &x)?;
            let gates = match &block.se {
                None => None,
                Some(se) => Some(excitation(&mut encoder, se, &y, batch, options)?),
            };
            if let Some(se) = block
                .se
                .as_ref()
                .filter(|se| options.feature_map.as_ref() == Some(&se.name))
            {
                feature_map = Some((se.name.clone(), encoder.copy(&y)?));
            }
            let projected = match &block.residual {
                Some((projection, _)) if !projection.is_empty() => {
                    Some(run_layers(&mut encoder, projection, &x)?)
                }
                _ => None,
            };
            let shortcut = block
                .residual
                .as_ref()
                .map(|(_, act)| (projected.as_ref().unwrap_or(&x), *act));
            if block.tail.is_empty() {
                match shortcut {
                    // ResNet: scale, add and ReLU in one pass.
                    Some((skip, act)) => encoder.scale_add_act(&y, gates.as_ref(), skip, act)?,
                    None => {
                        if let Some(gates) = &gates {
                            encoder.scale(&y, gates)?;
                        }
                    }
                }
            } else {
                if let Some(gates) = &gates {
                    encoder.scale(&y, gates)?;
                }
                y = run_layers(&mut encoder, &block.tail, &y)?;
                if let Some((skip, act)) = shortcut {
                    encoder.scale_add_act(&y, None, skip, act)?;
                }
            }
            if let (Some(se), Some(gates)) = (&block.se, gates) {
                taps.push((se.name.clone(), gates));
            }
            x = y;
        }
        if !self.neck.is_empty() {
            x = run_layers(&mut encoder, &self.neck, &x)?;
        }
        let mut logits = encoder.global_avg_pool(&x)?;
        for (layer, act) in &self.head {
            logits = encoder.dense(&logits, layer, *act)?;
        }
        encoder.read(logits);
        let tap_names: Vec<String> = taps.iter().map(|(name, _)| name.clone()).collect();
        for (_, gates) in taps {
            encoder.read(gates);
        }
        let map_block = feature_map.map(|(name, map)| {
            encoder.read(map);
            name
        });

        let mut results = encoder.finish().await?.into_iter();
        let mut next = || {
            results
                .next()
                .ok_or_else(|| GpuError::Readback("a result is missing".into()))
        };
        let logits = next()?.data;
        let excitations = tap_names
            .into_iter()
            .map(|block| {
                Ok(ExcitationTap {
                    values: next()?.data,
                    block,
                })
            })
            .collect::<Result<Vec<_>, GpuError>>()?;
        let feature_map = match map_block {
            Some(block) => Some(FeatureMapTap {
                block,
                map: next()?,
            }),
            None => None,
        };
        let output = RunOutput {
            logits,
            excitations,
            feature_map,
        };
        sanity_check(&output, options)?;
        Ok(output)
    }
}

/// The gate of one SE block: squeeze → FC → ReLU → FC → sigmoid (or the block's own activation
/// and gate), or the override.
fn excitation(
    encoder: &mut Encoder,
    se: &GpuSqueezeExcite,
    y: &GpuTensor,
    batch: usize,
    options: &RunOptions,
) -> Result<GpuTensor, GpuError> {
    let shape = [batch, se.channels, 1, 1];
    match options.gate_overrides.get(&se.name) {
        None => {
            let squeezed = encoder.global_avg_pool(y)?;
            let hidden = encoder.dense(&squeezed, &se.fc1, se.act)?;
            encoder.dense(&hidden, &se.fc2, se.gate)
        }
        Some(GateOverride::Ones) => {
            encoder.upload(&Tensor::new(shape, vec![1.0; batch * se.channels]))
        }
        // (Its length was checked by `RunOptions::check` before the pass.)
        Some(GateOverride::Values(gate)) => encoder.upload(&Tensor::new(shape, gate.repeat(batch))),
    }
}

/// Applies `layers` (never empty: an identity shortcut is handled by the caller) in order.
fn run_layers(
    encoder: &mut Encoder,
    layers: &[GpuLayer],
    input: &GpuTensor,
) -> Result<GpuTensor, GpuError> {
    let apply = |encoder: &mut Encoder, layer: &GpuLayer, x: &GpuTensor| match layer {
        GpuLayer::Conv { conv, act } => encoder.conv2d(x, conv, *act),
        GpuLayer::Pool(pool) => encoder.pool2d(x, pool),
    };
    let Some((first, rest)) = layers.split_first() else {
        return Err(GpuError::Rejected("an empty layer list".into()));
    };
    let mut x = apply(encoder, first, input)?;
    for layer in rest {
        x = apply(encoder, layer, &x)?;
    }
    Ok(x)
}

fn sanity_check(output: &RunOutput, options: &RunOptions) -> Result<(), GpuError> {
    if let Some(bad) = output.logits.iter().find(|v| !v.is_finite()) {
        return Err(GpuError::Insane(format!("a logit is {bad}")));
    }
    for tap in &output.excitations {
        let computed = !options.gate_overrides.contains_key(&tap.block);
        if let Some(bad) = tap
            .values
            .iter()
            .find(|&&g| !g.is_finite() || (computed && !(0.0..=1.0).contains(&g)))
        {
            return Err(GpuError::Insane(format!(
                "a gate of {} is {bad}",
                tap.block
            )));
        }
    }
    Ok(())
}
