//! The app's state and its transitions, as plain Rust (tested natively): the model and the image
//! shown, the latest classification and what supersedes it, the ablated blocks, the image pinned
//! for comparison, the status line and the stall watch. The page's component (`app.rs`) holds one
//! [`Session`], turns events into its methods, and turns the [`RunRequest`]s they return into
//! requests to the engine worker. Nothing here touches the browser.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::protocol::{BackendSummary, Classified, ImageRef, Loaded, ModelSummary};
use super::view_model::{ChannelDetail, CompareView, RunView};
use crate::preprocess::RgbImage;
use crate::runtime::BackendPreference;

/// A run that reports no progress for this long is said to be stalled, with a way out.
pub const STALL_AFTER_MS: f64 = 30_000.0;

/// The current image, as decoded and kept by the engine worker (each model's photo rule applies to
/// it when it runs).
#[derive(Debug, PartialEq)]
pub struct Input {
    pub name: String,
    pub image: ImageRef,
}

/// One classification, as the page shows it: the worker's reply and the picture the network saw.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub seen: RgbImage,
    pub run: Classified,
}

impl std::ops::Deref for Outcome {
    type Target = Classified;

    fn deref(&self) -> &Classified {
        &self.run
    }
}

/// Image A of a comparison: its name, its run (with the model's own gates), and the current
/// image's difference from it (computed once per run; `None` when the model changed since).
#[derive(Clone, Debug, PartialEq)]
pub struct Pinned {
    pub name: String,
    pub run: Rc<RunView>,
    pub compare: Option<Rc<CompareView>>,
}

/// A classification to ask the engine for: run `id` of `image`, with `ablated` blocks' gates set
/// to ones.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    pub id: usize,
    pub image: ImageRef,
    pub ablated: BTreeSet<String>,
    pub one_thread: bool,
}

/// What a stall check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Stall {
    /// The run is over or superseded: stop checking.
    Over,
    /// Progress came recently: check again later.
    Moving,
    /// No progress for the limit: the page offers a way out.
    Stalled,
}

/// The app's state.
#[derive(Debug)]
pub struct Session {
    /// The loaded model's name (its URL path, or the chosen files' names).
    pub model_name: String,
    pub model: Option<Rc<ModelSummary>>,
    /// Where the model runs: its weights on the GPU, or the CPU and why.
    pub backend: Option<BackendSummary>,
    pub preference: BackendPreference,
    pub input: Option<Rc<Input>>,
    pub outcome: Option<Rc<Outcome>>,
    pub ablated: BTreeSet<String>,
    pub pinned: Option<Pinned>,
    /// The channel detail view: one channel's feature map before and after its gate.
    pub detail: Option<Rc<ChannelDetail>>,
    pub status: String,
    pub error: Option<String>,
    pub busy: bool,
    /// A model load is in flight: an image decoded meanwhile waits for it (the page decodes its
    /// first image while its first model loads).
    loading: bool,
    /// The model download's progress, while one runs: bytes so far, and the total when known.
    pub progress: Option<(u64, Option<u64>)>,
    /// The engine crashed and was started again: what happened.
    pub restarted: Option<String>,
    /// The CPU path runs on one thread (after a stalled run).
    pub one_thread: bool,
    /// Completed classifications (the status's `data-run`, so tests can wait for the next one).
    pub runs: usize,
    /// The latest run made no progress for the stall limit.
    pub stalled: bool,
    /// The latest run started; results of earlier ones are dropped.
    run_id: usize,
    /// When the latest run last reported progress (ms, the page's clock).
    run_progress_at: f64,
}

impl Session {
    pub fn new(preference: BackendPreference) -> Self {
        Self {
            model_name: String::new(),
            model: None,
            backend: None,
            preference,
            input: None,
            outcome: None,
            ablated: BTreeSet::new(),
            pinned: None,
            detail: None,
            status: String::new(),
            error: None,
            busy: true,
            loading: false,
            progress: None,
            restarted: None,
            one_thread: false,
            runs: 0,
            stalled: false,
            run_id: 0,
            run_progress_at: 0.0,
        }
    }

    pub fn engine_failed(&mut self, error: &str) {
        self.busy = false;
        self.error = Some(format!("The engine did not start: {error}"));
    }

    /// A model load started; `what` names it ("the model X", "the model from a + b").
    pub fn loading_model(&mut self, what: &str) {
        self.loading = true;
        self.begin(format!("Loading {what}…"));
    }

