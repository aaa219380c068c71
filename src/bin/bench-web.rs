//! SE Lens's side of the browser benchmark (`make bench`, scripts/bench-web.sh): the engine
//! exported to JavaScript, so `bench/bench.mjs` can time it beside ONNX Runtime Web on the same
//! model in the same page. Not part of the app's bundle.

use std::rc::Rc;

use js_sys::{Float32Array, Promise};
use se_lens::engine::{RunOptions, Tensor};
use se_lens::model::Model;
use se_lens::runtime::{Backend, BackendPreference};
use wasm_bindgen::prelude::*;

/// A model on its backend.
#[wasm_bindgen]
pub struct Engine {
    inner: Rc<(Model, Backend)>,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a model from its two files onto `backend` (`cpu`, `webgpu` or `auto`).
    pub async fn load(
        config: Vec<u8>,
        weights: Vec<u8>,
        backend: String,
    ) -> Result<Engine, JsError> {
        let preference = BackendPreference::parse(&backend)
            .ok_or_else(|| JsError::new(&format!("unknown backend {backend}")))?;
        let model = Model::from_bytes(&config, &weights)?;
        let backend = Backend::new(&model.graph, preference).await;
        Ok(Engine {
            inner: Rc::new((model, backend)),
        })
    }

    /// The backend runs take (`cpu` or `webgpu`) and the adapter, if any.
    pub fn backend(&self) -> String {
        let backend = &self.inner.1;
        match backend.adapter() {
            Some(adapter) => format!("{} ({adapter})", backend.name()),
            None => backend.name().to_string(),
        }
    }

    /// Why the CPU runs although a GPU was asked for, if it does.
    #[wasm_bindgen(js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.inner.1.fallback_reason()
    }

    /// One forward pass on an already normalised `[1, C, height, width]` input; resolves to the
    /// logits.
    pub fn run(&self, input: Vec<f32>, height: usize, width: usize) -> Promise {
        let inner = Rc::clone(&self.inner);
        wasm_bindgen_futures::future_to_promise(async move {
            let (model, backend) = &*inner;
            let channels = input.len() / (height * width).max(1);
            if channels * height * width != input.len() {
                return Err(JsError::new("the input is not [1, C, height, width]").into());
            }
            let input = Tensor::new([1, channels, height, width], input);
            model
                .graph
                .check_input(input.shape)
                .map_err(|e| JsError::new(&e))?;
            let output = backend
                .run(&model.graph, &input, &RunOptions::default())
                .await
                .map_err(|e| JsError::new(&e.to_string()))?;
            Ok(Float32Array::from(&output.logits[..]).into())
        })
    }
}

fn main() {}
