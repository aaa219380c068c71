//! Reads NumPy `.npy` files holding little-endian float32 in C order (what `np.save` writes).

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file (bad magic or truncated header)")]
    NotNpy,
    #[error("unsupported .npy header: {0}")]
    Header(String),
    #[error("the array is {0}; SE Lens needs little-endian float32 ('<f4')")]
    Dtype(String),
    #[error("Fortran-order arrays are not supported; save with np.ascontiguousarray")]
    FortranOrder,
    #[error("the header promises {expected} bytes of data but the file has {actual}")]
    Length { expected: usize, actual: usize },
}

/// Parses a `.npy` file into its shape and values.
pub fn read_npy(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), NpyError> {
    let rest = bytes.strip_prefix(b"\x93NUMPY").ok_or(NpyError::NotNpy)?;
    let (&major, rest) = rest.split_first().ok_or(NpyError::NotNpy)?;
    let rest = rest.get(1..).ok_or(NpyError::NotNpy)?;
    let (header_len, rest) = match major {
        1 => {
            let len = rest.get(..2).ok_or(NpyError::NotNpy)?;
            (u16::from_le_bytes([len[0], len[1]]) as usize, &rest[2..])
        }
        2 | 3 => {
            let len = rest.get(..4).ok_or(NpyError::NotNpy)?;
            (
                u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize,
                &rest[4..],
            )
        }
        v => return Err(NpyError::Header(format!("version {v}"))),
    };
    let header = rest.get(..header_len).ok_or(NpyError::NotNpy)?;
    let header = std::str::from_utf8(header).map_err(|_| NpyError::Header("not UTF-8".into()))?;
    let data = &rest[header_len..];

    let descr = dict_value(header, "descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if descr != "<f4" {
        return Err(NpyError::Dtype(descr.to_owned()));
    }
    if dict_value(header, "fortran_order")? != "False" {
        return Err(NpyError::FortranOrder);
    }
    let shape_text = dict_value(header, "shape")?;
    let shape = shape_text
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|dim| !dim.is_empty())
        .map(|dim| {
            dim.parse::<usize>()
                .map_err(|_| NpyError::Header(format!("shape {shape_text}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let expected = shape
        .iter()
        .try_fold(4usize, |acc, &dim| acc.checked_mul(dim))
        .ok_or_else(|| NpyError::Header(format!("shape {shape_text} is too large")))?;
    if data.len() != expected {
        return Err(NpyError::Length {
            expected,
            actual: data.len(),
        });
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, values))
}

/// The text of `key`'s value in the header's Python dict literal (values here contain no `:`).
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let missing = || NpyError::Header(format!("no '{key}'"));
    let start = header.find(&format!("'{key}'")).ok_or_else(missing)? + key.len() + 2;
    let value = header[start..]
        .trim_start()
        .strip_prefix(':')
        .ok_or_else(missing)?
        .trim_start();
    let end = if value.starts_with('(') {
        value.find(')').map(|i| i + 1)
    } else {
        value.find([',', '}'])
    }
    .ok_or_else(missing)?;
    Ok(value[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn reads_what_numpy_writes() {
        let data: Vec<u8> = [1.0f32, -2.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let file = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }\n",
            &data,
        );
        assert_eq!(read_npy(&file), Ok((vec![1, 2], vec![1.0, -2.5])));
    }

    #[test]
    fn refuses_other_dtypes_and_short_data() {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
        assert_eq!(
            read_npy(&npy(header, &[0; 8])),
            Err(NpyError::Dtype("<f8".into()))
        );
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        assert!(matches!(
            read_npy(&npy(header, &[0; 8])),
            Err(NpyError::Length { .. })
        ));
        assert_eq!(read_npy(b"\x93NUM"), Err(NpyError::NotNpy));
    }
}