    /// The model is ready: the image shown (or decoded while it loaded) runs through it.
    pub fn model_loaded(
        &mut self,
        name: String,
        Loaded { model, backend }: Loaded,
        now: f64,
    ) -> Option<RunRequest> {
        self.progress = None;
        self.loading = false;
        self.status = format!(
            "Model ready: {} ({} classes, {} SE blocks). Choose a sample or drop an image.",
            model.architecture,
            model.labels.len(),
            model.blocks.len()
        );
        self.model = Some(Rc::new(model));
        self.backend = Some(backend);
        self.busy = false;
        // (The load's start cleared the last error: one set since, by an image decoded
        // meanwhile, still stands.)
        self.detail = None;
        self.ablated.clear();
        self.model_name = name;
        self.start_run(now)
    }

    pub fn model_failed(&mut self, name: &str, error: &str) {
        self.progress = None;
        self.loading = false;
        self.busy = false;
        self.error = Some(format!("Cannot load the model {name}: {error}"));
        self.status = match &self.model {
            Some(_) => format!("Still using the model {}.", self.model_name),
            None => "No model loaded.".into(),
        };
    }

    /// The backend picker changed: whether the engine is to set it up now (a model is loaded).
    pub fn choose_backend(&mut self, preference: BackendPreference) -> bool {
        self.preference = preference;
        if self.model.is_none() {
            return false;
        }
        self.busy = true;
        self.status = "Setting up the backend…".into();
        true
    }

    pub fn backend_ready(
        &mut self,
        result: Result<BackendSummary, String>,
        now: f64,
    ) -> Option<RunRequest> {
        self.busy = false;
        match result {
            Ok(backend) => {
                self.backend = Some(backend);
                self.status = "Backend ready.".into();
                self.start_run(now)
            }
            Err(e) => {
                self.error = Some(format!("Cannot set the backend up: {e}"));
                None
            }
        }
    }

    pub fn decoding(&mut self, name: &str) {
        // While a model loads, the status keeps saying so: the load takes longer.
        if self.loading {
            self.error = None;
        } else {
            self.begin(format!("Decoding {name}…"));
        }
    }

    /// Work that the page waits for started: busy, with `status`, and the last error cleared.
    fn begin(&mut self, status: String) {
        self.busy = true;
        self.error = None;
        self.status = status;
    }

    pub fn decoded(
        &mut self,
        result: Result<(String, ImageRef), String>,
        now: f64,
    ) -> Option<RunRequest> {
        match (result, &self.model) {
            (Ok((name, image)), Some(_)) => {
                self.detail = None;
                self.input = Some(Rc::new(Input { name, image }));
                self.start_run(now)
            }
            // Kept: it runs once a model is ready (the one loading now, or a later one).
            (Ok((name, image)), None) => {
                self.input = Some(Rc::new(Input { name, image }));
                if !self.loading {
                    self.busy = false;
                    // A model that failed to load has said so already.
                    self.error.get_or_insert_with(|| {
                        "No model is loaded: the image runs once one is.".into()
                    });
                }
                None
            }
            (Err(e), _) => {
                self.error = Some(e);
                if !self.loading {
                    self.busy = false;
                    self.status = match &self.input {
                        Some(input) => format!("Still showing {}.", input.name),
                        None => "Choose a sample or drop an image.".into(),
                    };
                }
                None
            }
        }
    }

    /// Classifies the current image again (with the current ablation), superseding any run.
    pub fn start_run(&mut self, now: f64) -> Option<RunRequest> {
        let (Some(model), Some(input)) = (&self.model, &self.input) else {
            return None;
        };
        self.busy = true;
        self.stalled = false;
        self.run_id += 1;
        self.run_progress_at = now;
        self.status = format!("Running {} on {}…", model.architecture, input.name);
        Some(RunRequest {
            id: self.run_id,
            image: input.image,
            ablated: self.ablated.clone(),
            one_thread: self.one_thread,
        })
    }

    /// Progress of the latest run: residual blocks `done` of `all`.
    pub fn run_progress(&mut self, done: usize, all: usize, now: f64) {
        let (Some(model), Some(input)) = (&self.model, &self.input) else {
            return;
        };
        self.run_progress_at = now;
        self.status = format!(
            "Running {} on {}: block {done} of {all}…",
            model.architecture, input.name
        );
    }

