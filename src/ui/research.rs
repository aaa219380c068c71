//! Research views that test the SE paper's claims on the user's own labelled images: which SE
//! blocks can be removed (§7 removes the last stage's), and how saturated each block's gates are.
//! The numbers are `se-lens evaluate --interventions`' (`engine::Plan`), computed in the page.

use std::cell::Cell;
use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::browser::{object_url, revoke_object_url};
use super::jobs::{block_importance_from_files, shipped_importance};
use super::teaching::PanelProps;
use super::view_model::ImportanceView;
use crate::engine::{InterventionResult, Reach, Replacement, Saturation, INTERVENTIONS_PER_BLOCK};

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
    /// Object URLs of the JSON and CSV exports.
    exports: Option<(String, String)>,
}

impl ImportancePanel {
    fn load_shipped(ctx: &Context<Self>) {
        let props = ctx.props().clone();
        if let Some(folder) = props.folder {
            ctx.link().send_future(async move {
                ImportanceMsg::Shipped(shipped_importance(&props.model, &folder).await)
            });
        }
    }

    fn show(&mut self, view: ImportanceView) {
        self.forget_exports();
        self.exports = object_url(&view.to_json(), "application/json")
            .zip(object_url(&view.to_csv(), "text/csv"));
        self.view = Some(Rc::new(view));
    }

    fn forget_exports(&mut self) {
        if let Some((json, csv)) = self.exports.take() {
            revoke_object_url(&json);
            revoke_object_url(&csv);
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
            exports: None,
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
                self.show(view)
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
                    let view = block_importance_from_files(
                        &props.model,
                        &props.backend,
                        &files,
                        progress,
                        cancel.clone(),
                    )
                    .await;
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
                    self.show(view);
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
        let runs_per_image = 1 + INTERVENTIONS_PER_BLOCK * ctx.props().model.graph.se_blocks.len();
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
                    { view_importance(view, self.exports.as_ref()) }
                }
            </section>
        }
    }
}

fn view_importance(view: &ImportanceView, exports: Option<&(String, String)>) -> Html {
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
            if let Some((json, csv)) = exports {
                <p class="exports">
                    <a data-testid="importance-json" href={json.clone()} download="importance.json">{ "Importance (JSON)" }</a>
                    <a data-testid="importance-csv" href={csv.clone()} download="importance.csv">{ "Importance (CSV)" }</a>
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
