//! The engine's side of the engine worker: [`EngineHost`] owns a model, its backend and its runs
//! inside a dedicated Web Worker (`www/engine-worker.js` drives it; `www/selens.js`, the
//! JavaScript API, talks to that worker). Same loading, preprocessing and forward pass as the page
//! (`jobs`), so a result from the API is the app's result.
//!
//! Results are the CLI's `--json` report ([`Report`]) with each gate as a `Float32Array` in
//! JavaScript's own memory, so the worker can transfer it instead of copying it.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use js_sys::{Array, Float32Array, Function, Object, Reflect, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{Blob, ImageBitmap, ImageData};

use super::browser::{decode_image, image_data, now_ms, rgb_of_bitmap, rgb_of_rgba};
use super::heatmap::{Paint, Scale};
use super::jobs::{
    block_importance_from_files, channel_detail, class_stats_from_files, classify,
    classify_with_gate, load_model, load_model_files, onnx_model, prepare_backend, probe_base,
    probe_region, se_steps, shipped_class_stats, shipped_importance, ProbeBase, Progress,
};
use super::protocol::{self, BackendSummary, Classified, Job, ModelSummary, ProbeStart};
use super::view_model::RunView;
use crate::engine::{Excitation, Report, Timings};
use crate::model::{Model, OnnxOptions};
use crate::preprocess::{self, RgbImage};
use crate::runtime::{Backend, BackendPreference};

/// A model on its backend, and how long loading it took.
struct Loaded {
    model: Rc<Model>,
    backend: Rc<Backend>,
    load_ms: f64,
}

/// The worker's engine: one model at a time; runs hold their own reference, so loading another
/// model never disturbs a run in progress.
#[wasm_bindgen]
#[derive(Default)]
pub struct EngineHost {
    loaded: Rc<RefCell<Option<Rc<Loaded>>>>,
    /// A model [`EngineHost::read`] read ahead of its `load` (the page's default model, while the
    /// page starts), and its name.
    read_ahead: Rc<RefCell<Option<Named>>>,
    /// The squeeze-region probe's start (its block's feature map), for the brushes that follow.
    probe: Rc<RefCell<Option<ProbeBase>>>,
    /// The app's decoded images, newest last, by the key the page gave ([`KEPT_IMAGES`] at most):
    /// the page holds only their keys, so a 12-megapixel photo never crosses to the page and back.
    images: Rc<RefCell<Vec<KeptImage>>>,
}

/// A model and the name it was loaded by.
type Named = (Rc<Model>, String);

/// A decoded image and its key.
type KeptImage = (u32, Rc<RgbImage>);

/// Decoded images the engine keeps (the image shown, one pinned for comparison, and room for the
/// next).
const KEPT_IMAGES: usize = 4;

/// What a classification may ask for (the API's `classify` options).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct ClassifyOptions {
    /// Classes listed in `top` (5 if not given).
    top_k: Option<usize>,
    /// SE blocks whose gates are set to ones in a second run, reported as `ablated`.
    ablate: Vec<String>,
    /// Each block's heatmap as `ImageData`: `"block"` (the block's own range, the app's default)
    /// or `"absolute"` (0 to 1).
    heatmaps: Option<String>,
}

#[wasm_bindgen]
impl EngineHost {
    #[wasm_bindgen(constructor)]
    pub fn new() -> EngineHost {
        EngineHost::default()
    }

    /// Panics: a request's `debug: 'panic'` (the e2e tests of the crash recovery).
    #[wasm_bindgen(js_name = debugPanic)]
    pub fn debug_panic(&self) {
        panic!("a deliberate panic (debug: 'panic'), to test the crash recovery");
    }

