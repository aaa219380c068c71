//! The page: pick a model and an image, see the prediction and every SE block's gates, switch
//! gates off and see what changes.

use std::collections::BTreeSet;
use std::rc::Rc;

use serde::Deserialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Blob, ClipboardEvent, DragEvent, HtmlCanvasElement, HtmlInputElement};
use yew::prelude::*;

use super::browser::{
    announce, capture_frame, close_camera, decode_image, draw_rgb, fetch_blob, fetch_bytes, keep,
    kept, now_ms, object_url, open_camera, query_param, revoke_object_url, set_query_param,
};
use super::client::{Engine, Outcome};
use super::heatmap::{colour, diverging, legend_gradient, FeatureMaps, Heatmap, Paint, Scale};
use super::hub::CHECKPOINTS;
use super::jobs::onnx_options_from_url;
use super::overview::{DepthChart, Overview};
use super::preprocess::PreprocessForm;
use super::protocol::{BackendSummary, Job, Loaded, ModelSummary};
use super::research::{ImportancePanel, RegionProbePanel};
use super::teaching::{BlockSteps, ClassStatsPanel};
use super::tour::Tour;
use super::view_model::{BlockView, ChannelDetail, CompareView, Preprocessing, RunView};
use crate::preprocess::RgbImage;
use crate::runtime::BackendPreference;

/// The embedded default model (copied into `dist/` by scripts/build-web.sh).
const DEFAULT_MODEL: &str = "assets/models/seresnet10-fmnist";
const SAMPLES: &str = "assets/samples";
/// A run that reports no progress for this long is said to be stalled, with a way out.
const STALL_AFTER_MS: f64 = 30_000.0;
/// How often a running run is checked for a stall.
const STALL_CHECK: std::time::Duration = std::time::Duration::from_secs(2);
/// Channels listed as most amplified / most suppressed per block.
const EXTREMES: usize = 5;

/// A gallery entry of `assets/samples/index.json`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Sample {
    pub file: String,
    pub label: String,
}

/// The current image, as decoded (each model's photo rule applies to it when it runs).
struct Input {
    name: String,
    image: Rc<RgbImage>,
}

pub enum Msg {
    /// The engine worker started (or could not).
    EngineReady(Result<Engine, String>),
    /// The engine crashed and came back with the same model (the message says what happened);
    /// what it was doing runs again.
    EngineRestarted(String),
    LoadModel(String),
    /// Bytes of the model download so far, and the total when known.
    Progress(u64, Option<u64>),
    HubIdEdited(String),
    LoadHubModel,
    LoadModelFiles(Vec<web_sys::File>),
    ModelLoaded {
        name: String,
        /// Loaded from a URL path or hub id, which the page's URL can name again (not from
        /// files).
        from_url: bool,
        result: Result<Loaded, String>,
    },
    SetBackend(BackendPreference),
    BackendReady(Result<BackendSummary, String>),
    SamplesLoaded(Vec<Sample>),
    ChooseSample(String),
    ChooseFile(Blob, String),
    Decoded(Result<(String, RgbImage), String>),
    /// Run `id` finished (a run superseded by a newer one is ignored).
    Ran(usize, Result<Outcome, String>),
    /// Time to check whether run `id` is still making progress.
    CheckStall(usize),
    /// Run again with the CPU path on the page's thread only.
    RetryOnOneThread,
    ToggleAblation(String),
    SetAllAblated(bool),
    SetScale(Scale),
    Rerun,
    /// Residual blocks done and in all, during a run.
    RunProgress(usize, usize),
    Pin,
    Unpin,
    OpenCamera,
    CameraReady(Result<web_sys::MediaStream, String>),
    Capture,
    CloseCamera,
    /// The ONNX preprocessing form's values: into the URL, and the model loaded again.
    ApplyPreprocessing(Preprocessing),
    SelectChannel(String, usize),
    ChannelShown(Result<ChannelDetail, String>),
}

/// Image A of a comparison: its name, its run (with the model's own gates), and the current
/// image's difference from it (computed once per run; `None` when the model changed since).
struct Pinned {
    name: String,
    run: Rc<RunView>,
    compare: Option<CompareView>,
}

