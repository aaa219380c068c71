//! The tensors of a `model.safetensors` file, taken one by one by the architecture builders.
//!
//! Format: an 8-byte little-endian header length, a JSON header mapping names to
//! `{dtype, shape, data_offsets}`, then the raw little-endian data.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use serde::Deserialize;

use super::ModelError;

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A parsed safetensors file; tensors are converted to f32 when taken.
pub struct Weights<'a> {
    entries: BTreeMap<String, Entry>,
    data: &'a [u8],
    taken: Mutex<HashSet<String>>,
}

impl<'a> Weights<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let bad = |reason: String| ModelError::Safetensors(reason);
        let length = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .ok_or_else(|| bad("the file is shorter than its 8-byte header length".into()))?;
        let header_end = usize::try_from(length)
            .ok()
            .and_then(|len| len.checked_add(8))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "header length {length} exceeds the file ({} bytes)",
                    bytes.len()
                ))
            })?;
        let mut header: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..header_end])
                .map_err(|e| bad(format!("header: {e}")))?;
        header.remove("__metadata__");
        let data = &bytes[header_end..];
        let mut entries = BTreeMap::new();
        for (name, value) in header {
            let entry: Entry =
                serde_json::from_value(value).map_err(|e| bad(format!("tensor '{name}': {e}")))?;
            let [start, end] = entry.data_offsets;
            let count = entry
                .shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d));
            let size = count.and_then(|c| c.checked_mul(dtype_size(&entry.dtype).unwrap_or(1)));
            if start > end
                || end > data.len()
                || size.is_some_and(|s| dtype_size(&entry.dtype).is_some() && s != end - start)
            {
                return Err(bad(format!(
                    "tensor '{name}' claims bytes {start}..{end} for shape {:?} ({}) but the data section has {} bytes",
                    entry.shape,
                    entry.dtype,
                    data.len()
                )));
            }
            entries.insert(name, entry);
        }
        Ok(Self {
            entries,
            data,
            taken: Mutex::default(),
        })
    }

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.entries.get(name).map(|e| e.shape.as_slice())
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Takes `name` as f32, checking its shape (dimensions of size 1 in `expected` must match too).
    pub fn take(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, ModelError> {
        let entry = self
            .entries
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
        if entry.shape != expected {
            return Err(ModelError::WrongShape {
                name: name.into(),
                expected: expected.to_vec(),
                actual: entry.shape.clone(),
            });
        }
        let bytes = &self.data[entry.data_offsets[0]..entry.data_offsets[1]];
        let values = match entry.dtype.as_str() {
            "F32" => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            "F16" => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            "BF16" => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(ModelError::UnsupportedDtype {
                    name: name.into(),
                    dtype: other.into(),
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
        let unused: Vec<&String> = self
            .entries
            .keys()
            .filter(|name| !taken.contains(*name) && !name.ends_with("num_batches_tracked"))
            .collect();
        match unused.first() {
            None => Ok(()),
            Some(example) => Err(ModelError::UnusedTensors {
                count: unused.len(),
                example: (*example).clone(),
            }),
        }
    }
}

fn dtype_size(dtype: &str) -> Option<usize> {
    match dtype {
        "F64" | "I64" | "U64" => Some(8),
        "F32" | "I32" | "U32" => Some(4),
        "F16" | "BF16" | "I16" | "U16" => Some(2),
        "I8" | "U8" | "BOOL" => Some(1),
        _ => None,
    }
}