    /// Run `id` finished. Returns the outcome now shown, or `None` (superseded, or failed).
    pub fn ran(&mut self, id: usize, result: Result<Outcome, String>) -> Option<&Rc<Outcome>> {
        if id != self.run_id {
            return None;
        }
        self.busy = false;
        self.stalled = false;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
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
        self.backend = Some(outcome.backend_now.clone());
        if let Some(pinned) = &mut self.pinned {
            pinned.compare = CompareView::new(&pinned.run, &outcome.baseline).map(Rc::new);
        }
        self.outcome = Some(Rc::new(outcome));
        self.outcome.as_ref()
    }

    /// Whether run `id` still moves, `limit` ms after its last progress.
    pub fn check_stall(&mut self, id: usize, now: f64, limit: f64) -> Stall {
        if id != self.run_id || !self.busy {
            return Stall::Over;
        }
        if now - self.run_progress_at < limit {
            return Stall::Moving;
        }
        self.stalled = true;
        Stall::Stalled
    }

    /// The way out of a stalled run: the CPU path on one thread from now on, and the run again.
    pub fn retry_on_one_thread(&mut self, now: f64) -> Option<RunRequest> {
        self.one_thread = true;
        self.start_run(now)
    }

    pub fn toggle_ablation(&mut self, block: &str, now: f64) -> Option<RunRequest> {
        if !self.ablated.remove(block) {
            self.ablated.insert(block.to_owned());
        }
        self.start_run(now)
    }

    /// Every block's gates off (`true`) or all back on.
    pub fn set_all_ablated(&mut self, off: bool, now: f64) -> Option<RunRequest> {
        self.ablated = match (&self.model, off) {
            (Some(model), true) => model.block_names().map(str::to_owned).collect(),
            _ => BTreeSet::new(),
        };
        self.start_run(now)
    }

    /// Whether every block's gates are off.
    pub fn all_ablated(&self) -> bool {
        self.model
            .as_ref()
            .is_some_and(|m| m.blocks.len() == self.ablated.len())
    }

    /// Pins the image shown as A of a comparison.
    pub fn pin(&mut self) {
        if let (Some(input), Some(outcome)) = (&self.input, &self.outcome) {
            self.pinned = Some(Pinned {
                name: input.name.clone(),
                run: outcome.baseline.clone(),
                compare: CompareView::new(&outcome.baseline, &outcome.baseline).map(Rc::new),
            });
        }
    }

    pub fn unpin(&mut self) {
        self.pinned = None;
    }

    pub fn channel_shown(&mut self, result: Result<ChannelDetail, String>) {
        match result {
            Ok(detail) => self.detail = Some(Rc::new(detail)),
            Err(e) => self.error = Some(e),
        }
    }

    /// The backend badge: what computed the shown result, or what the next run uses.
    pub fn badge(&self) -> String {
        match (&self.outcome, &self.backend) {
            (Some(outcome), _) => outcome.backend.clone(),
            (None, Some(backend)) => backend.name.clone(),
            (None, None) => "cpu".into(),
        }
    }

