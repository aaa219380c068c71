//! Teaching views: one SE block explained on the current image step by step (input maps →
//! squeeze → FC1 → FC2 → sigmoid → scaled maps, hovering a channel highlights it everywhere),
//! why the sigmoid matters, and the SE paper's class statistics (Fig. 6) for the model.

use std::rc::Rc;

use web_sys::{HtmlCanvasElement, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::browser::{draw_rgba, object_url};
use super::client::{with_path, Engine};
use super::heatmap::{colour, diverging};
use super::protocol::{ImageRef, Job, ModelSummary};
use super::view_model::{ClassStatsView, SeSteps};
use crate::engine::Activation;

/// What the teaching views work on: the engine (with the model in it), the model, and the
/// current image.
#[derive(Clone, Properties)]
pub struct TeachingProps {
    pub engine: Engine,
    pub model: Rc<ModelSummary>,
    /// The image, kept by the engine worker.
    pub image: ImageRef,
}

impl PartialEq for TeachingProps {
    fn eq(&self, other: &Self) -> bool {
        self.engine == other.engine
            && Rc::ptr_eq(&self.model, &other.model)
            && self.image == other.image
    }
}

pub enum StepsMsg {
    Open,
    Choose(String),
    Computed(Result<SeSteps, String>),
    Hover(Option<usize>),
}

/// One SE block, step by step, on the current image. It costs two extra forward passes per
/// image, so it is computed only once the user opens it.
pub struct BlockSteps {
    open: bool,
    block: String,
    steps: Option<Rc<SeSteps>>,
    error: Option<String>,
    hovered: Option<usize>,
    maps: NodeRef,
    scaled: NodeRef,
}

impl BlockSteps {
    fn compute(&self, ctx: &Context<Self>) {
        let props = ctx.props().clone();
        let block = self.block.clone();
        ctx.link().send_future(async move {
            let job = Job::SeSteps { block };
            let steps = props
                .engine
                .run("steps", &job, Some(props.image), &[], None, None)
                .await;
            StepsMsg::Computed(steps.map(|(steps, _)| steps))
        });
    }
}

impl Component for BlockSteps {
    type Message = StepsMsg;
    type Properties = TeachingProps;

    fn create(ctx: &Context<Self>) -> Self {
        let block = ctx
            .props()
            .model
            .blocks
            .first()
            .map(|se| se.name.clone())
            .unwrap_or_default();
        Self {
            open: false,
            block,
            steps: None,
            error: None,
            hovered: None,
            maps: NodeRef::default(),
            scaled: NodeRef::default(),
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Self::Properties) -> bool {
        let open = self.open;
        if !Rc::ptr_eq(&ctx.props().model, &old.model) {
            *self = <Self as Component>::create(ctx);
            self.open = open;
        }
        if open {
            self.compute(ctx);
        }
        true
    }

    fn update(&mut self, ctx: &Context<Self>, msg: StepsMsg) -> bool {
        match msg {
            StepsMsg::Open => {
                self.open = true;
                self.compute(ctx);
                true
            }
            StepsMsg::Choose(block) => {
                self.block = block;
                self.compute(ctx);
                false
            }
            StepsMsg::Computed(Ok(steps)) => {
                self.error = None;
                self.hovered = None;
                self.steps = Some(Rc::new(steps));
                true
            }
            StepsMsg::Computed(Err(e)) => {
                self.error = Some(e);
                true
            }
            StepsMsg::Hover(channel) => {
                let changed = self.hovered != channel;
                self.hovered = channel;
                changed
            }
        }
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first: bool) {
        let Some(steps) = &self.steps else {
            return;
        };
        let plane = steps.width * steps.height;
        let original = |c: usize| steps.maps[c * plane..(c + 1) * plane].to_vec();
        if let Some(canvas) = self.maps.cast::<HtmlCanvasElement>() {
            draw_thumbnails(&canvas, steps, self.hovered, original);
        }
        if let Some(canvas) = self.scaled.cast::<HtmlCanvasElement>() {
            draw_thumbnails(&canvas, steps, self.hovered, |c| steps.scaled(c).collect());
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        if !self.open {
            return html! {
                <section class="teach" data-testid="teach" aria-label="one SE block step by step">
                    <h2>{ "One SE block, step by step" }</h2>
                    <p class="muted">
                        { "Follow this image through one block: the squeeze, the two small fully connected \
                           layers, the sigmoid and the scale, with its own numbers, and see what the sigmoid is for. " }
                        <button data-testid="teach-open" onclick={link.callback(|_| StepsMsg::Open)}>
                            { "Show it" }</button>
                    </p>
                </section>
            };
        }
        let choose = link.callback(|event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            StepsMsg::Choose(select.value())
        });
        html! {
            <section class="teach" data-testid="teach" aria-label="one SE block step by step">
                <h2>{ "One SE block, step by step" }</h2>
                <label>{ "Block " }
                    <select data-testid="teach-block" onchange={choose}>
                        { for ctx.props().model.blocks.iter().map(|se| html! {
                            <option value={se.name.clone()} selected={se.name == self.block}>{ &se.name }</option>
                        }) }
                    </select>
                </label>
                if let Some(error) = &self.error {
                    <p class="error">{ error }</p>
                }
                if let Some(steps) = &self.steps {
                    { self.view_steps(link, steps) }
                }
            </section>
        }
    }
}

impl BlockSteps {
    fn view_steps(&self, link: &html::Scope<Self>, steps: &SeSteps) -> Html {
        let channels = steps.channels();
        let (columns, rows) = thumbnail_grid(channels);
        let hover_grid = move |event: MouseEvent| {
            let canvas: HtmlCanvasElement = event.target_unchecked_into();
            let rect = canvas.get_bounding_client_rect();
            let (cell_w, cell_h) = (rect.width() / columns as f64, rect.height() / rows as f64);
            let column = ((f64::from(event.client_x()) - rect.left()) / cell_w) as usize;
            let row = ((f64::from(event.client_y()) - rect.top()) / cell_h) as usize;
            let channel = row * columns + column.min(columns - 1);
            StepsMsg::Hover((channel < channels).then_some(channel))
        };
        let hover_maps = link.callback(hover_grid);
        let hover_scaled = link.callback(hover_grid);
        let leave = link.callback(|_| StepsMsg::Hover(None));
        let (negative, above_one) = steps.without_sigmoid();
        let gate = steps.gate_function.name();
        let off = steps.gates.iter().filter(|&&g| g == 0.0).count();
        let on = steps.gates.iter().filter(|&&g| g == 1.0).count();
        let (low, high) = steps
            .logits
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let top = |list: &[super::view_model::Prediction]| {
            list.first()
                .map(|p| format!("{} ({:.1}%)", p.label, p.prob * 100.0))
                .unwrap_or_default()
        };
        html! {
            <>
                <p class="muted" data-testid="teach-hover">
                    { match self.hovered {
                        Some(c) => format!(
                            "channel {c}: mean {:.4} → FC2 {:.3} → gate {:.4}",
                            steps.squeezed[c], steps.logits[c], steps.gates[c]),
                        None => "Hover a channel in any step to follow it through the block.".into(),
                    } }
                </p>
                <ol class="steps">
                    <li>
                        <h3>{ format!("1. Input: {channels} feature maps of {}×{}", steps.height, steps.width) }</h3>
                        <canvas ref={self.maps.clone()} data-testid="teach-maps" class="thumbs"
                                onmousemove={hover_maps} onmouseleave={leave.clone()} />
                    </li>
                    <li>
                        <h3>{ "2. Squeeze: each map's mean (global average pooling)" }</h3>
                        { bars(link, "teach-squeeze", &steps.squeezed, self.hovered, true) }
                    </li>
                    <li>
                        <h3>{ format!("3. FC1 + {}: {channels} → {} values (reduction r = {})", steps.act.name(), steps.hidden.len(), steps.ratio()) }</h3>
                        { bars(link, "teach-hidden", &steps.hidden, None, false) }
                    </li>
                    <li>
                        <h3>{ format!("4. FC2: {} → {channels} values, then the {}: the gate", steps.hidden.len(), steps.gate_function.name()) }</h3>
                        { bars(link, "teach-logits", &steps.logits, self.hovered, true) }
                        <div class="gate-row" data-testid="teach-gate" onmouseleave={leave.clone()}>
                            { for steps.gates.iter().enumerate().map(|(c, &g)| {
                                let [r, gg, b] = colour(g);
                                html! {
                                    <span class={classes!((self.hovered == Some(c)).then_some("hovered"))}
                                          style={format!("background: rgb({r},{gg},{b})")}
                                          title={format!("channel {c}: gate {g:.4}")}
                                          onmouseenter={link.callback(move |_| StepsMsg::Hover(Some(c)))} />
                                }
                            }) }
                        </div>
                    </li>
                    <li>
                        <h3>{ "5. Scale: each map times its gate" }</h3>
                        <canvas ref={self.scaled.clone()} data-testid="teach-scaled" class="thumbs"
                                onmousemove={hover_scaled} onmouseleave={leave} />
                    </li>
                </ol>
                if steps.gate_function == Activation::HardSigmoid {
                    <p class="note" data-testid="teach-hard-sigmoid">
                        { format!(
                            "This block gates with a hard sigmoid, {}. Here {off} of {channels} channels are shut off \
                             completely and {on} passed unchanged.", steps.hard_sigmoid_formula()) }
                    </p>
                }
                <p class="note" data-testid="teach-no-sigmoid">
                    { format!(
                        "Why the {gate}: without it the gate is FC2's raw output, here from {low:.2} to {high:.2}. \
                         {negative} of {channels} channels would get a negative gate, flipping their maps' sign, and \
                         {above_one} would be amplified beyond their input. Run this way (this block only, same \
                         numbers), the network predicts {} instead of {}.",
                        top(&steps.top_without_sigmoid), top(&steps.top)) }
                </p>
            </>
        }
    }
}

/// A bar per value (signed around a zero line when `signed`), the hovered one marked; hovering a
/// bar reports its channel when `channels` is set.
fn bars(
    link: &html::Scope<BlockSteps>,
    test_id: &'static str,
    values: &[f32],
    hovered: Option<usize>,
    channels: bool,
) -> Html {
    const HEIGHT: f32 = 60.0;
    let limit = values.iter().fold(f32::EPSILON, |m, v| m.max(v.abs()));
    let signed = values.iter().any(|&v| v < 0.0);
    let zero = if signed { HEIGHT / 2.0 } else { HEIGHT };
    let scale = if signed { HEIGHT / 2.0 } else { HEIGHT } / limit;
    html! {
        <svg class="bars" data-testid={test_id} viewBox={format!("0 0 {} {HEIGHT}", values.len())}
             preserveAspectRatio="none" role="img" aria-label={test_id}>
            { for values.iter().enumerate().map(|(i, &v)| {
                let (y, h) = if v >= 0.0 { (zero - v * scale, v * scale) } else { (zero, -v * scale) };
                let enter = channels.then(|| link.callback(move |_| StepsMsg::Hover(Some(i))));
                html! {
                    <rect x={i.to_string()} y={y.to_string()} width="0.9" height={h.max(0.2).to_string()}
                          data-value={v.to_string()} class={classes!((hovered == Some(i)).then_some("hovered"))}
                          onmouseenter={enter}>
                        <title>{ format!("{i}: {v:.4}") }</title>
                    </rect>
                }
            }) }
        </svg>
    }
}

/// Thumbnails per row and rows, for `channels` maps.
fn thumbnail_grid(channels: usize) -> (usize, usize) {
    let columns = channels.clamp(1, 32);
    (columns, channels.div_ceil(columns).max(1))
}

/// Every channel's map (`map(channel)`, row-major) as a thumbnail in a grid, one pixel per
/// value plus a 1-pixel gap, on the diverging scale `±steps.limit`; the hovered one framed.
fn draw_thumbnails(
    canvas: &HtmlCanvasElement,
    steps: &SeSteps,
    hovered: Option<usize>,
    map: impl Fn(usize) -> Vec<f32>,
) {
    let (columns, rows) = thumbnail_grid(steps.channels());
    let (cell_w, cell_h) = (steps.width + 2, steps.height + 2);
    let (width, height) = (columns * cell_w, rows * cell_h);
    let mut rgba = vec![0u8; width * height * 4];
    for channel in 0..steps.channels() {
        let (x0, y0) = ((channel % columns) * cell_w, (channel / columns) * cell_h);
        let frame = hovered == Some(channel);
        let values = map(channel);
        for y in 0..cell_h {
            for x in 0..cell_w {
                let border = x == 0 || y == 0 || x == cell_w - 1 || y == cell_h - 1;
                let pixel = ((y0 + y) * width + x0 + x) * 4;
                let rgb = match (border, frame) {
                    (true, true) => [255, 210, 0],
                    (true, false) => [20, 24, 28],
                    (false, _) => diverging(values[(y - 1) * steps.width + x - 1], steps.limit),
                };
                rgba[pixel..pixel + 4].copy_from_slice(&[rgb[0], rgb[1], rgb[2], 255]);
            }
        }
    }
    draw_rgba(canvas, width, height, &rgba);
}

pub enum StatsMsg {
    Shipped(Option<ClassStatsView>),
    ChooseFolder(Vec<web_sys::File>),
    Progress(usize, usize),
    Computed(Result<ClassStatsView, String>),
}

/// What the model-wide panels (class statistics, which blocks matter) work on.
#[derive(Clone, Properties)]
pub struct PanelProps {
    pub engine: Engine,
    pub model: Rc<ModelSummary>,
    /// The model's folder URL, when it has one (its `class_stats.json` and `importance.json` are
    /// looked for there).
    pub folder: Option<String>,
}

impl PartialEq for PanelProps {
    fn eq(&self, other: &Self) -> bool {
        self.engine == other.engine
            && Rc::ptr_eq(&self.model, &other.model)
            && self.folder == other.folder
    }
}

/// The SE paper's Fig. 6 for the loaded model: per class, the mean gate per channel of the last
/// SE block of each stage, with the mean over all images.
pub struct ClassStatsPanel {
    stats: Option<Rc<ClassStatsView>>,
    progress: Option<(usize, usize)>,
    error: Option<String>,
    export: Option<String>,
}

impl ClassStatsPanel {
    fn load_shipped(ctx: &Context<Self>) {
        let props = ctx.props().clone();
        if let Some(folder) = props.folder {
            ctx.link().send_future(async move {
                let job = Job::ShippedClassStats { folder };
                let shipped = props
                    .engine
                    .run("shipped-stats", &job, None, &[], None, None);
                StatsMsg::Shipped(shipped.await.ok().and_then(|(stats, _)| stats))
            });
        }
    }

    fn show(&mut self, stats: ClassStatsView) {
        if let Some(url) = self.export.take() {
            super::browser::revoke_object_url(&url);
        }
        self.export = object_url(&stats.to_json(), "application/json");
        self.stats = Some(Rc::new(stats));
    }
}

impl Component for ClassStatsPanel {
    type Message = StatsMsg;
    type Properties = PanelProps;

    fn create(ctx: &Context<Self>) -> Self {
        Self::load_shipped(ctx);
        Self {
            stats: None,
            progress: None,
            error: None,
            export: None,
        }
    }

    fn changed(&mut self, ctx: &Context<Self>, old: &Self::Properties) -> bool {
        if !Rc::ptr_eq(&ctx.props().model, &old.model) || ctx.props().folder != old.folder {
            self.stats = None;
            self.error = None;
            Self::load_shipped(ctx);
        }
        true
    }

    fn update(&mut self, ctx: &Context<Self>, msg: StatsMsg) -> bool {
        match msg {
            StatsMsg::Shipped(Some(stats)) => self.show(stats),
            StatsMsg::Shipped(None) => {}
            StatsMsg::ChooseFolder(files) => {
                let props = ctx.props().clone();
                let progress = ctx
                    .link()
                    .callback(|(done, all)| StatsMsg::Progress(done, all));
                self.error = None;
                self.progress = Some((0, files.len()));
                ctx.link().send_future(async move {
                    let files: Vec<_> = files.iter().map(with_path).collect();
                    let stats = props.engine.run(
                        "stats",
                        &Job::ClassStats,
                        None,
                        &files,
                        Some(progress),
                        None,
                    );
                    StatsMsg::Computed(stats.await.map(|(stats, _)| stats))
                });
            }
            StatsMsg::Progress(done, all) => self.progress = Some((done, all)),
            StatsMsg::Computed(result) => {
                self.progress = None;
                match result {
                    Ok(stats) => self.show(stats),
                    Err(e) => self.error = Some(e),
                }
            }
        }
        true
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
            files.filter(|f| !f.is_empty()).map(StatsMsg::ChooseFolder)
        });
        html! {
            <section class="class-stats" data-testid="class-stats" aria-label="class statistics">
                <h2>{ "Excitation by class (the SE paper's Fig. 6)" }</h2>
                <p class="muted">
                    { "The mean gate of each channel over many images of one class, for the last SE block of each \
                       stage, one line per class and the mean over all images in white. The paper finds early \
                       blocks alike for every class and later ones class-specific; see whether this model agrees." }
                </p>
                <label class="button">
                    { "Compute from a folder of images…" }
                    <input type="file" webkitdirectory=true multiple=true data-testid="class-folder"
                           class="visually-hidden" onchange={choose} />
                </label>
                <span class="muted">{ " one subfolder per class, named by class index or label" }</span>
                if let Some((done, all)) = self.progress {
                    <p data-testid="class-progress"><progress value={done.to_string()} max={all.to_string()} />
                        { format!(" image {done} of {all}") }</p>
                }
                if let Some(error) = &self.error {
                    <p class="error" data-testid="class-error">{ error }</p>
                }
                if let Some(stats) = &self.stats {
                    { view_class_stats(stats, self.export.as_deref()) }
                }
            </section>
        }
    }
}

