//! Constant tensors: initializers, `Constant` nodes, and everything computed from them alone
//! (the shape arithmetic an exporter writes, folded at load time).

use std::collections::HashMap;

use super::proto::{tensor_proto::DataType, TensorProto};
use crate::model::float16::{bf16_to_f32, f16_to_f32, widen_le};

/// The most elements one tensor may have (2^28: 1 GiB of f32), checked before anything is
/// allocated, so that a shape of 10^12 is a message rather than an abort.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// A constant: its shape and its values, as f32 (floating-point types) or i64 (the rest).
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    pub shape: Vec<usize>,
    pub data: Data,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// Reads an external-data file by its `location` (relative to the model file).
pub type External<'a> = dyn FnMut(&str) -> Result<std::sync::Arc<Vec<u8>>, String> + 'a;

/// The element count of `shape`, or why it is not a shape SE Lens allocates.
pub fn element_count(shape: &[usize]) -> Result<usize, String> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| format!("shape {shape:?} has more than {MAX_ELEMENTS} elements"))
}

/// A shape from ONNX's i64 dims (negative dims refused).
pub fn dims(raw: &[i64]) -> Result<Vec<usize>, String> {
    raw.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d} in {raw:?}")))
        .collect()
}

impl Const {
    pub fn f32(shape: Vec<usize>, values: Vec<f32>) -> Self {
        Self {
            shape,
            data: Data::F32(values),
        }
    }

