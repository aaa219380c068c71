//! Property tests over the loaders: whatever bytes arrive, they return a value or an error and
//! never panic, hang or allocate absurdly.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use se_lens::engine::read_npy;
use se_lens::model::{Model, Weights};

const CONFIG: &[u8] = include_bytes!("fixtures/models/seresnet18_tiny/config.json");
const WEIGHTS: &[u8] = include_bytes!("fixtures/models/seresnet18_tiny/model.safetensors");

/// Flips, truncates or overwrites bytes of a valid file.
fn mutated(valid: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8);
    (edits, any::<prop::sample::Index>(), any::<bool>()).prop_map(move |(edits, cut, truncate)| {
        let mut bytes = valid.to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        bytes
    })
}

/// Mutations concentrated on the header, where the interesting parsing happens.
fn header_mutated() -> impl Strategy<Value = Vec<u8>> {
    let header_end = 8 + u64::from_le_bytes(WEIGHTS[..8].try_into().unwrap()) as usize;
    prop::collection::vec((0..header_end, any::<u8>()), 1..6).prop_map(|edits| {
        let mut bytes = WEIGHTS.to_vec();
        for (i, value) in edits {
            bytes[i] = value;
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn safetensors_never_panics(bytes in prop_oneof![mutated(WEIGHTS), header_mutated(), prop::collection::vec(any::<u8>(), 0..64)]) {
        if let Ok(weights) = Weights::parse(&bytes) {
            for name in weights.names() {
                let shape = weights.shape(name).unwrap_or_default().to_vec();
                let _ = weights.take(name, &shape);
            }
        }
    }

    #[test]
    fn whole_model_loading_never_panics(config in mutated(CONFIG), weights in header_mutated()) {
        let _ = Model::from_bytes(&config, WEIGHTS);
        let _ = Model::from_bytes(CONFIG, &weights);
    }

    #[test]
    fn npy_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), header in "[ -~]{0,80}") {
        let _ = read_npy(&bytes);
        let mut file = b"\x93NUMPY\x01\x00".to_vec();
        file.extend((header.len() as u16).to_le_bytes());
        file.extend(header.as_bytes());
        file.extend([0u8; 16]);
        let _ = read_npy(&file);
    }
}
