//! `config.json` exactly as `timm.models.save_for_hf` writes it.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::template::Network;
use super::ModelError;

/// The parts of timm's `config.json` the engine reads.
#[derive(Clone, Debug, Deserialize)]
pub struct ModelConfig {
    pub architecture: String,
    pub num_classes: usize,
    #[serde(default)]
    pub model_args: Map<String, Value>,
    pub pretrained_cfg: PretrainedCfg,
    #[serde(default)]
    pub label_names: Option<Vec<String>>,
    /// SE Lens's own key (timm ignores it): how to bring a user's photo to the look of the
    /// training data (`crate::preprocess::adapt_photo`).
    #[serde(default)]
    pub photo_preprocess: Option<PhotoPreprocess>,
    /// Written by `tools/convert_torchvision.py` (timm ignores it): the weights are a
    /// torchvision model's under timm's names, and blocks are named by their torchvision path.
    #[serde(default)]
    pub torchvision: Option<TorchvisionNames>,
}

/// `"torchvision": {"model": "mobilenet_v3_large", "module_names": {"blocks.2.0.se":
/// "features.4.block.2", …}}`: timm module path → torchvision module path.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TorchvisionNames {
    pub model: String,
    pub module_names: HashMap<String, String>,
}

impl TorchvisionNames {
    /// Names every block and SE module of `network` (built under timm's names) by its
    /// torchvision module path; an SE module missing from the map is an error.
    pub fn rename(&self, network: &mut Network) -> Result<(), ModelError> {
        for block in &mut network.blocks {
            if let Some(name) = self.module_names.get(&block.name) {
                block.name = name.clone();
            }
            if let Some(se) = &mut block.se {
                se.name = self
                    .module_names
                    .get(&se.name)
                    .ok_or_else(|| {
                        ModelError::Config(format!(
                            "torchvision.module_names has no entry for {}",
                            se.name
                        ))
                    })?
                    .clone();
            }
        }
        Ok(())
    }
}

/// `"photo_preprocess": {"item_on_black": 28}`: the model was trained on grey items filling a
/// black square of this side (Fashion-MNIST); photos are fitted to that look first.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct PhotoPreprocess {
    pub item_on_black: usize,
}

impl PhotoPreprocess {
    /// The largest square side accepted (the rule allocates `side² × 3` bytes per image).
    pub const MAX_SIDE: usize = 1024;

    /// Refuses sides of 0 or above [`Self::MAX_SIDE`] before any image is fitted.
    pub fn check(self) -> Result<(), String> {
        if (1..=Self::MAX_SIDE).contains(&self.item_on_black) {
            Ok(())
        } else {
            Err(format!(
                "photo_preprocess.item_on_black is {}; expected 1 to {}",
                self.item_on_black,
                Self::MAX_SIDE
            ))
        }
    }
}

/// How images must be prepared for the model (timm's `pretrained_cfg`).
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
pub struct PretrainedCfg {
    /// `[channels, height, width]`.
    pub input_size: [usize; 3],
    /// One value per input channel (timm writes a single value for 1-channel models).
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// `bicubic` or `bilinear` (anything else is refused by `preprocess`).
    #[serde(default = "default_interpolation")]
    pub interpolation: String,
    #[serde(default = "default_crop_pct")]
    pub crop_pct: f64,
    /// `center` (the default), `squash` or `border`.
    #[serde(default = "default_crop_mode")]
    pub crop_mode: String,
}

impl PretrainedCfg {
    /// The largest input side accepted (timm's models use 224–600).
    pub const MAX_SIDE: usize = 2048;

    /// Refuses sizes that would make preprocessing allocate absurd images: sides of 0 or above
    /// [`Self::MAX_SIDE`], and a `crop_pct` outside 0.25–2 (the resize is `side / crop_pct`).
    pub fn check(&self) -> Result<(), String> {
        let [_, height, width] = self.input_size;
        if !(1..=Self::MAX_SIDE).contains(&height) || !(1..=Self::MAX_SIDE).contains(&width) {
            return Err(format!(
                "pretrained_cfg.input_size {:?}: height and width must be 1 to {}",
                self.input_size,
                Self::MAX_SIDE
            ));
        }
        if !(0.25..=2.0).contains(&self.crop_pct) {
            return Err(format!(
                "pretrained_cfg.crop_pct {} is outside 0.25 to 2",
                self.crop_pct
            ));
        }
        Ok(())
    }
}

fn default_interpolation() -> String {
    "bilinear".into()
}
fn default_crop_pct() -> f64 {
    0.875
}
fn default_crop_mode() -> String {
    "center".into()
}