/// One line plot per block: channels on x, mean gate on y (over the block's range), a line per
/// class (Tableau 10 colours) and the all-image mean.
fn view_class_stats(stats: &ClassStatsView, export: Option<&str>) -> Html {
    const HEIGHT: f64 = 100.0;
    let palette = |class: usize| {
        let c = colorous::TABLEAU10[class % colorous::TABLEAU10.len()];
        format!("rgb({},{},{})", c.r, c.g, c.b)
    };
    html! {
        <>
            <p class="muted" data-testid="class-source">{ format!("From {}.", stats.source) }</p>
            <p class="legend-classes">
                { for stats.labels.iter().enumerate().map(|(class, label)| html! {
                    <span><span class="swatch" style={format!("background: {}", palette(class))}></span>
                        { format!("{label} ({})", stats.class_counts[class]) }</span>
                }) }
                <span><span class="swatch mean"></span>{ "all images" }</span>
            </p>
            { for stats.blocks.iter().map(|block| {
                let (low, high) = block.class_means.iter().flatten().chain(&block.mean)
                    .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                let span = (high - low).max(1e-6);
                let channels = block.mean.len();
                let line = |values: &[f64]| values.iter().enumerate()
                    .map(|(c, v)| format!("{c},{:.2}", HEIGHT - (v - low) / span * HEIGHT))
                    .collect::<Vec<_>>().join(" ");
                html! {
                    <figure class="class-plot">
                        <svg data-testid={format!("class-plot-{}", block.block)}
                             viewBox={format!("0 -2 {} {}", channels.saturating_sub(1).max(1), HEIGHT + 4.0)}
                             preserveAspectRatio="none" role="img" aria-label={format!("class means of {}", block.block)}>
                            { for block.class_means.iter().enumerate()
                                .filter(|(class, _)| stats.class_counts[*class] > 0)
                                .map(|(class, means)| html! {
                                    <polyline data-class={class.to_string()} points={line(means)}
                                              style={format!("stroke: {}", palette(class))} />
                                }) }
                            <polyline class="mean" data-class="mean" points={line(&block.mean)} />
                        </svg>
                        <figcaption>{ format!("{}: {channels} channels, gates {low:.3} to {high:.3}", block.block) }</figcaption>
                    </figure>
                }
            }) }
            if let Some(url) = export {
                <p class="exports"><a data-testid="class-stats-json" href={url.to_string()} download="class_stats.json">
                    { "Class statistics (JSON)" }</a></p>
            }
        </>
    }
}
