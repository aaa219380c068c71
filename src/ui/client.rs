//! The page's side of the engine worker. [`Engine`] wraps the JavaScript API's `SeLens`
//! (`www/selens.js`, imported by the page's loader), so the app talks to the engine through the
//! API's own worker protocol: loads as any page would, and the app's views as [`Job`]s. No model
//! is parsed and no forward pass runs on the page's thread.

use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use yew::Callback;

use super::browser::describe;
use super::protocol::{BackendSummary, Classified, ImageRef, Job, Loaded};
use super::session::Outcome;
use crate::model::OnnxOptions;
use crate::preprocess::RgbImage;

#[wasm_bindgen]
extern "C" {
    /// `www/selens.js`'s class (the loader puts it on `window`).
    type SeLens;
    #[wasm_bindgen(static_method_of = SeLens)]
    fn create(options: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn load(this: &SeLens, source: &JsValue, options: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = setBackend)]
    fn set_backend(this: &SeLens, backend: &str) -> Promise;
    #[wasm_bindgen(method)]
    fn job(this: &SeLens, request: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn decode(this: &SeLens, image: &JsValue) -> Promise;
    #[wasm_bindgen(method)]
    fn cancel(this: &SeLens, view: &str);
    #[wasm_bindgen(method, setter)]
    fn set_onrestart(this: &SeLens, callback: &Function);
}

/// The engine worker, shared by every view of the app.
#[derive(Clone)]
pub struct Engine {
    lens: Rc<SeLens>,
    /// Kept alive for `onrestart`.
    _restarted: Rc<Closure<dyn Fn(JsValue)>>,
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.lens, &other.lens)
    }
}

fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &key.into(), value);
}

/// `object[key]`, or `undefined`.
fn field(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

async fn settle(promise: Promise) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(describe)
}

