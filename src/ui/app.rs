//! The page: pick a model and an image, see the prediction and every SE block's gates, switch
//! gates off and see what changes. The state and its transitions are [`Session`] (plain Rust,
//! tested natively); this component turns events into them, sends the engine worker what they ask
//! for, and composes the panels: the model bar, the input, the prediction, the excitations and the
//! teaching views. None of them runs the engine.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, ClipboardEvent};
use yew::prelude::*;

use super::browser::{announce, fetch_bytes, keep, kept, now_ms, query_param, set_query_param};
use super::client::Engine;
use super::excitations::ExcitationsPanel;
use super::input::{InputPanel, Sample, Shown, SAMPLES};
use super::jobs::onnx_options_from_url;
use super::model_bar::{ModelBar, DEFAULT_MODEL};
use super::prediction::PredictionPanel;
use super::preprocess::PreprocessForm;
use super::protocol::{BackendSummary, ImageRef, Job, Loaded};
use super::research::{ImportancePanel, RegionProbePanel};
use super::session::{Outcome, RunRequest, Session, Stall, STALL_AFTER_MS};
use super::teaching::{BlockSteps, ClassStatsPanel};
use super::tour::Tour;
use super::view_model::{ChannelDetail, Preprocessing};
use crate::runtime::BackendPreference;

/// How often a running run is checked for a stall.
const STALL_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

pub enum Msg {
    /// The engine worker started (or could not).
    EngineReady(Result<Engine, String>),
    /// The engine crashed and came back with the same model (the message says what happened);
    /// what it was doing runs again.
    EngineRestarted(String),
    /// A model path or `hf:` id.
    LoadModel(String),
    LoadModelFiles(Vec<web_sys::File>),
    /// Bytes of the model download so far, and the total when known.
    Progress(u64, Option<u64>),
    ModelLoaded {
        name: String,
        /// Loaded from a URL path or hub id, which the page's URL can name again (not from
        /// files).
        from_url: bool,
        result: Result<Loaded, String>,
    },
    /// The ONNX preprocessing form's values: into the URL, and the model loaded again.
    ApplyPreprocessing(Preprocessing),
    SetBackend(BackendPreference),
    BackendReady(Result<BackendSummary, String>),
    SamplesLoaded(Vec<Sample>),
    ChooseSample(String),
    ChooseFile(Blob, String),
    /// A camera photo.
    Photo(Result<web_sys::ImageData, String>),
    Decoded(Result<(String, ImageRef), String>),
    /// Run `id` finished (a run superseded by a newer one is ignored).
    Ran(usize, Result<Outcome, String>),
    /// Residual blocks done and in all, during a run.
    RunProgress(usize, usize),
    /// Time to check whether run `id` is still making progress.
    CheckStall(usize),
    /// Run again with the CPU path on one thread.
    RetryOnOneThread,
    Rerun,
    ToggleAblation(String),
    SetAllAblated(bool),
    /// Pin the image shown as A of a comparison (`true`), or unpin.
    Pin(bool),
    SelectChannel(String, usize),
    ChannelShown(Result<ChannelDetail, String>),
    /// The page shows what it was opened for (`App::settled`).
    Settled,
}