    /// Loads a model and prepares its backend (`cpu`, `webgpu` or `auto`); resolves to what the
    /// model is (see `www/selens.d.ts`, `ModelInfo`). `source` is a URL (a timm folder or an
    /// `.onnx` file), `hf:owner/name` (from `hub`, else huggingface.co), `{ config, weights }`
    /// or `{ onnx, name, data }` with the files' bytes, or `{ files }` (the app's dropped files).
    /// `onnx`: the JSON of the `OnnxOptions` an ONNX model loads with (the app's URL sets them).
    /// `progress(loaded, total)` follows a download. A `null` source is the model
    /// [`EngineHost::read`] read.
    pub fn load(
        &self,
        source: JsValue,
        backend: String,
        hub: Option<String>,
        progress: Function,
        onnx: Option<String>,
    ) -> js_sys::Promise {
        let loaded = Rc::clone(&self.loaded);
        let probe = Rc::clone(&self.probe);
        let read_ahead = self.read_ahead.borrow_mut().take();
        future_to_promise(async move {
            let onnx: OnnxOptions = match onnx {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| JsError::new(&format!("ONNX options: {e}")))?,
                None => OnnxOptions::default(),
            };
            let (preference, software_too) =
                backend_choice(&backend).map_err(|e| JsError::new(&e))?;
            let started = now_ms();
            let report = yew::Callback::from(move |(done, total): (u64, Option<u64>)| {
                let total = total.map_or(JsValue::NULL, |t| JsValue::from(t as f64));
                let _ = progress.call2(&JsValue::NULL, &JsValue::from(done as f64), &total);
            });
            let (model, name) = match read_ahead.filter(|_| source.is_null()) {
                Some(read) => read,
                None => model_from(&source, hub.as_deref(), &onnx, report)
                    .await
                    .map_err(|e| JsError::new(&e))?,
            };
            let backend = prepare_backend(&model, preference, software_too).await;
            let info = model_info(&model, &backend, &name)?;
            probe.borrow_mut().take();
            *loaded.borrow_mut() = Some(Rc::new(Loaded {
                model,
                backend,
                load_ms: now_ms() - started,
            }));
            Ok(info)
        })
    }

    /// Reads the model `source` (a timm folder's `{ config, weights }` bytes) for a later
    /// `load(null)`, which then only prepares its backend: the engine worker reads the page's
    /// default model while the page starts.
    pub fn read(&self, source: JsValue) -> js_sys::Promise {
        let read_ahead = Rc::clone(&self.read_ahead);
        future_to_promise(async move {
            let onnx = OnnxOptions::default();
            let read = model_from(&source, None, &onnx, yew::Callback::noop())
                .await
                .map_err(|e| JsError::new(&e))?;
            *read_ahead.borrow_mut() = Some(read);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Decodes `image` (an image file's `Blob`, or a camera frame's `ImageData`) here, off the
    /// page's thread, and keeps it under `key` for the app's jobs; resolves to `{ width, height }`.
    pub fn decode(&self, image: JsValue, key: u32) -> js_sys::Promise {
        let images = Rc::clone(&self.images);
        future_to_promise(async move {
            let image = pixels(image)
                .await
                .map_err(|e| JsValue::from(JsError::new(&e)))?;
            let result = js_sys::Object::new();
            Reflect::set(&result, &"width".into(), &image.width.into())?;
            Reflect::set(&result, &"height".into(), &image.height.into())?;
            let mut images = images.borrow_mut();
            images.retain(|(kept, _)| *kept != key);
            images.push((key, Rc::new(image)));
            let excess = images.len().saturating_sub(KEPT_IMAGES);
            images.drain(..excess);
            Ok(result.into())
        })
    }

    /// Classifies `image` (a `Blob`, an `ImageBitmap` or an `ImageData`) with the loaded model;
    /// resolves to the report (see `www/selens.d.ts`, `Classification`). `progress(done, all)`
    /// follows the blocks; the run stops with "superseded…" once `wanted()` returns false.
    pub fn classify(
        &self,
        image: JsValue,
        options: JsValue,
        progress: Function,
        wanted: Function,
    ) -> js_sys::Promise {
        let loaded = self.loaded.borrow().clone();
        future_to_promise(async move {
            let loaded = loaded.ok_or_else(|| JsError::new("no model is loaded"))?;
            let options: ClassifyOptions = if options.is_undefined() || options.is_null() {
                ClassifyOptions::default()
            } else {
                let text = js_sys::JSON::stringify(&options)?;
                serde_json::from_str(&String::from(text))
                    .map_err(|e| JsError::new(&format!("classify options: {e}")))?
            };
            let paint = match options.heatmaps.as_deref() {
                None => None,
                Some("block") => Some(Paint::Gates(Scale::Block)),
                Some("absolute") => Some(Paint::Gates(Scale::Absolute)),
                Some(other) => {
                    return Err(JsError::new(&format!(
                        "heatmaps: '{other}' is neither 'block' nor 'absolute'"
                    ))
                    .into())
                }
            };
            let started = now_ms();
            let image = pixels(image).await.map_err(|e| JsError::new(&e))?;
            let decode_ms = now_ms() - started;
            let progress = Progress {
                report: yew::Callback::from(move |(done, all): (usize, usize)| {
                    let _ = progress.call2(&JsValue::NULL, &done.into(), &all.into());
                }),
                wanted: Rc::new(move || wanted.call0(&JsValue::NULL).is_ok_and(|w| w.is_truthy())),
            };
            let ablated: BTreeSet<String> = options.ablate.iter().cloned().collect();
            if let Some(unknown) = ablated
                .iter()
                .find(|b| !loaded.model.graph.se_blocks.iter().any(|se| &se.name == *b))
            {
                return Err(JsError::new(&format!(
                    "ablate: the model has no SE block '{unknown}'"
                ))
                .into());
            }
            let outcome = classify(&loaded.model, &loaded.backend, &image, &ablated, &progress)
                .await
                .map_err(|e| JsError::new(&e))?;
            let k = options.top_k.unwrap_or(5);
            let view = |run: &RunView| -> RunView {
                let mut run = run.clone();
                run.top =
                    crate::engine::top_k(&run.logits, loaded.model.scores, &loaded.model.labels, k);
                run
            };
            let timings = Timings {
                load: loaded.load_ms,
                preprocess: decode_ms + outcome.preprocess_ms,
                forward: outcome.forward_ms,
            };
            let result = report(
                &loaded,
                &view(&outcome.baseline),
                outcome.backend,
                Some(timings),
                paint,
            )?;
            if let Some(ablated) = &outcome.ablated {
                let ablated = report(&loaded, &view(ablated), outcome.backend, None, paint)?;
                Reflect::set(&result, &"ablated".into(), &ablated)?;
            }
            Reflect::set(&result, &"threads".into(), &outcome.cpu_threads.into())?;
            let simd = if crate::cpu::RELAXED_SIMD {
                "relaxed"
            } else {
                "simd128"
            };
            Reflect::set(&result, &"simd".into(), &simd.into())?;
            Ok(result)
        })
    }
}

#[wasm_bindgen]
impl EngineHost {
    /// Runs one of the app's jobs ([`Job`], as JSON) on the loaded model; resolves to
    /// `{ json, pixels }`: the reply's JSON (`protocol.rs` says which type), and for `classify`
    /// the RGB pixels of the picture the network saw. `image` (`{ width, height, rgb }`) is what
    /// the jobs that run the model run on; `files` the chosen files of `class_stats` and
    /// `importance`. `progress(done, all)`; the job stops once `wanted()` returns false.
    pub fn job(
        &self,
        job: String,
        image: JsValue,
        files: JsValue,
        progress: Function,
        wanted: Function,
    ) -> js_sys::Promise {
        let current = self.loaded.borrow().clone();
        let loaded_cell = Rc::clone(&self.loaded);
        let probe = Rc::clone(&self.probe);
        let images = Rc::clone(&self.images);
        future_to_promise(async move {
            let fail = |e: String| JsValue::from(JsError::new(&e));
            let job: Job = serde_json::from_str(&job).map_err(|e| fail(format!("job: {e}")))?;
            let loaded = current.ok_or_else(|| fail("no model is loaded".into()))?;
            let (model, backend) = (&loaded.model, &loaded.backend);
            let wanted: Rc<dyn Fn() -> bool> =
                Rc::new(move || wanted.call0(&JsValue::NULL).is_ok_and(|w| w.is_truthy()));
            let report = {
                let progress = progress.clone();
                yew::Callback::from(move |(done, all): (usize, usize)| {
                    let _ = progress.call2(&JsValue::NULL, &done.into(), &all.into());
                })
            };
            let image = || kept_image(&images.borrow(), &image).map_err(fail);
            let files = || -> Vec<web_sys::File> {
                Array::from(&files)
                    .iter()
                    .map(|file| file.unchecked_into())
                    .collect()
            };
            let mut pixels = None;
            let reply = match job {
                Job::SetBackend { backend: name } => {
                    let (preference, software_too) = backend_choice(&name).map_err(fail)?;
                    let backend = apart(prepare_backend(model, preference, software_too)).await;
                    let summary = backend_summary(&backend);
                    *loaded_cell.borrow_mut() = Some(Rc::new(Loaded {
                        model: Rc::clone(model),
                        backend,
                        load_ms: loaded.load_ms,
                    }));
                    to_json(&summary)
                }
                Job::Classify {
                    ablated,
                    one_thread,
                } => {
                    if one_thread {
                        crate::cpu::use_one_thread();
                    }
                    let progress = Progress { report, wanted };
                    let outcome = apart(classify(model, backend, &*image()?, &ablated, &progress))
                        .await
                        .map_err(fail)?;
                    let reply = Classified {
                        baseline: outcome.baseline,
                        ablated: outcome.ablated,
                        preprocess_ms: outcome.preprocess_ms,
                        forward_ms: outcome.forward_ms,
                        backend: outcome.backend.to_string(),
                        cpu_threads: outcome.cpu_threads,
                        relaxed_simd: crate::cpu::RELAXED_SIMD,
                        backend_now: backend_summary(backend),
                        engine_memory: memory_bytes(),
                        seen_width: outcome.seen.width,
                        seen_height: outcome.seen.height,
                    };
                    pixels = Some(outcome.seen.pixels);
                    to_json(&reply)
                }
                Job::ChannelDetail { block, channel } => to_json(
                    &apart(channel_detail(model, backend, &*image()?, &block, channel))
                        .await
                        .map_err(fail)?,
                ),
                Job::SeSteps { block } => to_json(
                    &apart(se_steps(model, backend, &*image()?, &block))
                        .await
                        .map_err(fail)?,
                ),
                Job::ProbeStart { block } => {
                    let base = apart(probe_base(model, backend, &*image()?, &block))
                        .await
                        .map_err(fail)?;
                    let start = ProbeStart {
                        block: base.block.clone(),
                        full: base.full.clone(),
                        picture: (*base.picture).clone(),
                        top: base.top.clone(),
                    };
                    *probe.borrow_mut() = Some(base);
                    to_json(&start)
                }
                Job::ProbeRegion { rect } => {
                    let probe = probe.borrow();
                    let base = probe
                        .as_ref()
                        .ok_or_else(|| fail("no probe was started".into()))?;
                    to_json(&probe_region(model, base, rect).map_err(fail)?)
                }
                Job::ClassifyWithGate { block, gate } => to_json(
                    &apart(classify_with_gate(model, backend, &*image()?, &block, gate))
                        .await
                        .map_err(fail)?,
                ),
                Job::ShippedClassStats { folder } => {
                    to_json(&apart(shipped_class_stats(model, &folder)).await)
                }
                Job::ShippedImportance { folder } => {
                    to_json(&apart(shipped_importance(model, &folder)).await)
                }
                Job::ClassStats => to_json(
                    &apart(class_stats_from_files(model, backend, &files(), report))
                        .await
                        .map_err(fail)?,
                ),
                Job::Importance => {
                    // Stopped (superseded or cancelled) before its next run.
                    let cancel = Rc::new(Cell::new(false));
                    let report = {
                        let cancel = Rc::clone(&cancel);
                        yew::Callback::from(move |(done, all): (usize, usize)| {
                            if !wanted() {
                                cancel.set(true);
                            }
                            let _ = progress.call2(&JsValue::NULL, &done.into(), &all.into());
                        })
                    };
                    to_json(
                        &apart(block_importance_from_files(
                            model,
                            backend,
                            &files(),
                            report,
                            cancel,
                        ))
                        .await
                        .map_err(fail)?,
                    )
                }
            };
            let result = Object::new();
            Reflect::set(&result, &"json".into(), &reply.map_err(fail)?.into())?;
            if let Some(pixels) = pixels {
                Reflect::set(&result, &"pixels".into(), &Uint8Array::from(&pixels[..]))?;
            }
            Ok(result.into())
        })
    }
}

/// `future`, polled apart ([`crate::apart`]) from its caller: `job`'s function with every job's
/// state machine inlined was 105 KB of wasm, ~10 ms to compile before the app's first result
/// (Chromium's trace, wasm.CompileLazy) for the one job it ran.
fn apart<F: Future>(future: F) -> Apart<F> {
    Apart(Box::pin(future))
}

struct Apart<F>(Pin<Box<F>>);

impl<F: Future> Future for Apart<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        crate::apart(|| self.0.as_mut().poll(cx))
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

/// The decoded image a job names (`{ key }`, from [`EngineHost::decode`]).
fn kept_image(images: &[KeptImage], image: &JsValue) -> Result<Rc<RgbImage>, String> {
    let key = Reflect::get(image, &"key".into())
        .ok()
        .and_then(|k| k.as_f64())
        .ok_or("the job names no image")? as u32;
    images
        .iter()
        .find(|(kept, _)| *kept == key)
        .map(|(_, image)| Rc::clone(image))
        .ok_or_else(|| "the image is no longer in the engine; choose it again".into())
}

/// The model `source` names, and the name to report it by.
async fn model_from(
    source: &JsValue,
    hub: Option<&str>,
    onnx: &OnnxOptions,
    progress: yew::Callback<(u64, Option<u64>)>,
) -> Result<Named, String> {
    if let Some(path) = source.as_string() {
        let model = load_model(&path, hub, onnx, progress).await?;
        return Ok((model, path));
    }
    let field = |name: &str| {
        Reflect::get(source, &name.into())
            .ok()
            .filter(|v| !v.is_undefined())
    };
    if let Some(files) = field("files") {
        let files: Vec<web_sys::File> = Array::from(&files)
            .iter()
            .map(|file| file.unchecked_into())
            .collect();
        let names: Vec<String> = files.iter().map(|f| f.name()).collect();
        let model = load_model_files(&files, onnx.clone()).await?;
        return Ok((model, names.join(" + ")));
    }
    let bytes = |value: JsValue| -> Result<Vec<u8>, String> {
        if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>() {
            Ok(Uint8Array::new(&value).to_vec())
        } else {
            Err("a model's files must be given as ArrayBuffer or Uint8Array".into())
        }
    };
    let name = field("name").and_then(|n| n.as_string());
    if let Some(onnx_file) = field("onnx") {
        let name = name.unwrap_or_else(|| "model.onnx".into());
        let mut data = HashMap::new();
        if let Some(files) = field("data") {
            for entry in Object::entries(&files.unchecked_into()).iter() {
                let entry: Array = entry.unchecked_into();
                let file = entry.get(0).as_string().unwrap_or_default();
                data.insert(file, Arc::new(bytes(entry.get(1))?));
            }
        }
        let model = onnx_model(&name, &bytes(onnx_file)?, &data, onnx)?;
        return Ok((model, name));
    }
    match (field("config"), field("weights")) {
        (Some(config), Some(weights)) => {
            let model = Model::from_bytes(&bytes(config)?, &bytes(weights)?)
                .map(Rc::new)
                .map_err(|e| e.to_string())?;
            let name = name.unwrap_or_else(|| model.config.architecture.clone());
            Ok((model, name))
        }
        _ => Err(
            "a model source is a URL, 'hf:owner/name', { config, weights } or { onnx, name, data }"
                .into(),
        ),
    }
}

/// RGB pixels of what the API was given: an encoded image file, a decoded bitmap, or pixels.
async fn pixels(image: JsValue) -> Result<RgbImage, String> {
    if let Some(blob) = image.dyn_ref::<Blob>() {
        return decode_image(blob).await;
    }
    if image.is_instance_of::<ImageBitmap>() {
        return rgb_of_bitmap(image.unchecked_into());
    }
    if let Some(data) = image.dyn_ref::<ImageData>() {
        let (width, height) = (data.width(), data.height());
        preprocess::check_pixels(width.into(), height.into()).map_err(|e| e.to_string())?;
        // Composited on white, as a decoded file is.
        let mut rgba = data.data().0;
        for pixel in rgba.chunks_exact_mut(4) {
            let alpha = u32::from(pixel[3]);
            for c in &mut pixel[..3] {
                *c = ((u32::from(*c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
            }
        }
        return rgb_of_rgba(width, height, &rgba);
    }
    Err("an image is a Blob, an ImageBitmap or an ImageData".into())
}

/// What a model is, for the API's `load`.
fn model_info(model: &Model, backend: &Backend, name: &str) -> Result<JsValue, JsValue> {
    let blocks: Vec<_> = model
        .graph
        .se_blocks
        .iter()
        .map(|se| serde_json::json!({ "name": se.name, "channels": se.channels }))
        .collect();
    let info = serde_json::json!({
        "name": name,
        "architecture": model.config.architecture,
        "inputSize": model.config.pretrained_cfg.input_size,
        "labels": model.labels,
        "blocks": blocks,
        "backend": backend.name(),
        "adapter": backend.adapter(),
        "fallbackReason": backend.fallback_reason(),
        "threads": crate::cpu::thread_count(),
        "note": backend.note(),
        // What the app needs (src/ui/protocol.rs).
        "loaded": serde_json::to_string(&protocol::Loaded {
            model: ModelSummary::of(model),
            backend: backend_summary(backend),
        }).ok(),
    });
    js_sys::JSON::parse(&info.to_string())
}

/// The CLI's `--json` report of one run, each gate a `Float32Array` (with its heatmap when
/// `paint` is given).
fn report(
    loaded: &Loaded,
    run: &RunView,
    backend: &str,
    timings: Option<Timings>,
    paint: Option<Paint>,
) -> Result<JsValue, JsValue> {
    let fallback = loaded.backend.fallback_reason();
    let adapter = loaded.backend.adapter();
    let text = Report {
        model: &loaded.model.config.architecture,
        input: "",
        backend,
        adapter: adapter.as_deref(),
        fallback_reason: fallback.as_deref(),
        top: &run.top,
        logits: &run.logits,
        excitations: Vec::<Excitation>::new(),
        timings_ms: timings,
    }
    .to_json();
    let result = js_sys::JSON::parse(&text)?;
    Reflect::delete_property(result.unchecked_ref::<Object>(), &"input".into())?;
    Reflect::set(
        &result,
        &"logits".into(),
        &Float32Array::from(&run.logits[..]),
    )?;
    let excitations = Array::new();
    for block in &run.blocks {
        let entry = Object::new();
        Reflect::set(&entry, &"block".into(), &block.block.as_str().into())?;
        Reflect::set(
            &entry,
            &"values".into(),
            &Float32Array::from(&block.values[..]),
        )?;
        if let Some(paint) = paint {
            let (columns, rows) = block.grid();
            let heatmap =
                image_data(columns, rows, &paint.pixels(block)).map_err(|e| JsError::new(&e))?;
            Reflect::set(&entry, &"heatmap".into(), &heatmap)?;
        }
        excitations.push(&entry);
    }
    Reflect::set(&result, &"excitations".into(), &excitations)?;
    Ok(result)
}

/// The backend as the page shows it.
fn backend_summary(backend: &Backend) -> BackendSummary {
    BackendSummary {
        name: backend.name().to_string(),
        adapter: backend.adapter(),
        fallback_reason: backend.fallback_reason(),
        note: backend.note(),
    }
}

/// A backend's name: `auto`, `webgpu`, `cpu`, or `auto-software` (`auto` that measures a software
/// GPU too: the app's `?debug=calibrate`, for its e2e test).
fn backend_choice(name: &str) -> Result<(BackendPreference, bool), String> {
    if name == "auto-software" {
        return Ok((BackendPreference::Auto, true));
    }
    BackendPreference::parse(name)
        .map(|preference| (preference, false))
        .ok_or_else(|| format!("unknown backend '{name}'"))
}

/// This instance's wasm memory in bytes.
fn memory_bytes() -> usize {
    let buffer = Reflect::get(&wasm_bindgen::memory(), &"buffer".into());
    buffer
        .and_then(|b| Reflect::get(&b, &"byteLength".into()))
        .ok()
        .and_then(|n| n.as_f64())
        .unwrap_or(0.0) as usize
}