impl Engine {
    /// Starts the engine worker; `restarted(message)` is told when it crashed and came back.
    pub async fn start(
        backend: &str,
        hub: Option<&str>,
        restarted: Callback<String>,
    ) -> Result<Engine, String> {
        let options = Object::new();
        set(&options, "backend", &backend.into());
        if let Some(hub) = hub {
            set(&options, "hub", &hub.into());
        }
        // This page's module, compiled already: the worker instantiates it instead of compiling
        // the same file again (when it is the build the worker needs).
        set(&options, "module", &wasm_bindgen::module());
        let lens: SeLens = settle(SeLens::create(&options)).await?.unchecked_into();
        let restarted = Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
            let message = field(&event, "message").as_string().unwrap_or_default();
            restarted.emit(message);
        });
        lens.set_onrestart(restarted.as_ref().unchecked_ref());
        // Outside wasm memory, so that after a crash of the page's instance www/crash.js can stop
        // this engine worker before the app starts again with a new one.
        super::browser::keep("engine", Some(&lens));
        Ok(Engine {
            lens: Rc::new(lens),
            _restarted: Rc::new(restarted),
        })
    }

    /// Loads a model: a URL or hub id (`source` a string), or chosen files; ONNX models with
    /// `onnx`.
    pub async fn load(
        &self,
        source: JsValue,
        onnx: &OnnxOptions,
        progress: Callback<(u64, Option<u64>)>,
    ) -> Result<Loaded, String> {
        let options = Object::new();
        let onnx = serde_json::to_string(onnx).map_err(|e| e.to_string())?;
        set(&options, "onnx", &onnx.into());
        let progress =
            Closure::<dyn Fn(JsValue, JsValue)>::new(move |done: JsValue, all: JsValue| {
                progress.emit((
                    done.as_f64().unwrap_or(0.0) as u64,
                    all.as_f64().map(|a| a as u64),
                ));
            });
        set(&options, "onProgress", progress.as_ref());
        let info = settle(self.lens.load(&source, &options)).await?;
        let loaded = Reflect::get(&info, &"loaded".into())
            .ok()
            .and_then(|l| l.as_string())
            .ok_or("the engine sent no model summary")?;
        serde_json::from_str(&loaded).map_err(|e| e.to_string())
    }

    /// Sets the backend up again for the loaded model.
    pub async fn set_backend(&self, backend: &str) -> Result<BackendSummary, String> {
        let reply = settle(self.lens.set_backend(backend)).await?;
        let text = |key: &str| field(&reply, key).as_string();
        Ok(BackendSummary {
            name: text("backend").ok_or("the engine sent no backend")?,
            adapter: text("adapter"),
            fallback_reason: text("fallbackReason"),
            note: text("note"),
        })
    }

    /// Runs `job` for `view` (a newer job for the same view supersedes it) on `image` and
    /// `files`; the reply, and any pixels beside it.
    pub async fn run<T: DeserializeOwned>(
        &self,
        view: &str,
        job: &Job,
        image: Option<ImageRef>,
        files: &[(web_sys::File, String)],
        progress: Option<Callback<(usize, usize)>>,
        debug: Option<&str>,
    ) -> Result<(T, Option<Vec<u8>>), String> {
        let request = Object::new();
        set(&request, "view", &view.into());
        let job = serde_json::to_string(job).map_err(|e| e.to_string())?;
        set(&request, "job", &job.into());
        if let Some(image) = image {
            let named = Object::new();
            set(&named, "key", &image.key.into());
            set(&request, "image", &named);
        }
        let list = Array::new();
        for (file, path) in files {
            let entry = Object::new();
            set(&entry, "file", file);
            set(&entry, "path", &path.into());
            list.push(&entry);
        }
        set(&request, "files", &list);
        if let Some(debug) = debug {
            set(&request, "debug", &debug.into());
        }
        let progress = progress.map(|progress| {
            Closure::<dyn Fn(JsValue, JsValue)>::new(move |done: JsValue, all: JsValue| {
                progress.emit((
                    done.as_f64().unwrap_or(0.0) as usize,
                    all.as_f64().unwrap_or(0.0) as usize,
                ));
            })
        });
        if let Some(progress) = &progress {
            set(&request, "onProgress", progress.as_ref());
        }
        let reply = match settle(self.lens.job(&request)).await {
            Ok(reply) => reply,
            // A superseded request never answers: a newer one for its view will.
            Err(e) if e.starts_with("superseded") => std::future::pending().await,
            Err(e) => return Err(e),
        };
        let text = field(&reply, "json")
            .as_string()
            .ok_or("the engine sent no reply")?;
        let value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let pixels = Some(field(&reply, "pixels"))
            .filter(|p| !p.is_undefined())
            .map(|p| Uint8Array::new(&p).to_vec());
        Ok((value, pixels))
    }

    /// Stops `view`'s running job at its next step.
    pub fn cancel(&self, view: &str) {
        self.lens.cancel(view);
    }

    /// Decodes an image (a file's `Blob`, or a camera frame's `ImageData`) in the engine worker,
    /// which keeps it: neither the decode nor the pixels ever weigh on the page's thread.
    pub async fn decode(&self, image: &JsValue) -> Result<ImageRef, String> {
        let reply = settle(self.lens.decode(image)).await?;
        let number = |key: &str| field(&reply, key).as_f64().unwrap_or(0.0);
        Ok(ImageRef {
            key: number("key") as u32,
            width: number("width") as usize,
            height: number("height") as usize,
        })
    }

    /// Classifies `image` with the model's own gates, and with `ablated` blocks' gates set to
    /// ones.
    pub async fn classify(
        &self,
        image: ImageRef,
        ablated: std::collections::BTreeSet<String>,
        one_thread: bool,
        progress: Callback<(usize, usize)>,
        debug: Option<&str>,
    ) -> Result<Outcome, String> {
        let job = Job::Classify {
            ablated,
            one_thread,
        };
        let (reply, pixels): (Classified, _) = self
            .run("classify", &job, Some(image), &[], Some(progress), debug)
            .await?;
        let seen = RgbImage::new(
            reply.seen_width,
            reply.seen_height,
            pixels.ok_or("the engine sent no picture")?,
        )
        .map_err(|e| e.to_string())?;
        Ok(Outcome { seen, run: reply })
    }
}

/// A chosen file and its path below the chosen folder (`webkitRelativePath`, which a worker does
/// not see: the engine worker sets it again).
pub fn with_path(file: &web_sys::File) -> (web_sys::File, String) {
    let path = Reflect::get(file, &"webkitRelativePath".into())
        .ok()
        .and_then(|p| p.as_string())
        .unwrap_or_default();
    (file.clone(), path)
}
