//! The tensors of a `model.safetensors` file, taken one by one by the architecture builders.
//!
//! The `safetensors` crate (the one candle and burn read with) parses and validates the file: the
//! header length against the file and its 100 MB cap, the JSON header, and every tensor's offsets
//! against its dtype and shape, which must tile the data section exactly. What is ours is what
//! the architecture adds: each tensor taken once, with the shape the builder expects, as f32, and
//! none left over. The file's size is bounded before it is read or downloaded
//! ([`super::MAX_MODEL_BYTES`]). The crate adds 35 KB (3%) to the page's wasm over the parser
//! written here before it (measured 2026-12-01, `wasm-opt -Oz`): worth a maintained parser that
//! also refuses overlapping or gapped tensors.

use std::collections::HashSet;
use std::sync::Mutex;

use safetensors::{Dtype, SafeTensors};

use super::float16::{bf16_to_f32, f16_to_f32, widen_le};
use super::ModelError;

/// A parsed safetensors file; tensors are converted to f32 when taken.
pub struct Weights<'a> {
    file: SafeTensors<'a>,
    taken: Mutex<HashSet<String>>,
}

impl<'a> Weights<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::Safetensors(describe(&e, bytes.len())))?;
        Ok(Self {
            file,
            taken: Mutex::default(),
        })
    }

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.file.tensor(name).ok().map(|t| t.shape().to_vec())
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names = self.file.names();
        names.sort_unstable();
        names
    }

    /// Takes `name` as f32, checking its shape (dimensions of size 1 in `expected` must match too).
    pub fn take(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, ModelError> {
        let tensor = self
            .file
            .tensor(name)
            .map_err(|_| ModelError::MissingTensor(name.into()))?;
        if tensor.shape() != expected {
            return Err(ModelError::WrongShape {
                name: name.into(),
                expected: expected.to_vec(),
                actual: tensor.shape().to_vec(),
            });
        }
        let bytes = tensor.data();
        let values = match tensor.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => widen_le(bytes, f16_to_f32),
            Dtype::BF16 => widen_le(bytes, bf16_to_f32),
            other => {
                return Err(ModelError::UnsupportedDtype {
                    name: name.into(),
                    dtype: format!("{other:?}"),
                })
            }
        };
        self.taken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.into());
        Ok(values)
    }

    /// Fails if a tensor was never taken (BatchNorm's `num_batches_tracked` counters excepted):
    /// a sign the file belongs to a different architecture.
    pub fn ensure_all_used(&self) -> Result<(), ModelError> {
        let taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        let unused: Vec<&str> = self
            .names()
            .into_iter()
            .filter(|name| !taken.contains(*name) && !name.ends_with("num_batches_tracked"))
            .collect();
        match unused.first() {
            None => Ok(()),
            Some(example) => Err(ModelError::UnusedTensors {
                count: unused.len(),
                example: (*example).into(),
            }),
        }
    }
}

/// The crate's error in words a user can act on (its own `Display` names enum variants).
fn describe(error: &safetensors::SafeTensorError, file_len: usize) -> String {
    use safetensors::SafeTensorError as E;
    match error {
        E::HeaderTooSmall => "the file is shorter than its 8-byte header length".into(),
        E::HeaderTooLarge | E::InvalidHeaderLength => {
            format!("its header length exceeds the file ({file_len} bytes) or 100 MB")
        }
        E::InvalidHeader(e) => format!("header: not UTF-8 ({e})"),
        E::InvalidHeaderDeserialization(e) => format!("header: {e}"),
        E::MetadataIncompleteBuffer => format!(
            "the tensors' byte ranges do not cover the file's data section exactly \
             ({file_len} bytes in all): truncated, or extra bytes"
        ),
        E::InvalidOffset(name) => {
            format!("tensor '{name}': its byte range is not where it must be")
        }
        E::TensorInvalidInfo | E::ValidationOverflow => {
            "a tensor's byte range does not match its shape and dtype".into()
        }
        other => other.to_string(),
    }
}
