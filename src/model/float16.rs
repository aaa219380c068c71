//! 16-bit weights (IEEE half and bfloat16) widened to f32, as safetensors and ONNX files store
//! them (the default model is f16).
//!
//! Branch-free, so the loop over a tensor vectorises: the `half` crate's conversion is a branchy
//! software routine per value on wasm32 (natively it calls F16C per value). In the engine worker
//! the default model's load from its bytes took 16 → 11 ms once the code is warm, 22 → 21 ms on a
//! fresh worker's first load (medians of 14 interleaved rounds, `node scripts/compare-web.mjs load
//! OLD_DIST NEW_DIST 14`, 2026-12-03; the rest is parsing, folding and the graph). The unit
//! tests check every one of the 65 536 bit patterns of both formats against `half`.

/// An f16's bits as the f32 of the same value: subnormals, infinities and signed zeros exactly,
/// a NaN's payload kept with its quiet bit set (as F16C and `half` do).
#[inline]
pub fn f16_to_f32(bits: u16) -> f32 {
    let bits = u32::from(bits);
    let sign = (bits & 0x8000) << 16;
    // Exponent and mantissa moved to f32's places, the exponent still biased by 15 instead of 127.
    let magnitude = (bits & 0x7fff) << 13;
    // × 2^112 adds the missing bias and normalises subnormals; exact, as every f16 is an f32.
    let finite = (f32::from_bits(magnitude) * f32::from_bits(0x7780_0000)).to_bits();
    const INFINITY: u32 = 0x7c00 << 13;
    let special = magnitude | 0x7f80_0000 | if magnitude > INFINITY { 0x0040_0000 } else { 0 };
    let value = if magnitude >= INFINITY {
        special
    } else {
        finite
    };
    f32::from_bits(sign | value)
}

/// A bfloat16's bits as the f32 of the same value (its upper half), a NaN's quiet bit set.
#[inline]
pub fn bf16_to_f32(bits: u16) -> f32 {
    let quiet = if bits & 0x7fff > 0x7f80 { 0x0040 } else { 0 };
    f32::from_bits(u32::from(bits | quiet) << 16)
}

/// Little-endian 16-bit values (`bytes.len()` even) widened with `widen` (generic, not a `fn`
/// pointer, so each caller's loop has the conversion inlined and can vectorise).
pub fn widen_le(bytes: &[u8], widen: impl Fn(u16) -> f32) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| widen(u16::from_le_bytes([b[0], b[1]])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_f16_matches_half() {
        for bits in 0..=u16::MAX {
            let expected = half::f16::from_bits(bits).to_f32().to_bits();
            assert_eq!(f16_to_f32(bits).to_bits(), expected, "f16 bits {bits:#06x}");
        }
    }

    #[test]
    fn every_bf16_matches_half() {
        for bits in 0..=u16::MAX {
            let expected = half::bf16::from_bits(bits).to_f32().to_bits();
            let ours = bf16_to_f32(bits).to_bits();
            assert_eq!(ours, expected, "bf16 bits {bits:#06x}");
        }
    }

    #[test]
    fn widens_little_endian() {
        // 1.0, -2.0 and the smallest subnormal, 2^-24.
        let bytes = [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00];
        assert_eq!(widen_le(&bytes, f16_to_f32), [1.0, -2.0, 2f32.powi(-24)]);
    }
}