pub struct App {
    /// The loaded model's name (its URL path, or the chosen files' names).
    model_name: String,
    /// The engine worker, which holds the model and runs it.
    engine: Option<Engine>,
    model: Option<Rc<ModelSummary>>,
    /// Where the model runs (`?backend=`): its weights on the GPU, or the CPU and why.
    backend: Option<BackendSummary>,
    /// The engine crashed and was started again: what happened.
    restarted: Option<String>,
    /// The CPU path runs on one thread (after a stalled run).
    one_thread: bool,
    /// `?debug=panic` asked the engine to panic once, and it did.
    debug_panicked: bool,
    preference: BackendPreference,
    samples: Vec<Sample>,
    input: Option<Rc<Input>>,
    outcome: Option<Outcome>,
    ablated: BTreeSet<String>,
    scale: Scale,
    pinned: Option<Pinned>,
    /// The channel detail view: one channel's feature map before and after its gate.
    detail: Option<Rc<ChannelDetail>>,
    status: String,
    error: Option<String>,
    /// Object URLs of the current export links (revoked when replaced).
    downloads: Option<(String, String)>,
    busy: bool,
    /// The document's `paste` listener (an image pasted anywhere on the page is classified).
    _paste: Option<Closure<dyn Fn(ClipboardEvent)>>,
    /// The model download's progress, while one runs.
    progress: Option<(u64, Option<u64>)>,
    /// The hub id typed into the model bar.
    hub_id: String,
    /// Completed classifications (the status's `data-run`, so tests can wait for the next one).
    runs: usize,
    /// The latest run started; results of earlier ones are dropped.
    run_id: usize,
    /// When the latest run last reported progress (`now_ms`).
    run_progress_at: f64,
    /// The latest run made no progress for [`STALL_AFTER_MS`].
    stalled: bool,
    /// `se-lens-settled` was dispatched: the page has shown what it was opened for (the model,
    /// and the sample it names), so the service worker may now download the build for offline
    /// use (www/offline.js) without slowing the first result.
    settled: bool,
    seen_canvas: NodeRef,
    /// The open camera stream and the video element showing it.
    camera: Option<web_sys::MediaStream>,
    camera_video: NodeRef,
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let link = ctx.link();
        let preference = query_param("backend")
            .and_then(|text| BackendPreference::parse(&text))
            .unwrap_or(BackendPreference::Auto);
        let restarted = link.callback(Msg::EngineRestarted);
        link.send_future(async move {
            let calibrate = query_param("debug").as_deref() == Some("calibrate");
            let backend = match preference {
                // `?debug=calibrate`: auto measures the software GPU too (its e2e test).
                BackendPreference::Auto if calibrate => "auto-software",
                BackendPreference::Auto => "auto",
                BackendPreference::Gpu => "webgpu",
                BackendPreference::Cpu => "cpu",
            };
            let hub = query_param("hub");
            Msg::EngineReady(Engine::start(backend, hub.as_deref(), restarted).await)
        });
        link.send_future(async move {
            let samples = fetch_bytes(&format!("{SAMPLES}/index.json"))
                .await
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default();
            Msg::SamplesLoaded(samples)
        });
        Self {
            status: String::new(),
            model_name: String::new(),
            engine: None,
            model: None,
            backend: None,
            restarted: None,
            one_thread: false,
            debug_panicked: false,
            preference,
            samples: Vec::new(),
            input: None,
            outcome: None,
            ablated: BTreeSet::new(),
            scale: Scale::Block,
            pinned: None,
            detail: None,
            error: None,
            downloads: None,
            busy: true,
            _paste: listen_for_pasted_images(ctx.link().clone()),
            runs: 0,
            run_id: 0,
            run_progress_at: 0.0,
            stalled: false,
            settled: false,
            progress: None,
            hub_id: String::new(),
            seen_canvas: NodeRef::default(),
            camera: None,
            camera_video: NodeRef::default(),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::EngineReady(Ok(engine)) => {
                self.engine = Some(engine);
                // After a crash of the page (www/crash.js) the app starts again with the model
                // files it had.
                match kept("model-files").map(|files| files_of_array(&files.unchecked_into())) {
                    Some(files) if !files.is_empty() => {
                        ctx.link().send_message(Msg::LoadModelFiles(files))
                    }
                    _ => ctx.link().send_message(Msg::LoadModel(
                        query_param("model").unwrap_or_else(|| DEFAULT_MODEL.into()),
                    )),
                }
                return false;
            }
            Msg::EngineReady(Err(e)) => {
                self.busy = false;
                self.error = Some(format!("The engine did not start: {e}"));
            }
            Msg::EngineRestarted(message) => self.restarted = Some(message),
            Msg::LoadModel(path) => {
                let Some(engine) = self.engine.clone() else {
                    return false;
                };
                keep("model-files", None);
                self.busy = true;
                self.error = None;
                self.status = format!("Loading the model {path}…");
                let progress = ctx
                    .link()
                    .callback(|(loaded, total)| Msg::Progress(loaded, total));
                ctx.link().send_future(async move {
                    let result = match onnx_options_from_url().await {
                        Ok(onnx) => engine.load(path.as_str().into(), &onnx, progress).await,
                        Err(e) => Err(e),
                    };
                    Msg::ModelLoaded {
                        name: path,
                        from_url: true,
                        result,
                    }
                });
            }
            Msg::ApplyPreprocessing(values) => {
                for (name, value) in values.params() {
                    set_query_param(name, value);
                }
                // A model the URL names loads from it again; dropped files are read again.
                match (query_param("model"), kept("model-files")) {
                    (Some(path), _) => ctx.link().send_message(Msg::LoadModel(path)),
                    (None, Some(files)) => ctx.link().send_message(Msg::LoadModelFiles(
                        js_sys::Array::from(&files)
                            .iter()
                            .map(JsCast::unchecked_into)
                            .collect(),
                    )),
                    (None, None) => {}
                }
                return false;
            }
            Msg::Progress(loaded, total) => self.progress = Some((loaded, total)),
            Msg::HubIdEdited(id) => {
                self.hub_id = id;
                return false;
            }
            Msg::LoadHubModel => {
                let id = self.hub_id.trim().to_string();
                ctx.link().send_message(Msg::LoadModel(format!("hf:{id}")));
                return false;
            }
            Msg::LoadModelFiles(files) => {
                let Some(engine) = self.engine.clone() else {
                    return false;
                };
                keep(
                    "model-files",
                    Some(&files.iter().collect::<js_sys::Array>()),
                );
                self.busy = true;
                self.error = None;
                let names: Vec<String> = files.iter().map(|f| f.name()).collect();
                self.status = format!("Loading the model from {}…", names.join(" + "));
                ctx.link().send_future(async move {
                    let source = js_sys::Object::new();
                    let list: js_sys::Array = files.iter().collect();
                    let _ = js_sys::Reflect::set(&source, &"files".into(), &list);
                    let result = match onnx_options_from_url().await {
                        Ok(onnx) => engine.load(source.into(), &onnx, progress_none()).await,
                        Err(e) => Err(e),
                    };
                    Msg::ModelLoaded {
                        name: names.join(" + "),
                        from_url: false,
                        result,
                    }
                });
            }
            Msg::ModelLoaded {
                name,
                from_url,
                result: Ok(Loaded { model, backend }),
            } => {
                self.progress = None;
                let first = self.model.is_none();
                self.status = format!(
                    "Model ready: {} ({} classes, {} SE blocks). Choose a sample or drop an image.",
                    model.architecture,
                    model.labels.len(),
                    model.blocks.len()
                );
                self.model = Some(Rc::new(model));
                self.backend = Some(backend);
                self.busy = false;
                self.error = None;
                self.detail = None;
                self.ablated.clear();
                // Only a model the URL can load again is kept in it.
                let reloadable = from_url && name != DEFAULT_MODEL;
                set_query_param("model", reloadable.then_some(name.as_str()));
                self.model_name = name;
                let kept_image = kept("image").zip(kept("image-name"));
                match (&self.input, kept_image, query_param("sample")) {
                    // A new model sees the same image again (through its own photo rule).
                    (Some(_), _, _) => ctx.link().send_message(Msg::Rerun),
                    // After a crash, the image the user had chosen.
                    (None, Some((blob, name)), _) if first => {
                        ctx.link().send_message(Msg::ChooseFile(
                            blob.unchecked_into(),
                            name.as_string().unwrap_or_default(),
                        ))
                    }
                    (None, None, Some(sample)) if first => {
                        ctx.link().send_message(Msg::ChooseSample(sample))
                    }
                    _ => {}
                }
            }
            Msg::ModelLoaded {
                name,
                result: Err(e),
                ..
            } => {
                self.progress = None;
                self.busy = false;
                self.error = Some(format!("Cannot load the model {name}: {e}"));
                self.status = match &self.model {
                    Some(_) => format!("Still using the model {}.", self.model_name),
                    None => "No model loaded.".into(),
                };
            }
            Msg::SetBackend(preference) => {
                self.preference = preference;
                let text = match preference {
                    BackendPreference::Auto => None,
                    BackendPreference::Gpu => Some("webgpu"),
                    BackendPreference::Cpu => Some("cpu"),
                };
                set_query_param("backend", text);
                let (Some(_), Some(engine)) = (&self.model, self.engine.clone()) else {
                    return true;
                };
                let backend = text.unwrap_or("auto");
                self.busy = true;
                self.status = "Setting up the backend…".into();
                ctx.link().send_future(async move {
                    Msg::BackendReady(engine.set_backend(backend).await)
                });
            }
            Msg::BackendReady(Ok(backend)) => {
                self.backend = Some(backend);
                self.busy = false;
                self.status = "Backend ready.".into();
                self.start_run(ctx);
            }
            Msg::BackendReady(Err(e)) => {
                self.busy = false;
                self.error = Some(format!("Cannot set the backend up: {e}"));
            }
            Msg::SamplesLoaded(samples) => self.samples = samples,
            Msg::ChooseSample(file) => {
                keep("image", None);
                set_query_param("sample", Some(&file));
                self.start_decode(ctx, file.clone(), async move {
                    fetch_blob(&format!("{SAMPLES}/{file}")).await
                });
            }
            Msg::ChooseFile(blob, name) => {
                keep("image", Some(&blob));
                keep("image-name", Some(&name.as_str().into()));
                set_query_param("sample", None);
                self.start_decode(ctx, name, async move { Ok(blob) });
            }
            Msg::Decoded(Ok((name, image))) => match &self.model {
                Some(_) => {
                    self.detail = None;
                    self.input = Some(Rc::new(Input {
                        name,
                        image: Rc::new(image),
                    }));
                    self.start_run(ctx);
                }
                None => {
                    self.busy = false;
                    self.error =
                        Some("No model is loaded, so the image cannot be classified.".into());
                }
            },
            Msg::Decoded(Err(e)) => {
                self.busy = false;
                self.error = Some(e);
                self.status = match &self.input {
                    Some(input) => format!("Still showing {}.", input.name),
                    None => "Choose a sample or drop an image.".into(),
                };
            }
            Msg::Ran(id, _) if id != self.run_id => return false,
            Msg::Ran(_, Err(e)) => {
                self.busy = false;
                self.stalled = false;
                self.error = Some(e);
            }
            Msg::CheckStall(id) => {
                if id != self.run_id || !self.busy {
                    return false;
                }
                // `?debug=stall` (the e2e test of this notice) says so after a moment.
                let limit = match query_param("debug").as_deref() {
                    Some("stall") => 2_000.0,
                    _ => STALL_AFTER_MS,
                };
                if now_ms() - self.run_progress_at < limit {
                    self.check_stall_later(ctx);
                    return false;
                }
                self.stalled = true;
            }
            Msg::RetryOnOneThread => {
                self.one_thread = true;
                self.start_run(ctx);
            }
            Msg::Ran(_, Ok(outcome)) => {
                // The e2e test of the page's own crash recovery (www/crash.js): one deliberate
                // panic after a run.
                if query_param("debug").as_deref() == Some("panic-page")
                    && kept("debug-panicked").is_none()
                {
                    keep("debug-panicked", Some(&true.into()));
                    panic!("a deliberate panic (?debug=panic-page), to test the crash recovery");
                }
                self.busy = false;
                self.stalled = false;
                self.runs += 1;
                self.status = format!(
                    "Classified {} on {} in {:.1} ms (preprocessing {:.1} ms).",
                    self.input.as_ref().map_or("", |i| i.name.as_str()),
                    match outcome.backend.as_str() {
                        "webgpu" => "WebGPU",
                        _ => "the CPU",
                    },
                    outcome.forward_ms,
                    outcome.preprocess_ms
                );
                self.set_downloads(&outcome.baseline, &outcome.backend);
                self.backend = Some(outcome.backend_now.clone());
                if let Some(pinned) = &mut self.pinned {
                    pinned.compare = CompareView::new(&pinned.run, &outcome.baseline);
                }
                self.outcome = Some(outcome);
            }
            Msg::ToggleAblation(block) => {
                if !self.ablated.remove(&block) {
                    self.ablated.insert(block);
                }
                self.start_run(ctx);
            }
            Msg::SetScale(scale) => self.scale = scale,
            Msg::Rerun => self.start_run(ctx),
            Msg::RunProgress(done, all) => {
                let (Some(model), Some(input)) = (&self.model, &self.input) else {
                    return false;
                };
                self.run_progress_at = now_ms();
                self.status = format!(
                    "Running {} on {}: block {done} of {all}…",
                    model.architecture, input.name
                );
            }
            Msg::Pin => {
                if let (Some(input), Some(outcome)) = (&self.input, &self.outcome) {
                    self.pinned = Some(Pinned {
                        name: input.name.clone(),
                        run: outcome.baseline.clone(),
                        compare: CompareView::new(&outcome.baseline, &outcome.baseline),
                    });
                }
            }
            Msg::Unpin => self.pinned = None,
            Msg::OpenCamera => {
                ctx.link()
                    .send_future(async { Msg::CameraReady(open_camera().await) });
                return false;
            }
            Msg::CameraReady(Ok(stream)) => self.camera = Some(stream),
            Msg::CameraReady(Err(e)) => self.error = Some(e),
            Msg::Capture => {
                let frame = self
                    .camera_video
                    .cast::<web_sys::HtmlVideoElement>()
                    .ok_or_else(|| "the camera view is gone".to_string())
                    .and_then(|video| capture_frame(&video));
                ctx.link().send_message(Msg::CloseCamera);
                set_query_param("sample", None);
                ctx.link().send_message(Msg::Decoded(
                    frame.map(|image| ("camera photo".into(), image)),
                ));
            }
            Msg::CloseCamera => {
                if let Some(stream) = self.camera.take() {
                    close_camera(&stream);
                }
            }
            Msg::SelectChannel(block, channel) => {
                let (Some(engine), Some(input)) = (self.engine.clone(), self.input.clone()) else {
                    return false;
                };
                ctx.link().send_future(async move {
                    let job = Job::ChannelDetail { block, channel };
                    let detail = engine
                        .run("detail", &job, Some(&input.image), &[], None, None)
                        .await;
                    Msg::ChannelShown(detail.map(|(detail, _)| detail))
                });
                return false;
            }
            Msg::ChannelShown(Ok(detail)) => self.detail = Some(Rc::new(detail)),
            Msg::ChannelShown(Err(e)) => self.error = Some(e),
            Msg::SetAllAblated(off) => {
                self.ablated = match (&self.model, off) {
                    (Some(model), true) => model.block_names().map(str::to_owned).collect(),
                    _ => BTreeSet::new(),
                };
                self.start_run(ctx);
            }
        }
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first_render: bool) {
        if !self.settled
            && !self.busy
            && (self.outcome.is_some() || query_param("sample").is_none())
        {
            self.settled = true;
            announce("se-lens-settled");
        }
        if let (Some(canvas), Some(outcome)) =
            (self.seen_canvas.cast::<HtmlCanvasElement>(), &self.outcome)
        {
            draw_rgb(&canvas, &outcome.seen);
        }
        if let (Some(video), Some(stream)) = (
            self.camera_video.cast::<web_sys::HtmlVideoElement>(),
            &self.camera,
        ) {
            if video.src_object().is_none() {
                video.set_src_object(Some(stream));
            }
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        html! {
            <main class="page">
                <header>
                    <h1>{ "SE Lens" }</h1>
                    <Tour />
                    <p class="tagline">
                        { "See which channels each Squeeze-and-Excitation block amplifies and which it suppresses. \
                           Everything runs in your browser; your images never leave it." }
                    </p>
                </header>
                <section class="bar" aria-label="model and backend">
                    <label>{ "Model " }
                        <select data-testid="model-select" aria-label="model" onchange={link.callback(|event: Event| {
                            let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
                            Msg::LoadModel(select.value())
                        })}>
                            <option value={DEFAULT_MODEL} selected={self.model_name == DEFAULT_MODEL}>
                                { "Fashion-MNIST SE-ResNet (default)" }
                            </option>
                            if self.model_name != DEFAULT_MODEL && !self.model_name.is_empty()
                                && !CHECKPOINTS.iter().any(|c| c.value() == self.model_name) {
                                <option value={self.model_name.clone()} selected=true>{ &self.model_name }</option>
                            }
                            <optgroup label="Pretrained on ImageNet: downloaded from the Hugging Face hub once, then cached">
                                { for CHECKPOINTS.iter().map(|c| html! {
                                    <option value={c.value()} selected={self.model_name == c.value()}>{ c.label() }</option>
                                }) }
                            </optgroup>
                        </select>
                    </label>
                    <span class="hub">
                        <input type="text" data-testid="hub-id" aria-label="Hugging Face hub model id"
                               placeholder="hub id, e.g. timm/seresnet50.a1_in1k" value={self.hub_id.clone()}
                               oninput={link.callback(|event: InputEvent| {
                                   let input: HtmlInputElement = event.target_unchecked_into();
                                   Msg::HubIdEdited(input.value())
                               })} />
                        <button data-testid="hub-load" onclick={link.callback(|_| Msg::LoadHubModel)}>
                            { "Load from the hub" }
                        </button>
                    </span>
                    <label class="button">
                        { "Load a model (.onnx, or config.json + model.safetensors)…" }
                        <input type="file" multiple=true accept=".onnx,.data,.bin,.txt,.json,.safetensors,.pth" data-testid="model-files"
                               class="visually-hidden" onchange={link.batch_callback(|event: Event| {
                                   let input: HtmlInputElement = event.target_unchecked_into();
                                   let files = input.files().map(|list| files_of(&list)).unwrap_or_default();
                                   input.set_value("");
                                   (!files.is_empty()).then_some(Msg::LoadModelFiles(files))
                               })} />
                    </label>
                    { self.view_backend(link) }
                </section>
                if let Some((loaded, total)) = self.progress {
                    <p class="download">
                        <progress data-testid="progress" value={loaded.to_string()}
                                  max={total.unwrap_or(0).max(loaded).to_string()} />
                        { match total {
                            Some(total) => format!(" {:.1} of {:.1} MB", loaded as f64 / 1e6, total as f64 / 1e6),
                            None => format!(" {:.1} MB", loaded as f64 / 1e6),
                        } }
                    </p>
                }
                <p data-testid="status" data-run={self.runs.to_string()} aria-live="polite"
                   class={classes!("status", self.busy.then_some("busy"))}>
                    { &self.status }
                </p>
                if self.stalled {
                    <p data-testid="stalled" class="error" role="alert">
                        { format!("This run has made no progress for {} s. ", STALL_AFTER_MS / 1000.0) }
                        if !self.one_thread && threads_possible() {
                            <button data-testid="retry-one-thread" onclick={link.callback(|_| Msg::RetryOnOneThread)}>
                                { "Run it again on one thread" }
                            </button>
                        } else {
                            <button data-testid="retry-one-thread" onclick={link.callback(|_| Msg::Rerun)}>
                                { "Run it again" }
                            </button>
                        }
                    </p>
                }
                if let Some(error) = &self.error {
                    <p data-testid="error" class="error" role="alert">{ error }</p>
                }
                if let Some(message) = &self.restarted {
                    <div data-testid="engine-restarted" class="note" role="status">
                        { "The engine hit an internal error and started again with the same model; \
                           what it was doing ran again, and nothing on this page was lost. " }
                        <details><summary>{ "What happened" }</summary><code>{ message }</code></details>
                    </div>
                }
                { self.view_onnx_preprocess(link) }
                { self.view_input(link) }
                { self.view_outcome(link) }
                { self.view_teaching() }
            </main>
        }
    }
}