    pub fn i64(shape: Vec<usize>, values: Vec<i64>) -> Self {
        Self {
            shape,
            data: Data::I64(values),
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }

    pub fn is_float(&self) -> bool {
        matches!(self.data, Data::F32(_))
    }

    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    pub fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I64(v) => v.clone(),
        }
    }

    /// The one value of a tensor whose elements are all equal (a scalar, `[1]`, a filled
    /// tensor), as f64.
    pub fn uniform(&self) -> Option<f64> {
        fn all(mut v: impl Iterator<Item = f64>) -> Option<f64> {
            let first = v.next()?;
            v.all(|x| x == first).then_some(first)
        }
        match &self.data {
            Data::F32(v) => all(v.iter().map(|&x| f64::from(x))),
            Data::I64(v) => all(v.iter().map(|&x| x as f64)),
        }
    }

    /// The same values under another shape of the same element count.
    pub fn reshaped(mut self, shape: Vec<usize>) -> Result<Self, String> {
        if element_count(&shape)? != self.len() {
            return Err(format!("cannot reshape {} values to {shape:?}", self.len()));
        }
        self.shape = shape;
        Ok(self)
    }

    /// Elements picked by flat index (the general gather/slice/transpose/broadcast).
    fn pick(&self, shape: Vec<usize>, indices: impl Iterator<Item = usize>) -> Self {
        let data = match &self.data {
            Data::F32(v) => Data::F32(indices.map(|i| v[i]).collect()),
            Data::I64(v) => Data::I64(indices.map(|i| v[i]).collect()),
        };
        Self { shape, data }
    }

    /// NumPy's `transpose(perm)`.
    pub fn transposed(&self, perm: &[usize]) -> Result<Self, String> {
        let rank = self.shape.len();
        let mut seen = vec![false; rank];
        if perm.len() != rank
            || perm
                .iter()
                .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
        {
            return Err(format!("perm {perm:?} does not permute {rank} axes"));
        }
        let strides = strides(&self.shape);
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let out_strides: Vec<usize> = perm.iter().map(|&p| strides[p]).collect();
        let indices = Odometer::new(&shape).map(|idx| dot(&idx, &out_strides));
        Ok(self.pick(shape.clone(), indices.collect::<Vec<_>>().into_iter()))
    }

    /// Broadcast to `shape` (NumPy's rules; `shape` already the broadcast shape).
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        let offset = shape.len() - self.shape.len();
        let own = strides(&self.shape);
        let strides: Vec<usize> = (0..shape.len())
            .map(|i| match i.checked_sub(offset) {
                Some(j) if self.shape[j] != 1 => own[j],
                _ => 0,
            })
            .collect();
        let indices: Vec<usize> = Odometer::new(shape)
            .map(|idx| dot(&idx, &strides))
            .collect();
        self.pick(shape.to_vec(), indices.into_iter())
    }

    /// `take(indices, axis)`.
    pub fn gather(&self, indices: &Const, axis: i64) -> Result<Self, String> {
        let rank = self.shape.len();
        let axis = normalize_axis(axis, rank)?;
        let size = self.shape[axis];
        let picks = indices
            .to_i64()
            .into_iter()
            .map(|i| {
                let j = if i < 0 { i + size as i64 } else { i };
                usize::try_from(j)
                    .ok()
                    .filter(|&j| j < size)
                    .ok_or_else(|| format!("index {i} is out of range for an axis of {size}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let mut flat = Vec::with_capacity(outer * picks.len() * inner);
        for o in 0..outer {
            for &p in &picks {
                flat.extend((0..inner).map(|i| (o * size + p) * inner + i));
            }
        }
        let shape = [
            &self.shape[..axis],
            &indices.shape[..],
            &self.shape[axis + 1..],
        ]
        .concat();
        Ok(self.pick(shape, flat.into_iter()))
    }

    /// `self[start:end:step]` along `axis` (bounds already clamped by the caller's rules).
    pub fn sliced(&self, axis: usize, range: &[usize]) -> Self {
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let size = self.shape[axis];
        let mut flat = Vec::with_capacity(outer * range.len() * inner);
        for o in 0..outer {
            for &p in range {
                flat.extend((0..inner).map(|i| (o * size + p) * inner + i));
            }
        }
        let mut shape = self.shape.clone();
        shape[axis] = range.len();
        self.pick(shape, flat.into_iter())
    }

    /// NumPy's `concatenate(parts, axis)`; the parts must agree on the other axes and type.
    pub fn concat(parts: &[&Const], axis: i64) -> Result<Self, String> {
        let first = parts.first().ok_or("nothing to concatenate")?;
        let rank = first.shape.len();
        let axis = normalize_axis(axis, rank)?;
        let mut shape = first.shape.clone();
        shape[axis] = 0;
        for part in parts {
            let same_rest = part.shape.len() == rank
                && (0..rank).all(|i| i == axis || part.shape[i] == first.shape[i]);
            if !same_rest || part.is_float() != first.is_float() {
                return Err(format!(
                    "cannot concatenate {:?} with {:?} on axis {axis}",
                    part.shape, first.shape
                ));
            }
            shape[axis] += part.shape[axis];
        }
        let outer: usize = shape[..axis].iter().product();
        let mut out = match first.data {
            Data::F32(_) => Data::F32(Vec::new()),
            Data::I64(_) => Data::I64(Vec::new()),
        };
        for o in 0..outer {
            for part in parts {
                let chunk: usize = part.shape[axis..].iter().product();
                match (&mut out, &part.data) {
                    (Data::F32(out), Data::F32(v)) => out.extend(&v[o * chunk..(o + 1) * chunk]),
                    (Data::I64(out), Data::I64(v)) => out.extend(&v[o * chunk..(o + 1) * chunk]),
                    _ => unreachable!("types checked above"),
                }
            }
        }
        Ok(Self { shape, data: out })
    }

    /// An element-wise binary op with NumPy broadcasting; integer operands stay integers.
    pub fn binary(
        a: &Const,
        b: &Const,
        f: impl Fn(f64, f64) -> f64,
        i: impl Fn(i64, i64) -> Option<i64>,
    ) -> Result<Self, String> {
        let shape = broadcast_shape(&a.shape, &b.shape)?;
        element_count(&shape)?;
        let (a, b) = (a.broadcast_to(&shape), b.broadcast_to(&shape));
        let data = match (&a.data, &b.data) {
            (Data::I64(x), Data::I64(y)) => Data::I64(
                x.iter()
                    .zip(y)
                    .map(|(&x, &y)| i(x, y).ok_or("integer division by zero"))
                    .collect::<Result<_, _>>()?,
            ),
            _ => Data::F32(
                a.to_f32()
                    .iter()
                    .zip(b.to_f32())
                    .map(|(&x, y)| f(f64::from(x), f64::from(y)) as f32)
                    .collect(),
            ),
        };
        Ok(Self { shape, data })
    }

    /// An element-wise function of a float tensor.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Self {
        Self::f32(
            self.shape.clone(),
            self.to_f32()
                .iter()
                .map(|&x| f(f64::from(x)) as f32)
                .collect(),
        )
    }
}

/// NumPy's broadcast of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let at = |s: &[usize], i: usize| (i + s.len()).checked_sub(rank).map_or(1, |j| s[j]);
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// `axis` (negative counts from the end) as an index below `rank`.
pub fn normalize_axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| format!("axis {axis} is out of range for rank {rank}"))
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

fn dot(a: &[usize], b: &[usize]) -> usize {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Every index of `shape` in row-major order.
struct Odometer {
    shape: Vec<usize>,
    next: Option<Vec<usize>>,
}

impl Odometer {
    fn new(shape: &[usize]) -> Self {
        let empty = shape.contains(&0);
        Self {
            shape: shape.to_vec(),
            next: (!empty).then(|| vec![0; shape.len()]),
        }
    }
}

impl Iterator for Odometer {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        let current = self.next.take()?;
        let mut following = current.clone();
        for i in (0..following.len()).rev() {
            following[i] += 1;
            if following[i] < self.shape[i] {
                self.next = Some(following);
                return Some(current);
            }
            following[i] = 0;
        }
        Some(current)
    }
}

/// A `TensorProto`'s values, from its typed field, `raw_data` or an external file.
pub fn decode(
    tensor: &TensorProto,
    external: &mut External<'_>,
    cache: &mut HashMap<String, std::sync::Arc<Vec<u8>>>,
) -> Result<Const, String> {
    let shape = dims(&tensor.dims)?;
    let count = element_count(&shape)?;
    let dtype = DataType::try_from(tensor.data_type())
        .map_err(|_| format!("unknown data type {}", tensor.data_type()))?;
    let width = match dtype {
        DataType::Float | DataType::Int32 | DataType::Uint32 => 4,
        DataType::Double | DataType::Int64 | DataType::Uint64 => 8,
        DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16 => 2,
        DataType::Int8 | DataType::Uint8 | DataType::Bool => 1,
        other => {
            return Err(format!(
                "data type {} is not supported",
                other.as_str_name()
            ))
        }
    };
    let external_bytes;
    let raw: Option<&[u8]> =
        if tensor.data_location() == super::proto::tensor_proto::DataLocation::External {
            external_bytes = external_data(tensor, count * width, external, cache)?;
            Some(&external_bytes)
        } else if tensor.raw_data.as_ref().is_some_and(|r| !r.is_empty()) || count == 0 {
            tensor.raw_data.as_deref().or(Some(&[]))
        } else {
            None
        };
    let shape_text = format!("{shape:?}");
    let short =
        |have: usize| format!("holds {have} value(s) but its shape {shape_text} needs {count}");
    if let Some(raw) = raw {
        if raw.len() != count * width {
            return Err(short(raw.len() / width));
        }
        let words = raw.chunks_exact(width);
        let f32s = |f: fn(&[u8]) -> f32| Data::F32(words.clone().map(f).collect());
        let i64s = |f: fn(&[u8]) -> i64| Data::I64(words.clone().map(f).collect());
        let data = match dtype {
            DataType::Float => f32s(|w| f32::from_le_bytes(w.try_into().expect("4 bytes"))),
            DataType::Double => f32s(|w| f64::from_le_bytes(w.try_into().expect("8 bytes")) as f32),
            DataType::Float16 => Data::F32(widen_le(raw, f16_to_f32)),
            DataType::Bfloat16 => Data::F32(widen_le(raw, bf16_to_f32)),
            DataType::Int64 => i64s(|w| i64::from_le_bytes(w.try_into().expect("8 bytes"))),
            DataType::Uint64 => i64s(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")) as i64),
            DataType::Int32 => i64s(|w| i32::from_le_bytes(w.try_into().expect("4 bytes")).into()),
            DataType::Uint32 => i64s(|w| u32::from_le_bytes(w.try_into().expect("4 bytes")).into()),
            DataType::Int16 => i64s(|w| i16::from_le_bytes(w.try_into().expect("2 bytes")).into()),
            DataType::Uint16 => i64s(|w| u16::from_le_bytes(w.try_into().expect("2 bytes")).into()),
            DataType::Int8 => i64s(|w| (w[0] as i8).into()),
            _ => i64s(|w| w[0].into()),
        };
        return Ok(Const { shape, data });
    }
    let data = match dtype {
        DataType::Float => Data::F32(tensor.float_data.clone()),
        DataType::Double => Data::F32(tensor.double_data.iter().map(|&x| x as f32).collect()),
        DataType::Float16 => Data::F32(
            tensor
                .int32_data
                .iter()
                .map(|&bits| f16_to_f32(bits as u16))
                .collect(),
        ),
        DataType::Bfloat16 => Data::F32(
            tensor
                .int32_data
                .iter()
                .map(|&bits| bf16_to_f32(bits as u16))
                .collect(),
        ),
        DataType::Int64 => Data::I64(tensor.int64_data.clone()),
        DataType::Uint32 | DataType::Uint64 => {
            Data::I64(tensor.uint64_data.iter().map(|&x| x as i64).collect())
        }
        _ => Data::I64(tensor.int32_data.iter().map(|&x| x.into()).collect()),
    };
    let tensor = Const { shape, data };
    if tensor.len() != count {
        return Err(short(tensor.len()));
    }
    Ok(tensor)
}

/// The bytes of an external-data tensor: `location`, `offset` and `length` from its
/// `external_data` entries, read through `external` (once per file).
fn external_data(
    tensor: &TensorProto,
    expected: usize,
    external: &mut External<'_>,
    cache: &mut HashMap<String, std::sync::Arc<Vec<u8>>>,
) -> Result<Vec<u8>, String> {
    let entry = |key: &str| {
        tensor
            .external_data
            .iter()
            .find(|e| e.key() == key)
            .map(|e| e.value().to_owned())
    };
    let location = entry("location").ok_or("external data without a location")?;
    let number = |key: &str| -> Result<Option<usize>, String> {
        entry(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("external data {key} '{v}' is not a number"))
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?.unwrap_or(expected);
    let file = match cache.get(&location) {
        Some(file) => file.clone(),
        None => {
            let file = external(&location)?;
            cache.insert(location.clone(), file.clone());
            file
        }
    };
    offset
        .checked_add(length)
        .and_then(|end| file.get(offset..end))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            format!(
                "external data {location} has {} bytes; the tensor needs bytes {offset}..{}",
                file.len(),
                offset.saturating_add(length)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::Const;

    #[test]
    fn transpose_gather_concat_and_broadcast_follow_numpy() {
        let x = Const::i64(vec![2, 3], vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(x.transposed(&[1, 0]).unwrap().to_i64(), [0, 3, 1, 4, 2, 5]);
        let picked = x.gather(&Const::i64(vec![], vec![-1]), 1).unwrap();
        assert_eq!(
            (picked.shape.clone(), picked.to_i64()),
            (vec![2], vec![2, 5])
        );
        let joined = Const::concat(&[&x, &x], 1).unwrap();
        assert_eq!(joined.to_i64(), [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
        let row = Const::f32(vec![3], vec![1.0, 2.0, 3.0]);
        let sum = Const::binary(&x, &row, |a, b| a + b, |a, b| Some(a + b)).unwrap();
        assert_eq!(sum.to_f32(), [1.0, 3.0, 5.0, 4.0, 6.0, 8.0]);
        assert!(Const::binary(
            &x,
            &Const::i64(vec![2], vec![1, 2]),
            |a, _| a,
            |a, _| Some(a)
        )
        .is_err());
    }
}