    /// The image shown's name, or "".
    pub fn input_name(&self) -> &str {
        self.input.as_ref().map_or("", |i| i.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Tensor;
    use crate::model::Model;

    fn tiny() -> Model {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/models/seresnet18_tiny"
        );
        Model::load_dir(std::path::Path::new(dir)).expect("tiny model")
    }

    fn loaded(model: &Model) -> Loaded {
        Loaded {
            model: ModelSummary::of(model),
            backend: BackendSummary {
                name: "cpu".into(),
                ..Default::default()
            },
        }
    }

    fn image(key: u32) -> ImageRef {
        ImageRef {
            key,
            width: 4,
            height: 4,
        }
    }

    /// What the worker replies for `model` on a pattern input (`shift` makes another image).
    fn outcome(model: &Model, shift: f32) -> Outcome {
        let mut input = Tensor::pattern([1, 3, 64, 80]);
        input.data.iter_mut().for_each(|v| *v += shift);
        let output =
            crate::exec::cpu::forward(&model.graph, &input, &Default::default()).expect("runs");
        Outcome {
            seen: RgbImage::new(4, 4, vec![0; 48]).expect("image"),
            run: Classified {
                baseline: Rc::new(RunView::new(&output, model.scores, &model.labels, 5)),
                ablated: None,
                preprocess_ms: 1.0,
                forward_ms: 2.5,
                backend: "cpu".into(),
                cpu_threads: 1,
                relaxed_simd: false,
                backend_now: BackendSummary::default(),
                engine_memory: 0,
                seen_width: 4,
                seen_height: 4,
            },
        }
    }

    /// A session with `model` loaded and no image yet.
    fn ready(model: &Model) -> Session {
        let mut session = Session::new(BackendPreference::Auto);
        session.loading_model("the model tiny");
        assert!(session.busy);
        assert_eq!(
            session.model_loaded("tiny".into(), loaded(model), 0.0),
            None
        );
        assert!(!session.busy);
        session
    }

    #[test]
    fn only_the_latest_run_is_shown() {
        let model = tiny();
        let mut session = ready(&model);
        let first = session
            .decoded(Ok(("a.png".into(), image(1))), 0.0)
            .expect("runs");
        let second = session
            .decoded(Ok(("b.png".into(), image(2))), 1.0)
            .expect("runs");
        assert!(second.id > first.id);
        assert_eq!(second.image, image(2));
        // The first run's result comes late: dropped, and the page still waits for the second.
        assert!(session.ran(first.id, Ok(outcome(&model, 0.0))).is_none());
        assert!(session.busy && session.outcome.is_none() && session.runs == 0);
        assert!(session.ran(second.id, Ok(outcome(&model, 0.0))).is_some());
        assert!(!session.busy);
        assert_eq!(session.runs, 1);
        assert!(
            session
                .status
                .starts_with("Classified b.png on the CPU in 2.5 ms"),
            "{}",
            session.status
        );
        // A late failure of a superseded run says nothing either.
        assert!(session.ran(first.id, Err("lost".into())).is_none());
        assert_eq!(session.error, None);
    }

    #[test]
    fn ablation_runs_the_image_again_and_a_new_model_forgets_it() {
        let model = tiny();
        let mut session = ready(&model);
        assert!(
            session.toggle_ablation("layer1.0.se", 0.0).is_none(),
            "no image yet: nothing runs"
        );
        session.ablated.clear();
        session
            .decoded(Ok(("a.png".into(), image(1))), 0.0)
            .expect("runs");
        let run = session
            .toggle_ablation("layer1.0.se", 0.0)
            .expect("runs again");
        assert_eq!(run.ablated, BTreeSet::from(["layer1.0.se".to_string()]));
        let run = session.set_all_ablated(true, 0.0).expect("runs again");
        assert_eq!(run.ablated.len(), model.graph.se_blocks.len());
        assert!(session.all_ablated());
        let run = session
            .toggle_ablation("layer1.0.se", 0.0)
            .expect("runs again");
        assert!(!run.ablated.contains("layer1.0.se") && !session.all_ablated());
        // Another model: the same image runs again, with every gate on.
        let run = session
            .model_loaded("other".into(), loaded(&model), 0.0)
            .expect("runs again");
        assert!(run.ablated.is_empty() && run.image == image(1));
        assert!(session
            .set_all_ablated(false, 0.0)
            .is_some_and(|run| run.ablated.is_empty()));
    }

    #[test]
    fn a_stalled_run_offers_one_thread_and_a_finished_one_stops_the_watch() {
        let model = tiny();
        let mut session = ready(&model);
        let run = session
            .decoded(Ok(("a.png".into(), image(1))), 0.0)
            .expect("runs");
        assert_eq!(
            session.check_stall(run.id, 1_000.0, STALL_AFTER_MS),
            Stall::Moving
        );
        session.run_progress(3, 8, 20_000.0);
        assert!(
            session.status.ends_with("block 3 of 8…"),
            "{}",
            session.status
        );
        assert_eq!(
            session.check_stall(run.id, 40_000.0, STALL_AFTER_MS),
            Stall::Moving
        );
        assert_eq!(
            session.check_stall(run.id, 50_001.0, STALL_AFTER_MS),
            Stall::Stalled
        );
        assert!(session.stalled);
        let retry = session.retry_on_one_thread(50_002.0).expect("runs again");
        assert!(retry.one_thread && !session.stalled);
        assert_eq!(
            session.check_stall(run.id, 90_000.0, STALL_AFTER_MS),
            Stall::Over,
            "superseded"
        );
        session.ran(retry.id, Ok(outcome(&model, 0.0)));
        assert_eq!(
            session.check_stall(retry.id, 90_000.0, STALL_AFTER_MS),
            Stall::Over,
            "finished"
        );
        // Every later run stays on one thread.
        assert!(session.start_run(0.0).expect("runs").one_thread);
    }

    #[test]
    fn an_image_decoded_while_the_first_model_loads_runs_once_it_is_ready() {
        let model = tiny();
        let mut session = Session::new(BackendPreference::Auto);
        session.loading_model("the model tiny");
        session.decoding("a.png");
        assert_eq!(
            session.status, "Loading the model tiny…",
            "the load takes longer"
        );
        assert!(session
            .decoded(Ok(("a.png".into(), image(1))), 0.0)
            .is_none());
        assert!(session.busy && session.error.is_none());
        let run = session
            .model_loaded("tiny".into(), loaded(&model), 0.0)
            .expect("the image runs");
        assert_eq!(run.image, image(1));
        assert!(session.busy && session.status.starts_with("Running"));

        // A broken image says so, and the page still waits for the model.
        let mut session = Session::new(BackendPreference::Auto);
        session.loading_model("the model tiny");
        session.decoding("broken.png");
        assert!(session
            .decoded(Err("broken.png: not an image".into()), 0.0)
            .is_none());
        assert!(session.busy && session.error.is_some());
        assert_eq!(session.status, "Loading the model tiny…");
        assert_eq!(
            session.model_loaded("tiny".into(), loaded(&model), 0.0),
            None
        );
        assert!(!session.busy);
        assert_eq!(
            session.error.as_deref(),
            Some("broken.png: not an image"),
            "still shown"
        );
    }

    #[test]
    fn failures_keep_what_is_shown_and_say_so() {
        let model = tiny();
        let mut fresh = Session::new(BackendPreference::Auto);
        fresh.model_failed("x.onnx", "not an ONNX file");
        assert_eq!(fresh.status, "No model loaded.");
        assert_eq!(
            fresh.error.as_deref(),
            Some("Cannot load the model x.onnx: not an ONNX file")
        );
        // An image chosen then keeps the model's error, and runs once a model loads.
        assert!(fresh.decoded(Ok(("a.png".into(), image(1))), 0.0).is_none());
        assert_eq!(
            fresh.error.as_deref(),
            Some("Cannot load the model x.onnx: not an ONNX file")
        );
        assert!(!fresh.busy);
        fresh.loading_model("the model tiny");
        let run = fresh.model_loaded("tiny".into(), loaded(&model), 0.0);
        assert!(run.is_some_and(|run| run.image == image(1)));
        let mut idle = Session::new(BackendPreference::Auto);
        idle.busy = false;
        assert!(idle.decoded(Ok(("a.png".into(), image(1))), 0.0).is_none());
        assert!(idle
            .error
            .as_deref()
            .is_some_and(|e| e.contains("No model is loaded")));

        let mut session = ready(&model);
        let run = session
            .decoded(Ok(("a.png".into(), image(1))), 0.0)
            .expect("runs");
        session.ran(run.id, Ok(outcome(&model, 0.0)));
        session.decoding("broken.png");
        assert!(session
            .decoded(Err("broken.png: not an image".into()), 0.0)
            .is_none());
        assert_eq!(session.status, "Still showing a.png.");
        assert!(session.outcome.is_some() && session.input_name() == "a.png");
        session.model_failed("y.onnx", "truncated");
        assert_eq!(session.status, "Still using the model tiny.");
        assert!(session.model.is_some());
        assert!(session
            .backend_ready(Err("no adapter".into()), 0.0)
            .is_none());
        assert_eq!(
            session.error.as_deref(),
            Some("Cannot set the backend up: no adapter")
        );
        assert!(session.choose_backend(BackendPreference::Cpu));
        assert_eq!(session.preference, BackendPreference::Cpu);
        assert!(
            session
                .backend_ready(Ok(BackendSummary::default()), 0.0)
                .is_some(),
            "the image runs on the new backend"
        );
    }

    #[test]
    fn a_pinned_image_is_compared_with_each_new_one() {
        let model = tiny();
        let mut session = ready(&model);
        session.pin();
        assert!(session.pinned.is_none(), "nothing to pin yet");
        let run = session
            .decoded(Ok(("a.png".into(), image(1))), 0.0)
            .expect("runs");
        session.ran(run.id, Ok(outcome(&model, 0.0)));
        session.pin();
        let pinned = session.pinned.as_ref().expect("pinned");
        assert_eq!(pinned.name, "a.png");
        assert_eq!(pinned.compare.as_ref().expect("same model").limit, 0.0);
        let run = session
            .decoded(Ok(("b.png".into(), image(2))), 0.0)
            .expect("runs");
        session.ran(run.id, Ok(outcome(&model, 0.5)));
        let compare = session
            .pinned
            .as_ref()
            .and_then(|p| p.compare.as_ref())
            .expect("compared");
        assert!(compare.limit > 0.0, "B differs from A");
        session.unpin();
        assert!(session.pinned.is_none());
    }
}