impl App {
    fn start_decode(
        &mut self,
        ctx: &Context<Self>,
        name: String,
        blob: impl std::future::Future<Output = Result<Blob, String>> + 'static,
    ) {
        self.busy = true;
        self.error = None;
        self.status = format!("Decoding {name}…");
        ctx.link().send_future(async move {
            let decoded = match blob.await {
                Ok(blob) => decode_image(&blob)
                    .await
                    .map_err(|e| format!("{name}: {e}")),
                Err(e) => Err(e),
            };
            Msg::Decoded(decoded.map(|image| (name, image)))
        });
    }

    /// Classifies the current input after yielding to the browser, so the status shows first.
    fn start_run(&mut self, ctx: &Context<Self>) {
        let (Some(model), Some(engine), Some(input)) =
            (self.model.clone(), self.engine.clone(), self.input.clone())
        else {
            return;
        };
        self.busy = true;
        self.stalled = false;
        self.run_id += 1;
        self.run_progress_at = now_ms();
        self.status = format!("Running {} on {}…", model.architecture, input.name);
        let ablated = self.ablated.clone();
        let progress = ctx
            .link()
            .callback(|(done, all)| Msg::RunProgress(done, all));
        // `?debug=panic`: the engine panics on the first run (the e2e test of the crash
        // recovery); the API runs it again on a fresh worker.
        let panic = !self.debug_panicked && query_param("debug").as_deref() == Some("panic");
        self.debug_panicked |= panic;
        let one_thread = self.one_thread;
        let id = self.run_id;
        // `?debug=stall`: the first run never finishes (the e2e test of the stall notice).
        let stall = id == 1 && query_param("debug").as_deref() == Some("stall");
        ctx.link().send_future(async move {
            if stall {
                std::future::pending::<()>().await;
            }
            let debug = panic.then_some("panic");
            let outcome = engine
                .classify(&input.image, ablated, one_thread, progress, debug)
                .await;
            Msg::Ran(id, outcome)
        });
        self.check_stall_later(ctx);
    }

