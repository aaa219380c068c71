use std::path::PathBuf;

use super::MAX_MODEL_BYTES;

/// Everything that can be wrong with a model a user hands us. Each message names the culprit.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} is a PyTorch pickle, which SE Lens does not load (unpickling runs code); convert it \
         with `python tools/convert_to_safetensors.py MODEL_DIR` or save with \
         timm.models.save_for_hf(model, dir, safe_serialization=True)"
    )]
    PickleRefused(PathBuf),
    #[error("config.json is not valid: {0}")]
    Config(String),
    #[error("model.safetensors is not valid: {0}")]
    Safetensors(String),
    #[error("unknown architecture '{0}'. SE Lens builds these timm families from a hub folder: {families}. \
             Any other network can be opened as an ONNX file (torch.onnx.export), its SE blocks found automatically", families = super::FAMILIES)]
    UnknownArchitecture(String),
    #[error("model_args.{name}: {reason}")]
    ModelArg { name: String, reason: String },
    #[error("model.safetensors has no tensor '{0}'")]
    MissingTensor(String),
    #[error("tensor '{name}' has shape {actual:?}, expected {expected:?}")]
    WrongShape {
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("tensor '{name}' has dtype {dtype}; SE Lens reads F32, F16 and BF16")]
    UnsupportedDtype { name: String, dtype: String },
    #[error(
        "model.safetensors has {count} tensor(s) the architecture does not use, e.g. '{example}'"
    )]
    UnusedTensors { count: usize, example: String },
    #[error(transparent)]
    Onnx(#[from] super::onnx::OnnxError),
    #[error("{what} is {size} bytes; at most {} GiB is loaded", MAX_MODEL_BYTES >> 30)]
    TooLarge { what: String, size: u64 },
}
