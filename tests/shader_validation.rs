//! Every WGSL file of the crate parses and validates with naga, so a broken shader fails here
//! and not in a user's browser.
#![cfg(not(target_arch = "wasm32"))]

use naga::valid::{Capabilities, ValidationFlags, Validator};

#[test]
fn every_shader_validates() {
    assert!(!se_lens::gpu::SHADERS.is_empty());
    for (name, source) in se_lens::gpu::SHADERS {
        let module = naga::front::wgsl::parse_str(source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        Validator::new(ValidationFlags::all(), Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    }
}

#[test]
fn every_shader_file_is_registered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/gpu");
    for entry in std::fs::read_dir(dir).expect("src/gpu exists") {
        let name = entry
            .expect("readable entry")
            .file_name()
            .into_string()
            .expect("utf-8 name");
        if name.ends_with(".wgsl") {
            assert!(
                se_lens::gpu::SHADERS
                    .iter()
                    .any(|(registered, _)| *registered == name),
                "{name} is not in gpu::SHADERS"
            );
        }
    }
}