    /// Checks the latest run for a stall after [`STALL_CHECK`].
    fn check_stall_later(&self, ctx: &Context<Self>) {
        let id = self.run_id;
        ctx.link().send_future(async move {
            yew::platform::time::sleep(STALL_CHECK).await;
            Msg::CheckStall(id)
        });
    }

    fn set_downloads(&mut self, view: &RunView, backend: &str) {
        if let Some((json, csv)) = self.downloads.take() {
            revoke_object_url(&json);
            revoke_object_url(&csv);
        }
        let (Some(model), Some(input)) = (&self.model, &self.input) else {
            return;
        };
        let json = object_url(
            &view.to_json(&model.architecture, &input.name, backend),
            "application/json",
        );
        let csv = object_url(&view.to_csv(), "text/csv");
        self.downloads = json.zip(csv);
    }

    /// The backend picker, the badge (what computed the shown result, or what the next run
    /// uses) and, when the GPU was asked for but is not used, why.
    /// An ONNX file carries no preprocessing: what the page chose, and how to choose otherwise.
    fn view_onnx_preprocess(&self, link: &html::Scope<Self>) -> Html {
        let Some(model) = &self.model else {
            return Html::default();
        };
        let Some(onnx) = &model.onnx else {
            return Html::default();
        };
        let cfg = &model.pretrained_cfg;
        let [_, height, width] = cfg.input_size;
        let list = |values: &[f32]| {
            let parts: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            parts.join(", ")
        };
        let scores = match model.scores {
            crate::engine::Scores::Probabilities => {
                "its outputs are probabilities (it ends in a softmax)"
            }
            crate::engine::Scores::Logits if model.labels.len() == 1 => {
                "its one output is a binary classifier's logit"
            }
            crate::engine::Scores::Logits => "its outputs are logits",
        };
        let metadata: Vec<String> = onnx
            .metadata
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        html! {
            <>
            <p class="note" data-testid="onnx-preprocess">
                { format!(
                    "{} is an ONNX file (opset {}); {scores}. It carries no preprocessing, so images are resized \
                     ({}) and centre-cropped ({:.1}%) to {height}×{width}, then normalised with mean [{}] and std [{}] \
                     (R, G, B, on the 0–1 scale){}. Change it below (the address keeps it), or drop a \
                     preprocessing .json or a labels .txt with the model.",
                    self.model_name, onnx.opset, cfg.interpolation, cfg.crop_pct * 100.0,
                    list(&cfg.mean), list(&cfg.std),
                    if onnx.bgr { " and fed to the model as B, G, R" } else { "" }) }
                if !metadata.is_empty() {
                    <br />{ format!("The file says: {}.", metadata.join("; ")) }
                }
            </p>
            if let Some(values) = Preprocessing::of(model) {
                <PreprocessForm {values} on_apply={link.callback(Msg::ApplyPreprocessing)} />
            }
            </>
        }
    }