pub struct App {
    session: Session,
    /// The engine worker, which holds the model and runs it.
    engine: Option<Engine>,
    samples: Rc<Vec<Sample>>,
    /// `?debug=panic` asked the engine to panic once, and it did.
    debug_panicked: bool,
    /// `se-lens-settled` was dispatched: the page has shown what it was opened for (the model,
    /// and the sample it names, or why it cannot), so the service worker may now download the
    /// build for offline use (www/offline.js), and the research panels read their shipped
    /// statistics, without slowing the first result.
    settled: bool,
    /// The document's `paste` listener (an image pasted anywhere on the page is classified).
    _paste: Option<Closure<dyn Fn(ClipboardEvent)>>,
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
            session: Session::new(preference),
            engine: None,
            samples: Rc::default(),
            debug_panicked: false,
            settled: false,
            _paste: listen_for_pasted_images(link.clone()),
        }
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        let session = &mut self.session;
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
                // The first image is fetched and decoded while the model loads, and runs once
                // it is ready: after a crash the image the user had chosen, else the sample the
                // address names.
                match (kept("image").zip(kept("image-name")), query_param("sample")) {
                    (Some((blob, name)), _) => ctx.link().send_message(Msg::ChooseFile(
                        blob.unchecked_into(),
                        name.as_string().unwrap_or_default(),
                    )),
                    (None, Some(sample)) => ctx.link().send_message(Msg::ChooseSample(sample)),
                    (None, None) => {}
                }
                return false;
            }
            Msg::EngineReady(Err(e)) => session.engine_failed(&e),
            Msg::EngineRestarted(message) => session.restarted = Some(message),
            Msg::LoadModel(path) => {
                let Some(engine) = self.engine.clone() else {
                    return false;
                };
                keep("model-files", None);
                session.loading_model(&format!("the model {path}"));
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
            Msg::LoadModelFiles(files) => {
                let Some(engine) = self.engine.clone() else {
                    return false;
                };
                keep(
                    "model-files",
                    Some(&files.iter().collect::<js_sys::Array>()),
                );
                let names: Vec<String> = files.iter().map(|f| f.name()).collect();
                session.loading_model(&format!("the model from {}", names.join(" + ")));
                ctx.link().send_future(async move {
                    let source = js_sys::Object::new();
                    let list: js_sys::Array = files.iter().collect();
                    let _ = js_sys::Reflect::set(&source, &"files".into(), &list);
                    let result = match onnx_options_from_url().await {
                        Ok(onnx) => engine.load(source.into(), &onnx, Callback::noop()).await,
                        Err(e) => Err(e),
                    };
                    Msg::ModelLoaded {
                        name: names.join(" + "),
                        from_url: false,
                        result,
                    }
                });
            }
            Msg::Progress(loaded, total) => session.progress = Some((loaded, total)),
            Msg::ModelLoaded {
                name,
                from_url,
                result: Ok(loaded),
            } => {
                // Only a model the URL can load again is kept in it.
                let reloadable = from_url && name != DEFAULT_MODEL;
                set_query_param("model", reloadable.then_some(name.as_str()));
                if let Some(run) = session.model_loaded(name, loaded, now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::ModelLoaded {
                name,
                result: Err(e),
                ..
            } => session.model_failed(&name, &e),
            Msg::ApplyPreprocessing(values) => {
                for (name, value) in values.params() {
                    set_query_param(name, value);
                }
                // A model the URL names loads from it again; dropped files are read again.
                match (query_param("model"), kept("model-files")) {
                    (Some(path), _) => ctx.link().send_message(Msg::LoadModel(path)),
                    (None, Some(files)) => ctx
                        .link()
                        .send_message(Msg::LoadModelFiles(files_of_array(&files.unchecked_into()))),
                    (None, None) => {}
                }
                return false;
            }
            Msg::SetBackend(preference) => {
                let text = match preference {
                    BackendPreference::Auto => None,
                    BackendPreference::Gpu => Some("webgpu"),
                    BackendPreference::Cpu => Some("cpu"),
                };
                set_query_param("backend", text);
                if let (true, Some(engine)) =
                    (session.choose_backend(preference), self.engine.clone())
                {
                    let backend = text.unwrap_or("auto");
                    ctx.link().send_future(async move {
                        Msg::BackendReady(engine.set_backend(backend).await)
                    });
                }
            }
            Msg::BackendReady(result) => {
                if let Some(run) = session.backend_ready(result, now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::SamplesLoaded(samples) => self.samples = Rc::new(samples),
            Msg::ChooseSample(file) => {
                keep("image", None);
                set_query_param("sample", Some(&file));
                // The engine worker fetches it: the page's thread is busy as the app starts.
                let url = format!("{SAMPLES}/{file}");
                self.decode(ctx, file, async move { Ok(JsValue::from(url)) });
            }
            Msg::ChooseFile(blob, name) => {
                keep("image", Some(&blob));
                keep("image-name", Some(&name.as_str().into()));
                set_query_param("sample", None);
                self.decode(ctx, name, async move { Ok(blob.into()) });
            }
            Msg::Photo(photo) => {
                set_query_param("sample", None);
                self.decode(ctx, "camera photo".into(), async move {
                    photo.map(JsValue::from)
                });
            }
            Msg::Decoded(result) => {
                if let Some(run) = session.decoded(result, now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::Ran(id, result) => {
                // The e2e test of the page's own crash recovery (www/crash.js): one deliberate
                // panic after a run.
                if result.is_ok()
                    && query_param("debug").as_deref() == Some("panic-page")
                    && kept("debug-panicked").is_none()
                {
                    keep("debug-panicked", Some(&true.into()));
                    panic!("a deliberate panic (?debug=panic-page), to test the crash recovery");
                }
                session.ran(id, result);
            }
            Msg::RunProgress(done, all) => session.run_progress(done, all, now_ms()),
            Msg::CheckStall(id) => {
                // `?debug=stall` (the e2e test of this notice) says so after a moment.
                let limit = match query_param("debug").as_deref() {
                    Some("stall") => 2_000.0,
                    _ => STALL_AFTER_MS,
                };
                match session.check_stall(id, now_ms(), limit) {
                    Stall::Over => return false,
                    Stall::Moving => {
                        check_stall_later(ctx, id);
                        return false;
                    }
                    Stall::Stalled => {}
                }
            }
            Msg::RetryOnOneThread => {
                if let Some(run) = session.retry_on_one_thread(now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::Rerun => {
                if let Some(run) = session.start_run(now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::ToggleAblation(block) => {
                if let Some(run) = session.toggle_ablation(&block, now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::SetAllAblated(off) => {
                if let Some(run) = session.set_all_ablated(off, now_ms()) {
                    self.run(ctx, run);
                }
            }
            Msg::Pin(true) => session.pin(),
            Msg::Pin(false) => session.unpin(),
            Msg::SelectChannel(block, channel) => {
                let (Some(engine), Some(input)) = (self.engine.clone(), session.input.clone())
                else {
                    return false;
                };
                ctx.link().send_future(async move {
                    let job = Job::ChannelDetail { block, channel };
                    let detail = engine
                        .run("detail", &job, Some(input.image), &[], None, None)
                        .await;
                    Msg::ChannelShown(detail.map(|(detail, _)| detail))
                });
                return false;
            }
            Msg::ChannelShown(result) => session.channel_shown(result),
            Msg::Settled => {}
        }
        true
    }

    fn rendered(&mut self, ctx: &Context<Self>, _first_render: bool) {
        let session = &self.session;
        if !self.settled
            && !session.busy
            && (session.outcome.is_some()
                || session.error.is_some()
                || query_param("sample").is_none())
        {
            self.settled = true;
            announce("se-lens-settled");
            ctx.link().send_message(Msg::Settled);
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let session = &self.session;
        let shown = session
            .input
            .as_ref()
            .zip(session.outcome.as_ref())
            .map(|(input, outcome)| Shown {
                name: input.name.clone(),
                decoded: (input.image.width, input.image.height),
                outcome: outcome.clone(),
            });
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
                <ModelBar model_name={session.model_name.clone()} preference={session.preference}
                          backend={session.backend.clone()} badge={session.badge()}
                          on_model={link.callback(Msg::LoadModel)} on_files={link.callback(Msg::LoadModelFiles)}
                          on_backend={link.callback(Msg::SetBackend)} />
                { self.view_status(link) }
                { self.view_onnx_preprocess(link) }
                <InputPanel samples={self.samples.clone()} {shown}
                            on_sample={link.callback(Msg::ChooseSample)}
                            on_file={link.callback(|(blob, name)| Msg::ChooseFile(blob, name))}
                            on_model_files={link.callback(Msg::LoadModelFiles)}
                            on_photo={link.callback(Msg::Photo)} />
                if let (Some(outcome), Some(model)) = (&session.outcome, &session.model) {
                    <PredictionPanel outcome={outcome.clone()} ablated={session.ablated.len()}
                                     architecture={model.architecture.clone()} input_name={session.input_name().to_string()} />
                    <ExcitationsPanel outcome={outcome.clone()} ablated={session.ablated.clone()} all_off={session.all_ablated()}
                                      pinned={session.pinned.clone()} input_name={session.input_name().to_string()}
                                      detail={session.detail.clone()}
                                      on_toggle={link.callback(Msg::ToggleAblation)} on_all={link.callback(Msg::SetAllAblated)}
                                      on_pin={link.callback(Msg::Pin)}
                                      on_select={link.callback(|(block, channel)| Msg::SelectChannel(block, channel))} />
                }
                { self.view_teaching() }
            </main>
        }
    }
}

impl App {
    /// Decodes an image (a file's `Blob`, or a camera frame's `ImageData`) in the engine worker,
    /// which keeps it: neither its decode nor its pixels ever weigh on the page's thread.
    fn decode(
        &mut self,
        ctx: &Context<Self>,
        name: String,
        image: impl std::future::Future<Output = Result<JsValue, String>> + 'static,
    ) {
        self.session.decoding(&name);
        let engine = self.engine.clone();
        ctx.link().send_future(async move {
            let decoded = match (image.await, engine) {
                (Ok(image), Some(engine)) => engine
                    .decode(&image)
                    .await
                    .map_err(|e| format!("{name}: {e}")),
                (Ok(_), None) => {
                    Err("The engine is still starting: choose the image again in a moment.".into())
                }
                (Err(e), _) => Err(e),
            };
            Msg::Decoded(decoded.map(|image| (name, image)))
        });
    }

    /// Sends `run` to the engine worker, and watches it for a stall.
    fn run(&mut self, ctx: &Context<Self>, run: RunRequest) {
        let Some(engine) = self.engine.clone() else {
            return;
        };
        let progress = ctx
            .link()
            .callback(|(done, all)| Msg::RunProgress(done, all));
        // `?debug=panic`: the engine panics on the first run (the e2e test of the crash
        // recovery); the API runs it again on a fresh worker.
        let panic = !self.debug_panicked && query_param("debug").as_deref() == Some("panic");
        self.debug_panicked |= panic;
        // `?debug=stall`: the first run never finishes (the e2e test of the stall notice).
        let stall = run.id == 1 && query_param("debug").as_deref() == Some("stall");
        let id = run.id;
        ctx.link().send_future(async move {
            if stall {
                std::future::pending::<()>().await;
            }
            let debug = panic.then_some("panic");
            let outcome = engine
                .classify(run.image, run.ablated, run.one_thread, progress, debug)
                .await;
            Msg::Ran(id, outcome)
        });
        check_stall_later(ctx, id);
    }

    /// The status line, the download's progress, and what went wrong.
    fn view_status(&self, link: &html::Scope<Self>) -> Html {
        let session = &self.session;
        html! {
            <>
                if let Some((loaded, total)) = session.progress {
                    <p class="download">
                        <progress data-testid="progress" value={loaded.to_string()}
                                  max={total.unwrap_or(0).max(loaded).to_string()} />
                        { match total {
                            Some(total) => format!(" {:.1} of {:.1} MB", loaded as f64 / 1e6, total as f64 / 1e6),
                            None => format!(" {:.1} MB", loaded as f64 / 1e6),
                        } }
                    </p>
                }
                <p data-testid="status" data-run={session.runs.to_string()} aria-live="polite"
                   class={classes!("status", session.busy.then_some("busy"))}>
                    { &session.status }
                </p>
                if session.stalled {
                    <p data-testid="stalled" class="error" role="alert">
                        { format!("This run has made no progress for {} s. ", STALL_AFTER_MS / 1000.0) }
                        if !session.one_thread && threads_possible() {
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
                if let Some(error) = &session.error {
                    <p data-testid="error" class="error" role="alert">{ error }</p>
                }
                if let Some(message) = &session.restarted {
                    <div data-testid="engine-restarted" class="note" role="status">
                        { "The engine hit an internal error and started again with the same model; \
                           what it was doing ran again, and nothing on this page was lost. " }
                        <details><summary>{ "What happened" }</summary><code>{ message }</code></details>
                    </div>
                }
            </>
        }
    }

    fn view_onnx_preprocess(&self, link: &html::Scope<Self>) -> Html {
        let Some(model) = &self.session.model else {
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
                    self.session.model_name, onnx.opset, cfg.interpolation, cfg.crop_pct * 100.0,
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

    /// One block step by step and the squeeze-region probe (once an image is classified), the
    /// class statistics, and which blocks matter.
    fn view_teaching(&self) -> Html {
        let (Some(model), Some(engine)) = (&self.session.model, &self.engine) else {
            return html! {};
        };
        // Only a model folder on this site can ship statistics (`class_stats.json`,
        // `importance.json`).
        let name = &self.session.model_name;
        let folder = (!name.starts_with("hf:") && !name.contains(" + ")).then(|| name.clone());
        html! {
            <>
                if let (Some(input), Some(_)) = (&self.session.input, &self.session.outcome) {
                    <BlockSteps engine={engine.clone()} model={model.clone()} image={input.image} />
                    <RegionProbePanel engine={engine.clone()} model={model.clone()} image={input.image} />
                }
                // Their shipped statistics are read after the first result, not before it.
                if self.settled {
                    <ClassStatsPanel engine={engine.clone()} model={model.clone()} folder={folder.clone()} />
                    <ImportancePanel engine={engine.clone()} model={model.clone()} {folder} />
                }
            </>
        }
    }
}

/// Checks run `id` for a stall after [`STALL_CHECK`].
fn check_stall_later(ctx: &Context<App>, id: usize) {
    ctx.link().send_future(async move {
        yew::platform::time::sleep(STALL_CHECK).await;
        Msg::CheckStall(id)
    });
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
