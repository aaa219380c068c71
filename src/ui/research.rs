//! Research views that test the SE paper's claims on the user's own images: which SE blocks can
//! be removed (§7 removes the last stage's), how saturated each block's gates are, and what part
//! of the image a block's gates listen to (the squeeze-region probe).
//! The numbers are `se-lens evaluate --interventions`' (`engine::Plan`), computed in the page.

use std::cell::Cell;
use std::rc::Rc;

use web_sys::{HtmlCanvasElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::browser::{draw_rgba, object_url, revoke_object_url};
use super::client::with_path;
use super::heatmap::HIGHLIGHT;
use super::jobs::importance_runs_per_image;
use super::protocol::{Job, ProbeStart};
use super::teaching::{PanelProps, TeachingProps};
use super::view_model::{
    ImportanceView, NodeStat, Prediction, RegionProbe, RegionSensitivity, HALVES,
};
use crate::engine::{InterventionResult, Reach, Replacement, Saturation};

pub enum ImportanceMsg {
    Shipped(Option<ImportanceView>),
    ChooseFolder(Vec<web_sys::File>),
    Progress(usize, usize),
    Computed(Result<ImportanceView, String>),
    Cancel,
}

/// SE block importance and saturation over a chosen folder.
pub struct ImportancePanel {
    view: Option<Rc<ImportanceView>>,
    progress: Option<(usize, usize)>,
    error: Option<String>,
    /// Set to stop the measurement that runs now; each measurement gets its own.
    cancel: Rc<Cell<bool>>,
    /// The exports' object URLs, with their link's test id, text and file name.
    exports: Vec<Export>,
}

/// A downloadable file of the panel.
struct Export {
    id: &'static str,
    label: &'static str,
    file: String,
    url: String,
}

impl ImportancePanel {
    fn load_shipped(ctx: &Context<Self>) {
        let props = ctx.props().clone();
        if let Some(folder) = props.folder {
            ctx.link().send_future(async move {
                let job = Job::ShippedImportance { folder };
                let shipped = props
                    .engine
                    .run("shipped-importance", &job, None, &[], None, None);
                ImportanceMsg::Shipped(shipped.await.ok().and_then(|(view, _)| view))
            });
        }
    }

    fn show(&mut self, ctx: &Context<Self>, view: ImportanceView) {
        self.forget_exports();
        let mut files = vec![
            (
                "importance-json",
                "Importance (JSON)",
                "importance.json".to_string(),
                view.to_json(),
            ),
            (
                "importance-csv",
                "Importance (CSV)",
                "importance.csv".to_string(),
                view.to_csv(),
            ),
            (
                "gates-csv",
                "Gate statistics by module (CSV)",
                "gates.csv".to_string(),
                view.gates_csv(),
            ),
        ];
        // Model Explorer keys an ONNX file's nodes by their names: the gates' are known.
        if let Some(onnx) = ctx
            .props()
            .model
            .onnx
            .as_ref()
            .filter(|o| !o.gate_nodes.is_empty())
        {
            let graph = if onnx.graph_name.is_empty() {
                "graph"
            } else {
                &onnx.graph_name
            };
            for (stat, id, label) in [
                (
                    NodeStat::MeanGate,
                    "node-data-mean-gate",
                    "Model Explorer: mean gate",
                ),
                (
                    NodeStat::AccuracyLost,
                    "node-data-accuracy-lost",
                    "Model Explorer: accuracy lost without the block",
                ),
            ] {
                let file = format!("node-data-{}.json", stat.name());
                files.push((
                    id,
                    label,
                    file,
                    view.node_data(graph, &onnx.gate_nodes, stat),
                ));
            }
        }
        self.exports = files
            .into_iter()
            .filter_map(|(id, label, file, contents)| {
                let mime = if file.ends_with(".csv") {
                    "text/csv"
                } else {
                    "application/json"
                };
                let url = object_url(&contents, mime)?;
                Some(Export {
                    id,
                    label,
                    file,
                    url,
                })
            })
            .collect();
        self.view = Some(Rc::new(view));
    }

    fn forget_exports(&mut self) {
        for export in self.exports.drain(..) {
            revoke_object_url(&export.url);
        }
    }
}

impl Component for ImportancePanel {
    type Message = ImportanceMsg;
    type Properties = PanelProps;

    fn create(ctx: &Context<Self>) -> Self {
        Self::load_shipped(ctx);
        Self {
            view: None,
            progress: None,
            error: None,
            cancel: Rc::new(Cell::new(false)),
            exports: Vec::new(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, _old: &Self::Properties) -> bool {
        // Another model: what was measured is for the old one.
        self.cancel.set(true);
        self.progress = None;
        self.view = None;
        self.error = None;
        self.forget_exports();
        Self::load_shipped(ctx);
        true
    }

    fn update(&mut self, ctx: &Context<Self>, msg: ImportanceMsg) -> bool {
        match msg {
            // Shown unless the user measured a folder meanwhile.
            ImportanceMsg::Shipped(Some(view))
                if self.view.is_none() && self.progress.is_none() =>
            {
                self.show(ctx, view)
            }
            ImportanceMsg::Shipped(_) => return false,
            ImportanceMsg::ChooseFolder(files) => {
                self.cancel.set(true);
                self.cancel = Rc::new(Cell::new(false));
                let cancel = self.cancel.clone();
                let props = ctx.props().clone();
                let progress = ctx
                    .link()
                    .callback(|(done, all)| ImportanceMsg::Progress(done, all));
                self.error = None;
                self.progress = Some((0, 0));
                ctx.link().send_future(async move {
                    let files: Vec<_> = files.iter().map(with_path).collect();
                    let job = Job::Importance;
                    let view = props
                        .engine
                        .run("importance", &job, None, &files, Some(progress), None)
                        .await
                        .map(|(view, _)| view);
                    // A superseded measurement says nothing.
                    ImportanceMsg::Computed(if cancel.get() {
                        Err(String::new())
                    } else {
                        view
                    })
                });
            }
            ImportanceMsg::Progress(done, all) => {
                if self.progress.is_some() {
                    self.progress = Some((done, all));
                }
            }
            ImportanceMsg::Cancel => {
                self.cancel.set(true);
                ctx.props().engine.cancel("importance");
                let (done, all) = self.progress.take().unwrap_or_default();
                self.error = Some(format!("Cancelled after {done} of {all} runs."));
            }
            ImportanceMsg::Computed(result) => match result {
                Err(e) if e.is_empty() => return false,
                Err(e) => {
                    self.progress = None;
                    self.error = Some(e);
                }
                Ok(view) => {
                    self.progress = None;
                    self.show(ctx, view);
                }
            },
        }
        true
    }

    fn destroy(&mut self, _ctx: &Context<Self>) {
        self.cancel.set(true);
        self.forget_exports();
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let choose = ctx.link().batch_callback(|event: Event| {
            let input: HtmlInputElement = event.target_unchecked_into();
            let files = input.files().map(|list| {
                (0..list.length())
                    .filter_map(|i| list.get(i))
                    .collect::<Vec<_>>()
            });
            input.set_value("");
            files
                .filter(|f| !f.is_empty())
                .map(ImportanceMsg::ChooseFolder)
        });
        let runs_per_image = importance_runs_per_image(ctx.props().model.blocks.len());
        html! {
            <section class="importance" data-testid="importance" aria-label="which SE blocks matter">
                <h2>{ "Which SE blocks matter (the SE paper's §7)" }</h2>
                <p class="muted">
                    { "The paper removes the SE blocks of the last stage and loses little accuracy, because their \
                       gates are nearly all 1. Test it on your own labelled images: each block's gates are replaced \
                       by 1 (the block removed), by their mean over the folder, by the mean of the class the network \
                       predicts, or by the image's own gates on shuffled channels, first one block at a time, then \
                       from the last block backwards." }
                </p>
                <label class="button">
                    { "Measure on a folder of images…" }
                    <input type="file" webkitdirectory=true multiple=true data-testid="importance-folder"
                           class="visually-hidden" onchange={choose} />
                </label>
                <span class="muted">{ format!(" one subfolder per class, as for the class statistics; \
                                               {runs_per_image} runs per image") }</span>
                if let Some((done, all)) = self.progress {
                    <p data-testid="importance-progress">
                        <progress value={done.to_string()} max={all.max(1).to_string()} />
                        { format!(" run {done} of {all} ") }
                        <button data-testid="importance-cancel"
                                onclick={ctx.link().callback(|_| ImportanceMsg::Cancel)}>{ "Cancel" }</button>
                    </p>
                }
                if let Some(error) = &self.error {
                    <p class="error" data-testid="importance-error">{ error }</p>
                }
                if let Some(view) = &self.view {
                    { view_importance(view, &self.exports, ctx.props().model.onnx.is_none()) }
                }
            </section>
        }
    }
}

fn view_importance(view: &ImportanceView, exports: &[Export], timm: bool) -> Html {
    let base = view.accuracy();
    let row = |label: String, result: &InterventionResult| {
        let lost = (base - result.accuracy) * 100.0;
        html! {
            <div class="importance-row" data-testid={format!("importance-{}-{}", result.reach.name(), result.block)}
                 data-correct={result.correct.to_string()}
                 data-change={result.mean_true_logit_change.to_string()}>
                <span class="name">{ label }</span>
                <span class="meter" title={format!("accuracy {:.1}%", result.accuracy * 100.0)}>
                    <span style={format!("width: {:.1}%", result.accuracy * 100.0)}></span>
                    <i class="baseline" style={format!("left: {:.1}%", base * 100.0)}></i>
                </span>
                <span class="numbers">{ format!("{} of {} correct ({}), true-class logit {:+.3}",
                    result.correct, view.images, points(lost), result.mean_true_logit_change) }</span>
            </div>
        }
    };
    html! {
        <>
            <p class="muted" data-testid="importance-source">{ format!(
                "From {}. With every gate as computed: {} of {} correct ({:.1}%). The bars show the accuracy \
                 with the replacement; the line marks it without.",
                view.source, view.correct, view.images, base * 100.0) }</p>
            <h3>{ "Remove one block (its gates set to 1), least harmful first" }</h3>
            <div class="importance-chart" data-testid="importance-ranked">
                { for view.ranked().into_iter().map(|r| row(r.block.clone(), r)) }
            </div>
            <h3>{ "Remove blocks from the last one backwards" }</h3>
            <div class="importance-chart" data-testid="importance-cumulative">
                { for view.cumulative().into_iter().map(|r| row(format!("{} to the end", r.block), r)) }
            </div>
            <details class="importance-table">
                <summary>{ "Every replacement: accuracy (change of the true class's logit)" }</summary>
                { view_table(view) }
            </details>
            <h3>{ "How saturated are the gates?" }</h3>
            <p class="muted">{ "Share of all gates (images × channels) within 0.05 of 0 and of 1. A block whose \
                                gates are nearly all near 1 passes its input on almost unchanged: the paper's \
                                reading of blocks that can go." }</p>
            <p class="legend-classes">
                <span><span class="swatch saturation-zero"></span>{ "near 0 (switched off)" }</span>
                <span><span class="swatch saturation-middle"></span>{ "in between" }</span>
                <span><span class="swatch saturation-one"></span>{ "near 1 (passed unchanged)" }</span>
            </p>
            <div class="importance-chart" data-testid="saturation">
                { for view.saturation.iter().map(view_saturation) }
            </div>
            if !view.regions.is_empty() {
                { view_regions(&view.regions) }
            }
            <p class="exports">
                { for exports.iter().map(|e| html! {
                    <a data-testid={e.id} href={e.url.clone()} download={e.file.clone()}>{ e.label }</a>
                }) }
            </p>
            if timm {
                <p class="muted" data-testid="node-data-note">
                    { "To see these numbers on the graph in Google's Model Explorer: gates.csv is keyed by module \
                       path; tools/model_explorer_node_data.py turns it into node data for the graph torch.export \
                       gives of this timm model." }
                </p>
            }
        </>
    }
}

/// An accuracy change in percentage points, with its sign.
fn points(lost: f64) -> String {
    if lost.abs() < 0.05 {
        "no loss".into()
    } else if lost > 0.0 {
        format!("−{lost:.1} points")
    } else {
        format!("+{:.1} points", -lost)
    }
}

fn view_table(view: &ImportanceView) -> Html {
    let cell = |r: Option<&&InterventionResult>| match r {
        Some(r) => format!(
            "{:.1}% ({:+.2})",
            r.accuracy * 100.0,
            r.mean_true_logit_change
        ),
        None => String::new(),
    };
    let columns: Vec<(Replacement, Reach)> = [Reach::Alone, Reach::ToTheEnd]
        .into_iter()
        .flat_map(|reach| Replacement::ALL.map(|replacement| (replacement, reach)))
        .collect();
    let selected: Vec<Vec<&InterventionResult>> = columns
        .iter()
        .map(|&(replacement, reach)| view.select(replacement, reach))
        .collect();
    let blocks: Vec<&str> = selected[0].iter().map(|r| r.block.as_str()).collect();
    let heading = |replacement: Replacement| match replacement {
        Replacement::Ones => "ones",
        Replacement::DatasetMean => "dataset mean",
        Replacement::ClassMean => "class mean",
        Replacement::Permuted => "permuted",
    };
    html! {
        <table data-testid="importance-table">
            <thead>
                <tr><th></th><th colspan="4">{ "the block alone" }</th><th colspan="4">{ "the block to the end" }</th></tr>
                <tr><th>{ "block" }</th>
                    { for columns.iter().map(|(replacement, _)| html! { <th>{ heading(*replacement) }</th> }) }</tr>
            </thead>
            <tbody>
                { for blocks.iter().enumerate().map(|(i, block)| html! {
                    <tr><th>{ *block }</th>
                        { for selected.iter().map(|column| html! { <td>{ cell(column.get(i)) }</td> }) }</tr>
                }) }
            </tbody>
        </table>
    }
}

fn view_saturation(s: &Saturation) -> Html {
    let middle = (1.0 - s.near_zero - s.near_one).max(0.0);
    let gate = match (s.gate_function.as_deref(), s.reaches_bounds) {
        (Some(name), true) => format!("{name} gates: reach 0 and 1 exactly"),
        (Some(name), false) => format!("{name} gates: never exactly 0 or 1 (except by rounding)"),
        (None, _) => String::new(),
    };
    html! {
        <div class="importance-row" data-testid={format!("saturation-{}", s.block)}
             data-near-zero={s.near_zero.to_string()} data-near-one={s.near_one.to_string()}>
            <span class="name">{ &s.block }</span>
            <span class="saturation-bar" title={gate}>
                <span class="zero" style={format!("width: {:.1}%", s.near_zero * 100.0)}></span>
                <span class="middle" style={format!("width: {:.1}%", middle * 100.0)}></span>
                <span class="one" style={format!("width: {:.1}%", s.near_one * 100.0)}></span>
            </span>
            <span class="numbers">{ format!("{:.0}% near 0, {:.0}% near 1: {}", s.near_zero * 100.0,
                                            s.near_one * 100.0, s.reading) }</span>
        </div>
    }
}

pub enum ProbeMsg {
    Open,
    Choose(String),
    /// What the load numbered `.0` gave.
    Based(u64, Result<Rc<ProbeStart>, String>),
    /// The gates over the region of request `.0`; `.1`: predict with them.
    Probed(u64, bool, Result<RegionProbe, String>),
    /// A brush started at a point (fractions of the input).
    Start([f32; 2]),
    /// The brush moved to a point; `true` when it was let go there.
    Brush([f32; 2], bool),
    /// A whole rectangle (the preset buttons).
    Rect([f32; 4]),
    Predicted(u64, Result<Vec<Prediction>, String>),
}

/// The squeeze-region probe: brush a region of the network's input; the chosen block's squeeze
/// pools only that region, and its gates are shown beside the whole image's, with the
/// prediction when the block uses them. Computed once the user opens it.
pub struct RegionProbePanel {
    open: bool,
    block: String,
    base: Option<Rc<ProbeStart>>,
    /// `[left, top, right, bottom]`, fractions of the input.
    rect: [f32; 4],
    /// Numbers the region requests: only the latest one's result is taken.
    regions: u64,
    /// Where the brush went down, while it is down.
    anchor: Option<[f32; 2]>,
    probe: Option<RegionProbe>,
    /// The prediction with the region's gates, for the brush numbered `brushes`.
    predicted: Option<Vec<Prediction>>,
    brushes: u64,
    /// Numbers the loads of `base`: only the latest one's result is taken.
    loads: u64,
    error: Option<String>,
    picture: NodeRef,
}

const WHOLE: [f32; 4] = [0.0, 0.0, 1.0, 1.0];

impl RegionProbePanel {
    /// Runs the image to the chosen block; whatever was shown or on its way is now stale.
    fn load(&mut self, ctx: &Context<Self>) {
        self.loads += 1;
        self.brushes += 1;
        self.base = None;
        self.probe = None;
        self.predicted = None;
        let (load, props, block) = (self.loads, ctx.props().clone(), self.block.clone());
        ctx.link().send_future(async move {
            let job = Job::ProbeStart { block };
            let base = props
                .engine
                .run("probe", &job, Some(props.image), &[], None, None)
                .await;
            ProbeMsg::Based(load, base.map(|(base, _)| Rc::new(base)))
        });
    }

    /// The gates for the current rectangle (the worker keeps the block's map); with `predict`,
    /// the prediction with them too.
    fn probe(&mut self, ctx: &Context<Self>, predict: bool) {
        if self.base.is_none() {
            return;
        }
        self.regions += 1;
        let (id, engine, rect) = (self.regions, ctx.props().engine.clone(), self.rect);
        ctx.link().send_future(async move {
            let probe = engine
                .run(
                    "probe-region",
                    &Job::ProbeRegion { rect },
                    None,
                    &[],
                    None,
                    None,
                )
                .await;
            ProbeMsg::Probed(id, predict, probe.map(|(probe, _)| probe))
        });
    }

    /// The prediction with the probed gates in their block.
    fn predict(&mut self, ctx: &Context<Self>, probe: &RegionProbe) {
        self.brushes += 1;
        self.predicted = None;
        let (brush, props) = (self.brushes, ctx.props().clone());
        let job = Job::ClassifyWithGate {
            block: probe.block.clone(),
            gate: probe.probed.clone(),
        };
        ctx.link().send_future(async move {
            let top = props
                .engine
                .run("probe-predict", &job, Some(props.image), &[], None, None)
                .await;
            ProbeMsg::Predicted(brush, top.map(|(top, _)| top))
        });
    }
}

impl Component for RegionProbePanel {
    type Message = ProbeMsg;
    type Properties = TeachingProps;

    fn create(ctx: &Context<Self>) -> Self {
        // The last block: the paper's class-specific end of the network.
        let block = ctx.props().model.blocks.last().map(|se| se.name.clone());
        Self {
            open: false,
            block: block.unwrap_or_default(),
            base: None,
            rect: WHOLE,
            anchor: None,
            regions: 0,
            probe: None,
            predicted: None,
            brushes: 0,
            loads: 0,
            error: None,
            picture: NodeRef::default(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Self::Properties) -> bool {
        let (open, loads, brushes, regions) = (self.open, self.loads, self.brushes, self.regions);
        if !Rc::ptr_eq(&ctx.props().model, &old.model) {
            *self = <Self as Component>::create(ctx);
        }
        // The counters go on, so that nothing on its way for the old model or image is taken.
        (self.open, self.loads, self.brushes, self.regions) = (open, loads, brushes, regions);
        if open {
            self.load(ctx);
        }
        true
    }

    fn update(&mut self, ctx: &Context<Self>, msg: ProbeMsg) -> bool {
        match msg {
            ProbeMsg::Open => {
                self.open = true;
                self.load(ctx);
            }
            ProbeMsg::Choose(block) => {
                self.block = block;
                self.load(ctx);
            }
            ProbeMsg::Based(load, result) if load == self.loads => match result {
                Ok(base) => {
                    // The whole image's prediction is the run's own.
                    self.predicted = (self.rect == WHOLE).then(|| base.top.clone());
                    self.base = Some(base);
                    self.probe(ctx, self.rect != WHOLE);
                }
                Err(e) => self.error = Some(e),
            },
            ProbeMsg::Based(..) => return false,
            ProbeMsg::Start(at) => {
                // A new brush: the last one's prediction no longer fits.
                self.brushes += 1;
                self.predicted = None;
                self.anchor = Some(at);
                self.rect = [at[0], at[1], at[0], at[1]];
                self.probe(ctx, false);
            }
            ProbeMsg::Brush(at, done) => {
                let Some(anchor) = self.anchor else {
                    return false;
                };
                self.rect = [anchor[0], anchor[1], at[0], at[1]];
                if done {
                    self.anchor = None;
                }
                self.probe(ctx, done);
            }
            ProbeMsg::Rect(rect) => {
                self.anchor = None;
                self.rect = rect;
                self.probe(ctx, true);
            }
            ProbeMsg::Predicted(brush, top) if brush == self.brushes => match top {
                Ok(top) => self.predicted = Some(top),
                Err(e) => self.error = Some(e),
            },
            ProbeMsg::Predicted(..) => return false,
            ProbeMsg::Probed(id, predict, result) if id == self.regions => match result {
                Ok(probe) => {
                    self.error = None;
                    if predict {
                        self.predict(ctx, &probe);
                    }
                    self.probe = Some(probe);
                }
                Err(e) => {
                    self.probe = None;
                    self.error = Some(e);
                }
            },
            ProbeMsg::Probed(..) => return false,
        }
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        let (Some(base), Some(probe), Some(canvas)) = (
            &self.base,
            &self.probe,
            self.picture.cast::<HtmlCanvasElement>(),
        ) else {
            return;
        };
        let picture = &base.picture;
        let scale = PICTURE_SIDE.div_ceil(picture.width.max(1)).max(1);
        let grid = [probe.region.height, probe.region.width];
        let (width, height, rgba) =
            picture.with_positions(grid, &probe.region.cells, scale, HIGHLIGHT);
        draw_rgba(&canvas, width, height, &rgba);
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let heading = html! { <h2>{ "What does a gate listen to? (squeeze-region probe)" }</h2> };
        let why = html! {
            <p class="muted">
                { "In the paper every gate is computed from the mean of its whole feature map, so each channel's \
                   gate hears the entire image. Brush a region: the chosen block then averages only the positions \
                   under it, as if the rest of the image were not there for this one block, and you see which gates \
                   depend on what lies outside your region." }
            </p>
        };
        if !self.open {
            return html! {
                <section class="probe" data-testid="probe" aria-label="squeeze-region probe">
                    { heading }{ why }
                    <button data-testid="probe-open" onclick={link.callback(|_| ProbeMsg::Open)}>{ "Show it" }</button>
                </section>
            };
        }
        let choose = link.callback(|event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            ProbeMsg::Choose(select.value())
        });
        let at = |event: &PointerEvent| {
            let canvas: HtmlCanvasElement = event.target_unchecked_into();
            let bounds = canvas.get_bounding_client_rect();
            let fraction =
                |offset: f64, size: f64| ((offset / size.max(1.0)) as f32).clamp(0.0, 1.0);
            [
                fraction(f64::from(event.client_x()) - bounds.left(), bounds.width()),
                fraction(f64::from(event.client_y()) - bounds.top(), bounds.height()),
            ]
        };
        let down = link.callback(move |event: PointerEvent| {
            let canvas: HtmlCanvasElement = event.target_unchecked_into();
            // Keep the pointer while it drags, even outside the picture.
            let _ = canvas.set_pointer_capture(event.pointer_id());
            ProbeMsg::Start(at(&event))
        });
        let moved = link.callback(move |event: PointerEvent| ProbeMsg::Brush(at(&event), false));
        let up = link.callback(move |event: PointerEvent| ProbeMsg::Brush(at(&event), true));
        let preset = |label: &'static str, id: &'static str, rect: [f32; 4]| {
            html! { <button data-testid={format!("probe-{id}")} onclick={link.callback(move |_| ProbeMsg::Rect(rect))}>{ label }</button> }
        };
        html! {
            <section class="probe" data-testid="probe" aria-label="squeeze-region probe">
                { heading }{ why }
                <label>{ "Block " }
                    <select data-testid="probe-block" onchange={choose}>
                        { for ctx.props().model.blocks.iter().map(|se| html! {
                            <option value={se.name.clone()} selected={se.name == self.block}>{ &se.name }</option>
                        }) }
                    </select>
                </label>
                <span class="presets">
                    { preset("whole image", "whole", WHOLE) }
                    { preset("left half", "left", [0.0, 0.0, 0.5, 1.0]) }
                    { preset("right half", "right", [0.5, 0.0, 1.0, 1.0]) }
                    { preset("top half", "top", [0.0, 0.0, 1.0, 0.5]) }
                    { preset("bottom half", "bottom", [0.0, 0.5, 1.0, 1.0]) }
                </span>
                if let Some(error) = &self.error {
                    <p class="error" data-testid="probe-error">{ error }</p>
                }
                if self.base.is_none() && self.error.is_none() {
                    <p class="muted">{ "Running the image to this block…" }</p>
                }
                if let (Some(base), Some(probe)) = (&self.base, &self.probe) {
                    <div class="probe-body">
                        <figure>
                            <canvas ref={self.picture.clone()} data-testid="probe-picture" class="probe-picture"
                                    onpointerdown={down} onpointermove={moved} onpointerup={up} />
                            <figcaption>{ format!(
                                "Drag on the image. The squeeze pools the {} of {} positions of {}'s {}×{} map outlined.",
                                probe.region.count(), probe.region.cells.len(), probe.block,
                                probe.region.height, probe.region.width) }</figcaption>
                        </figure>
                        { view_probe(probe, &base.top, self.predicted.as_deref()) }
                    </div>
                }
            </section>
        }
    }
}

/// The side the network's input is drawn at in the probe (pixels, at least).
const PICTURE_SIDE: usize = 224;

fn view_probe(probe: &RegionProbe, top: &[Prediction], predicted: Option<&[Prediction]>) -> Html {
    let changes: Vec<f32> = probe
        .probed
        .iter()
        .zip(&probe.full)
        .map(|(p, f)| p - f)
        .collect();
    let change_limit = changes.iter().fold(0.0f32, |m, c| m.max(c.abs()));
    let name = |list: &[Prediction]| {
        list.first()
            .map(|p| format!("{} ({:.1}%)", p.label, p.prob * 100.0))
            .unwrap_or_default()
    };
    let list = |values: &[f32]| {
        values
            .iter()
            .map(f32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    html! {
        <div class="probe-gates" data-testid="probe-gates"
             data-full={list(&probe.full)} data-region={list(&probe.probed)}
             data-positions={probe.region.count().to_string()}>
            <h3>{ "Gates with the whole image's squeeze" }</h3>
            { gate_bars("probe-full", &probe.full) }
            <h3>{ "Gates with the region's squeeze" }</h3>
            { gate_bars("probe-region", &probe.probed) }
            <h3>{ format!("Change: region − whole image (bars span ±{:.4})", change_limit) }</h3>
            { change_bars(&changes, change_limit) }
            <p data-testid="probe-summary">{ format!(
                "The region moves the gates by {:.4} on average. With the whole image: {}. With these gates in \
                 {} (every other block unchanged): {}.",
                probe.mean_change(), name(top), probe.block,
                predicted.map_or_else(|| "…".to_string(), name)) }</p>
            <h3>{ "The channels the region moves most" }</h3>
            <ol class="probe-changed" data-testid="probe-changed">
                { for probe.most_changed(8).into_iter().map(|(channel, full, probed)| html! {
                    <li>{ format!("channel {channel}: {full:.3} → {probed:.3} ({:+.3})", probed - full) }</li>
                }) }
            </ol>
        </div>
    }
}

/// Gates in `[0, 1]` as one bar per channel.
fn gate_bars(test_id: &'static str, gates: &[f32]) -> Html {
    const HEIGHT: f32 = 40.0;
    html! {
        <svg class="bars" data-testid={test_id} viewBox={format!("0 0 {} {HEIGHT}", gates.len())}
             preserveAspectRatio="none" role="img" aria-label={test_id}>
            { for gates.iter().enumerate().map(|(i, &g)| {
                let h = (g.clamp(0.0, 1.0) * HEIGHT).max(0.2);
                html! { <rect x={i.to_string()} y={(HEIGHT - h).to_string()} width="0.9" height={h.to_string()} /> }
            }) }
        </svg>
    }
}

/// Signed changes as bars up (orange) and down (blue) from the middle, scaled to `±limit`.
fn change_bars(changes: &[f32], limit: f32) -> Html {
    const HEIGHT: f32 = 40.0;
    let scale = HEIGHT / 2.0 / limit.max(f32::MIN_POSITIVE);
    html! {
        <svg class="bars change" data-testid="probe-change" viewBox={format!("0 0 {} {HEIGHT}", changes.len())}
             preserveAspectRatio="none" role="img" aria-label="change of each gate">
            { for changes.iter().enumerate().map(|(i, &c)| {
                let h = (c.abs() * scale).max(0.2);
                let y = if c >= 0.0 { HEIGHT / 2.0 - h } else { HEIGHT / 2.0 };
                let class = if c >= 0.0 { "up" } else { "down" };
                html! { <rect x={i.to_string()} y={y.to_string()} width="0.9" height={h.to_string()} {class} /> }
            }) }
        </svg>
    }
}

/// The squeeze-region probe over the folder: how far each block's gates move when its squeeze
/// sees half of the image, against how far they differ between images.
fn view_regions(regions: &[RegionSensitivity]) -> Html {
    html! {
        <>
            <h3>{ "Does a gate hear the whole image? (the squeeze over half of it)" }</h3>
            <p class="muted">{ "Each block's squeeze taken over one half of the image instead of all of it (the squeeze-region \
                                probe, over every image of the folder): the mean change of a gate, \
                                beside how much gates differ from one image to the next. A block whose gates barely \
                                move hears mostly what every part of the image has in common." }</p>
            <div class="importance-table regions-table">
            <table data-testid="regions">
                <thead><tr><th>{ "block" }</th><th>{ "map" }</th>
                    { for HALVES.iter().map(|(name, _)| html! { <th>{ format!("{name} half") }</th> }) }
                    <th>{ "between images" }</th></tr></thead>
                <tbody>
                    { for regions.iter().map(|r| html! {
                        <tr data-testid={format!("regions-{}", r.block)}
                            data-halves={r.halves.map(|h| h.to_string()).join(",")}
                            data-between={r.between_images.to_string()}>
                            <th>{ &r.block }</th><td>{ format!("{}×{}", r.map[0], r.map[1]) }</td>
                            { for r.halves.iter().map(|h| html! { <td>{ format!("{h:.4}") }</td> }) }
                            <td>{ format!("{:.4}", r.between_images) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            </div>
        </>
    }
}