    fn view_backend(&self, link: &html::Scope<Self>) -> Html {
        let badge = match (&self.outcome, &self.backend) {
            (Some(outcome), _) => outcome.backend.clone(),
            (None, Some(backend)) => backend.name.clone(),
            (None, None) => "cpu".into(),
        };
        let fallback = self
            .backend
            .as_ref()
            .and_then(|b| b.fallback_reason.clone());
        let note = self.backend.as_ref().and_then(|b| b.note.clone());
        let option = |value: &str, label: &str, preference: BackendPreference| {
            html! { <option value={value.to_string()} selected={self.preference == preference}>{ label }</option> }
        };
        html! {
            <>
                <label>{ "Backend " }
                    <select data-testid="backend-select" aria-label="backend" onchange={link.callback(|event: Event| {
                        let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
                        Msg::SetBackend(BackendPreference::parse(&select.value()).unwrap_or(BackendPreference::Auto))
                    })}>
                        { option("auto", "auto", BackendPreference::Auto) }
                        { option("webgpu", "WebGPU", BackendPreference::Gpu) }
                        { option("cpu", "CPU", BackendPreference::Cpu) }
                    </select>
                </label>
                <span data-testid="backend-badge" class="badge" title={self.backend.as_ref().and_then(|b| b.adapter.clone())}>{ badge }</span>
                if let Some(reason) = fallback {
                    <span class="note" data-testid="fallback-reason">
                        { format!("WebGPU not used, running on the CPU: {reason}") }
                    </span>
                }
                if let Some(note) = note {
                    <span class="note" data-testid="backend-note">{ note }</span>
                }
            </>
        }
    }

