//! Compiles proto/onnx.proto (ONNX's own, vendored unchanged) into the Rust messages that
//! `model::onnx` decodes files with.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