    /// One block step by step and the squeeze-region probe (once an image is classified), the
    /// class statistics, and which blocks matter.
    fn view_teaching(&self) -> Html {
        let (Some(model), Some(engine)) = (&self.model, &self.engine) else {
            return html! {};
        };
        // Only a model folder on this site can ship statistics (`class_stats.json`,
        // `importance.json`).
        let folder = (!self.model_name.starts_with("hf:") && !self.model_name.contains(" + "))
            .then(|| self.model_name.clone());
        html! {
            <>
                if let (Some(input), Some(_)) = (&self.input, &self.outcome) {
                    <BlockSteps engine={engine.clone()} model={model.clone()} image={input.image.clone()} />
                    <RegionProbePanel engine={engine.clone()} model={model.clone()} image={input.image.clone()} />
                }
                <ClassStatsPanel engine={engine.clone()} model={model.clone()} folder={folder.clone()} />
                <ImportancePanel engine={engine.clone()} model={model.clone()} {folder} />
            </>
        }
    }

    fn view_input(&self, link: &html::Scope<Self>) -> Html {
        let onchange = link.batch_callback(|event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let file = input.files().and_then(|files| files.get(0));
            input.set_value("");
            file.map(|file| {
                let name = file.name();
                Msg::ChooseFile(file.into(), name)
            })
        });
        let ondragover = Callback::from(|event: DragEvent| event.prevent_default());
        // Dropped model files (an .onnx with what goes with it, or config.json +
        // model.safetensors) load a model; anything else is taken as an image.
        let ondrop = link.batch_callback(|event: DragEvent| {
            event.prevent_default();
            let files = files_of(&event.data_transfer()?.files()?);
            let is_model_file = |f: &web_sys::File| {
                [".onnx", ".json", ".safetensors", ".bin", ".pth"]
                    .iter()
                    .any(|s| f.name().ends_with(s))
            };
            if files.iter().any(is_model_file) {
                return Some(Msg::LoadModelFiles(files));
            }
            let file = files.into_iter().next()?;
            let name = file.name();
            Some(Msg::ChooseFile(file.into(), name))
        });
        let sample_name = query_param("sample");
        html! {
            <section class="input">
                <div class="drop-zone" data-testid="drop-zone" {ondragover} {ondrop}>
                    <label class="button">
                        { "Choose an image…" }
                        <input type="file" accept="image/*" data-testid="file-input" class="visually-hidden" {onchange} />
                    </label>
                    <span class="muted">{ " or drop one here, or paste one (Ctrl+V), or " }</span>
                    <button data-testid="camera" onclick={link.callback(|_| Msg::OpenCamera)}>{ "use the camera" }</button>
                    if self.camera.is_some() {
                        <div class="camera">
                            <video ref={self.camera_video.clone()} data-testid="camera-view" autoplay=true muted=true playsinline=true />
                            <button data-testid="capture" onclick={link.callback(|_| Msg::Capture)}>{ "Take the picture" }</button>
                            <button onclick={link.callback(|_| Msg::CloseCamera)}>{ "Close the camera" }</button>
                        </div>
                    }
                </div>
                if !self.samples.is_empty() {
                    <div class="gallery" role="list" aria-label="samples">
                        { for self.samples.iter().map(|sample| {
                            let file = sample.file.clone();
                            let selected = sample_name.as_deref() == Some(sample.file.as_str());
                            html! {
                                <button role="listitem" class={classes!("sample", selected.then_some("selected"))}
                                        title={sample.label.clone()} aria-label={format!("sample: {}", sample.label)}
                                        data-testid={format!("sample-{}", sample.file)}
                                        onclick={link.callback(move |_| Msg::ChooseSample(file.clone()))}>
                                    <img src={format!("{SAMPLES}/{}", sample.file)} alt={sample.label.clone()} />
                                </button>
                            }
                        }) }
                    </div>
                }
                if let (Some(input), Some(_)) = (&self.input, &self.outcome) {
                    <figure class="seen">
                        <canvas ref={self.seen_canvas.clone()} data-testid="network-input" />
                        <figcaption>
                            { format!("What the network sees: {}", input.name) }
                            <span class="muted" data-testid="decoded-size">
                                { format!(" (decoded {}×{})", input.image.width, input.image.height) }
                            </span>
                        </figcaption>
                    </figure>
                }
            </section>
        }
    }

    fn view_outcome(&self, link: &html::Scope<Self>) -> Html {
        let Some(outcome) = &self.outcome else {
            return html! {};
        };
        let shown = outcome.ablated.as_ref().unwrap_or(&outcome.baseline);
        let all_off = self
            .model
            .as_ref()
            .is_some_and(|m| m.blocks.len() == self.ablated.len());
        html! {
            <>
                <section class="prediction" aria-label="prediction">
                    <h2>{ "Prediction" }</h2>
                    <p class="top1">
                        <span data-testid="top1-label">{ shown.top.first().map(|p| p.label.clone()).unwrap_or_default() }</span>
                        if outcome.ablated.is_some() {
                            <span class="muted">{ format!(" (with {} SE block(s) off; with all gates: {})",
                                self.ablated.len(),
                                outcome.baseline.top.first().map(|p| p.label.as_str()).unwrap_or("")) }</span>
                        }
                    </p>
                    <ol class="top">
                        { for shown.top.iter().map(|p| {
                            let before = outcome.ablated.as_ref().and_then(|_| {
                                outcome.baseline.top.iter().find(|b| b.index == p.index).map(|b| b.prob)
                            });
                            html! {
                                <li data-testid="prediction" data-label={p.label.clone()} data-prob={p.prob.to_string()}>
                                    <span class="label">{ &p.label }</span>
                                    <span class="meter"><span style={format!("width: {:.1}%", p.prob * 100.0)}></span></span>
                                    <span class="prob">{ format!("{:.1}%", p.prob * 100.0) }</span>
                                    if let Some(before) = before {
                                        <span class="delta muted">{ format!("(was {:.1}%)", before * 100.0) }</span>
                                    }
                                </li>
                            }
                        }) }
                    </ol>
                    <p class="muted" data-testid="timing" data-engine-memory={outcome.engine_memory.to_string()}>{ format!("Forward pass {:.1} ms on {}, preprocessing {:.1} ms.",
                        outcome.forward_ms,
                        match (outcome.backend.as_str(), outcome.cpu_threads) {
                            ("webgpu", _) => "WebGPU".to_string(),
                            (_, 1) => "the CPU (wasm SIMD, 1 thread)".to_string(),
                            (_, threads) => format!("the CPU (wasm SIMD, {threads} threads)"),
                        },
                        outcome.preprocess_ms) }</p>
                    if let Some((json, csv)) = &self.downloads {
                        <p class="exports">
                            <a data-testid="excitation-json" href={json.clone()} download="excitations.json">{ "Excitations (JSON)" }</a>
                            <a data-testid="excitation-csv" href={csv.clone()} download="excitations.csv">{ "Excitations (CSV)" }</a>
                        </p>
                    }
                </section>
                <section class="excitations" aria-label="excitations">
                    <h2>{ "Excitations" }</h2>
                    <p class="muted">
                        { "Each cell is one channel's gate: the sigmoid output that scales the channel (0 suppresses it, \
                           1 lets it through unchanged; MobileNetV3's hard sigmoid reaches both exactly). Switch a block's \
                           gates off (all ones) to see what it contributes." }
                    </p>
                    <div class="legend">
                        <span>{ if self.scale == Scale::Absolute { "0 (suppressed)" } else { "block's lowest gate" } }</span>
                        <span class="ramp" style={format!("background: {}", legend_gradient(colour))}></span>
                        <span>{ if self.scale == Scale::Absolute { "1 (passed)" } else { "block's highest gate" } }</span>
                        <label>{ " Colour scale " }
                            <select data-testid="scale-select" onchange={link.callback(|event: Event| {
                                let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
                                Msg::SetScale(if select.value() == "absolute" { Scale::Absolute } else { Scale::Block })
                            })}>
                                <option value="block" selected={self.scale == Scale::Block}>{ "each block's range" }</option>
                                <option value="absolute" selected={self.scale == Scale::Absolute}>{ "0 to 1" }</option>
                            </select>
                        </label>
                    </div>
                    <p>
                        <button data-testid="ablate-all" aria-pressed={all_off.to_string()}
                                onclick={link.callback(move |_| Msg::SetAllAblated(!all_off))}>
                            { if all_off { "Switch all gates back on" } else { "Switch all gates off" } }
                        </button>
                    </p>
                    { self.view_compare(link, outcome) }
                    <Overview run={outcome.baseline.clone()} scale={self.scale} />
                    <DepthChart run={outcome.baseline.clone()} />
                    { for outcome.baseline.blocks.iter().map(|block| self.view_block(link, block)) }
                </section>
            </>
        }
    }

    /// Pin the current image as A; then every new image B shows `B − A` per block.
    fn view_compare(&self, link: &html::Scope<Self>, outcome: &Outcome) -> Html {
        let Some(pinned) = &self.pinned else {
            return html! {
                <p>
                    <button data-testid="pin" onclick={link.callback(|_| Msg::Pin)}>
                        { "Pin this image as A, then load another to compare" }
                    </button>
                </p>
            };
        };
        let current = self.input.as_ref().map_or("", |i| i.name.as_str());
        let unpin = html! {
            <button data-testid="unpin" onclick={link.callback(|_| Msg::Unpin)}>{ "Unpin" }</button>
        };
        let Some(compare) = &pinned.compare else {
            return html! {
                <p class="note">{ format!("A ({}) was pinned with another model; it cannot be compared. ", pinned.name) }{ unpin }</p>
            };
        };
        let label = |run: &RunView| {
            run.top
                .first()
                .map(|p| format!("{} ({:.1}%)", p.label, p.prob * 100.0))
                .unwrap_or_default()
        };
        html! {
            <section class="compare" data-testid="compare" aria-label="comparison">
                <h3>{ format!("Compare: B = {current} minus A = {}", pinned.name) }</h3>
                <p>
                    { format!("A: {} · B: {} · largest change {:.3}. ", label(&pinned.run), label(&outcome.baseline), compare.limit) }
                    { unpin }
                </p>
                <div class="legend">
                    <span>{ format!("−{:.3} (lower in B)", compare.limit) }</span>
                    <span class="ramp" style={format!("background: {}", legend_gradient(|t| diverging(2.0 * t - 1.0, 1.0)))}></span>
                    <span>{ format!("+{:.3} (higher in B)", compare.limit) }</span>
                </div>
                { for compare.blocks.iter().map(|block| {
                    let changed = CompareView::most_changed(block, EXTREMES)
                        .iter()
                        .map(|&c| format!("#{c} ({:+.3})", block.values[c]))
                        .collect::<Vec<_>>()
                        .join(", ");
                    html! {
                        <article class="block">
                            <Heatmap block={block.clone()} paint={Paint::Difference { limit: compare.limit }} />
                            <p class="extremes">{ "Changed most: " }{ changed }</p>
                        </article>
                    }
                }) }
            </section>
        }
    }

    fn view_block(&self, link: &html::Scope<Self>, block: &Rc<BlockView>) -> Html {
        let name = block.block.clone();
        let off = self.ablated.contains(&name);
        let list = |channels: Vec<usize>| {
            channels
                .iter()
                .map(|&c| format!("#{c} ({:.3})", block.values[c]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let toggle = {
            let name = name.clone();
            link.callback(move |_| Msg::ToggleAblation(name.clone()))
        };
        let select = {
            let name = name.clone();
            link.callback(move |channel| Msg::SelectChannel(name.clone(), channel))
        };
        let detail = self.detail.clone().filter(|d| d.block == name);
        let saturated = block.saturated();
        html! {
            <article class={classes!("block", off.then_some("off"))}>
                <Heatmap block={block.clone()} paint={Paint::Gates(self.scale)} on_select={Some(select)} />
                if let Some(detail) = detail {
                    <FeatureMaps {detail} />
                }
                <p class="extremes">
                    <span>{ "Most amplified: " }{ list(block.amplified(EXTREMES).to_vec()) }</span><br />
                    <span>{ "Most suppressed: " }{ list(block.suppressed(EXTREMES)) }</span>
                    if saturated != (0, 0) {
                        <br />
                        <span data-testid={format!("saturated-{name}")}>
                            { format!("Exactly 0 (shut off): {} channels; exactly 1 (passed unchanged): {}", saturated.0, saturated.1) }
                        </span>
                    }
                </p>
                <label class="toggle">
                    <input type="checkbox" data-testid={format!("ablate-{name}")} checked={off} onchange={toggle} />
                    { " gates off (all ones) for this block" }
                </label>
            </article>
        }
    }
}

/// Sends a pasted image file (Ctrl+V anywhere on the page) as a chosen file.
fn listen_for_pasted_images(link: html::Scope<App>) -> Option<Closure<dyn Fn(ClipboardEvent)>> {
    let listener = Closure::<dyn Fn(ClipboardEvent)>::new(move |event: ClipboardEvent| {
        let file = event
            .clipboard_data()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file.filter(|f| f.type_().starts_with("image/")) {
            event.prevent_default();
            let name = Some(file.name())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "pasted image".into());
            link.send_message(Msg::ChooseFile(file.into(), name));
        }
    });
    web_sys::window()?
        .document()?
        .add_event_listener_with_callback("paste", listener.as_ref().unchecked_ref())
        .ok()?;
    Some(listener)
}

fn files_of(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The `File`s of a JS array (what [`keep`] kept).
fn files_of_array(array: &js_sys::Array) -> Vec<web_sys::File> {
    array
        .iter()
        .filter_map(|file| file.dyn_into().ok())
        .collect()
}

/// Whether the engine worker can run the CPU path on more than one thread here.
fn threads_possible() -> bool {
    let global = js_sys::global();
    let isolated =
        js_sys::Reflect::get(&global, &"crossOriginIsolated".into()).is_ok_and(|v| v.is_truthy());
    isolated && web_sys::window().is_some_and(|w| w.navigator().hardware_concurrency() > 1.0)
}

/// No download progress to follow (files are read, not downloaded).
fn progress_none() -> Callback<(u64, Option<u64>)> {
    Callback::from(|_| ())
}
