//! One SE block's gates (or their change between two images) as a heatmap: one cell per channel,
//! colour-blind-safe colours (cividis for gates over an absolute or per-block range, purple–orange
//! for differences), hover or arrow keys for channel, value and rank.

use std::rc::Rc;

use web_sys::{HtmlCanvasElement, KeyboardEvent, MouseEvent};
use yew::prelude::*;

use super::browser::{download, draw_rgba, png_data_url};
use super::view_model::{BlockView, ChannelDetail};

/// The colour of a position on the ramp, `[0, 1]` (values outside are clamped).
pub fn colour(value: f32) -> [u8; 3] {
    let c = colorous::CIVIDIS.eval_continuous(f64::from(value.clamp(0.0, 1.0)));
    [c.r, c.g, c.b]
}

/// A legend's CSS gradient for a ramp given on `[0, 1]` (`colour`, or the diverging one).
pub fn legend_gradient(ramp: impl Fn(f32) -> [u8; 3]) -> String {
    let stops: Vec<String> = (0..=10)
        .map(|i| {
            let [r, g, b] = ramp(i as f32 / 10.0);
            format!("rgb({r},{g},{b}) {}%", i * 10)
        })
        .collect();
    format!("linear-gradient(to right, {})", stops.join(", "))
}

/// What the colour ramp spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Gate 0 to gate 1: blocks and images compare directly; saturation shows.
    Absolute,
    /// The block's own lowest to highest gate: small differences between channels show.
    Block,
}

impl Scale {
    /// The value range the ramp spans for `block`.
    pub fn range(self, block: &BlockView) -> (f32, f32) {
        match self {
            Self::Absolute => (0.0, 1.0),
            Self::Block => (block.min, block.max),
        }
    }
}

/// What a heatmap's values are and how they are coloured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Paint {
    Gates(Scale),
    /// Gate of image B minus gate of image A, coloured symmetrically over `±limit`.
    Difference {
        limit: f32,
    },
}

impl Paint {
    pub fn colour(self, block: &BlockView, value: f32) -> [u8; 3] {
        match self {
            Self::Gates(scale) => {
                let (low, high) = scale.range(block);
                colour((value - low) / (high - low).max(f32::EPSILON))
            }
            Self::Difference { limit } => diverging(value, limit),
        }
    }

    /// The heatmap's pixels: one RGBA cell per channel on [`BlockView::grid`], row-major; cells
    /// past the last channel stay transparent.
    pub fn pixels(self, block: &BlockView) -> Vec<u8> {
        let (columns, rows) = block.grid();
        let mut rgba = vec![0u8; columns * rows * 4];
        for (cell, &value) in rgba.chunks_exact_mut(4).zip(&block.values) {
            let [r, g, b] = self.colour(block, value);
            cell.copy_from_slice(&[r, g, b, 255]);
        }
        rgba
    }

    fn format(self, value: f32) -> String {
        match self {
            Self::Gates(_) => format!("{value:.4}"),
            Self::Difference { .. } => format!("{value:+.4}"),
        }
    }

    /// The test id prefix and the tooltip's name for a value.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Gates(_) => ("heatmap", "gate"),
            Self::Difference { .. } => ("diff", "Δ gate"),
        }
    }
}

/// The colour of a signed value on the diverging purple–orange ramp over `±limit`.
pub fn diverging(value: f32, limit: f32) -> [u8; 3] {
    let t = 0.5 + 0.5 * value / limit.max(f32::EPSILON);
    let c = colorous::PURPLE_ORANGE.eval_continuous(f64::from(t.clamp(0.0, 1.0)));
    [c.r, c.g, c.b]
}

#[derive(Properties, PartialEq)]
pub struct HeatmapProps {
    pub block: Rc<BlockView>,
    pub paint: Paint,
    /// Called with a channel when it is clicked (or Enter is pressed on it).
    #[prop_or_default]
    pub on_select: Option<Callback<usize>>,
}

#[function_component(Heatmap)]
pub fn heatmap(props: &HeatmapProps) -> Html {
    let canvas = use_node_ref();
    let focus = use_state(|| None::<usize>);
    let block = props.block.clone();
    let (columns, rows) = block.grid();
    let paint = props.paint;
    let (id_prefix, quantity) = paint.names();
    {
        let canvas = canvas.clone();
        use_effect_with((block.clone(), paint), move |(block, paint)| {
            if let Some(canvas) = canvas.cast::<HtmlCanvasElement>() {
                draw_rgba(&canvas, columns, rows, &paint.pixels(block));
            }
        });
    }
    let channels = block.values.len();
    let channel_at = {
        let canvas = canvas.clone();
        move |event: &MouseEvent| {
            let element = canvas.cast::<HtmlCanvasElement>()?;
            let rect = element.get_bounding_client_rect();
            let x = (f64::from(event.client_x()) - rect.left()) / rect.width().max(1.0);
            let y = (f64::from(event.client_y()) - rect.top()) / rect.height().max(1.0);
            let column = ((x.max(0.0) * columns as f64) as usize).min(columns - 1);
            let row = ((y.max(0.0) * rows as f64) as usize).min(rows - 1);
            Some(row * columns + column).filter(|&c| c < channels)
        }
    };
    let onmousemove = {
        let focus = focus.clone();
        let channel_at = channel_at.clone();
        Callback::from(move |event: MouseEvent| focus.set(channel_at(&event)))
    };
    let onclick = props.on_select.clone().map(|select| {
        Callback::from(move |event: MouseEvent| {
            if let Some(channel) = channel_at(&event) {
                select.emit(channel);
            }
        })
    });
    let onmouseleave = {
        let focus = focus.clone();
        Callback::from(move |_| focus.set(None))
    };
    let onkeydown = {
        let focus = focus.clone();
        let select = props.on_select.clone();
        Callback::from(move |event: KeyboardEvent| {
            let current = focus.unwrap_or(0) as isize;
            let step = match event.key().as_str() {
                "Enter" | " " => {
                    if let (Some(select), Some(channel)) = (&select, *focus) {
                        event.prevent_default();
                        select.emit(channel);
                    }
                    return;
                }
                "ArrowRight" => 1,
                "ArrowLeft" => -1,
                "ArrowDown" => columns as isize,
                "ArrowUp" => -(columns as isize),
                "Escape" => {
                    focus.set(None);
                    return;
                }
                _ => return,
            };
            event.prevent_default();
            let next = if focus.is_none() { 0 } else { current + step };
            focus.set(Some(next.clamp(0, channels as isize - 1) as usize));
        })
    };
    let tooltip = focus.map(|channel| {
        format!(
            "channel {channel} · {quantity} {} · rank {} of {channels}",
            paint.format(block.values[channel]),
            block.rank[channel]
        )
    });
    let name = &block.block;
    // The PNG is made when asked for: the heatmap enlarged to 16 pixels per cell.
    let export = {
        let canvas = canvas.clone();
        let filename = format!("{id_prefix}-{name}.png");
        Callback::from(move |_: MouseEvent| {
            if let Some(url) = canvas
                .cast::<HtmlCanvasElement>()
                .and_then(|c| png_data_url(&c, 16))
            {
                download(&url, &filename);
            }
        })
    };
    html! {
        <figure class="heatmap">
            <figcaption>
                <code>{ name }</code>
                <span class="muted">{ format!(
                    " {channels} channels · {quantity}s {:.3} to {:.3}, mean {:.3}, std {:.3}",
                    block.min, block.max, block.mean, block.std
                ) }</span>
                { " " }
                <button class="png" onclick={export} data-testid={format!("png-{id_prefix}-{name}")}
                        aria-label={format!("download the heatmap of {name} as PNG")}>{ "PNG" }</button>
            </figcaption>
            <canvas
                ref={canvas}
                data-testid={format!("{id_prefix}-{name}")}
                tabindex="0"
                role="img"
                aria-label={format!("{quantity}s of {name}, {channels} channels; arrow keys step through them")}
                style={format!("aspect-ratio: {columns} / {rows}")}
                {onmousemove}
                {onclick}
                {onmouseleave}
                {onkeydown}
            />
            <p class="tooltip" data-testid={format!("tooltip-{id_prefix}-{name}")} aria-live="polite">
                { tooltip.unwrap_or_else(|| match props.on_select {
                    Some(_) => "hover a cell (or focus and use the arrow keys); click (or Enter) for the channel's feature map".into(),
                    None => "hover a cell (or focus and use the arrow keys)".into(),
                }) }
            </p>
        </figure>
    }
}

/// The smallest side the network's input is drawn at (pixels, before CSS).
const SOURCE_SIDE: usize = 140;
/// The edge of highlighted positions (orange, apart from cividis and the diverging ramp).
pub const HIGHLIGHT: [u8; 3] = [242, 142, 43];

#[derive(Properties, PartialEq)]
pub struct FeatureMapsProps {
    pub detail: Rc<ChannelDetail>,
}

/// A channel's feature map before and after its gate, on one diverging scale (`±` the largest
/// `|value|` before the gate), so the gate's dimming is visible.
#[function_component(FeatureMaps)]
pub fn feature_maps(props: &FeatureMapsProps) -> Html {
    let before = use_node_ref();
    let after = use_node_ref();
    let source = use_node_ref();
    let raising = props.detail.raising_squeeze();
    {
        let (before, after, source) = (before.clone(), after.clone(), source.clone());
        let raising = raising.clone();
        use_effect_with(props.detail.clone(), move |detail| {
            if let (Some(canvas), Some(picture)) =
                (source.cast::<HtmlCanvasElement>(), &detail.picture)
            {
                let mut kept = vec![false; detail.before.len()];
                for &i in &raising {
                    kept[i] = true;
                }
                let scale = SOURCE_SIDE.div_ceil(picture.width.max(1)).max(1);
                let grid = [detail.height, detail.width];
                let (w, h, rgba) = picture.with_positions(grid, &kept, scale, HIGHLIGHT);
                draw_rgba(&canvas, w, h, &rgba);
            }
            for (canvas, values) in [(&before, &detail.before), (&after, &detail.after)] {
                if let Some(canvas) = canvas.cast::<HtmlCanvasElement>() {
                    let rgba: Vec<u8> = values
                        .iter()
                        .flat_map(|&v| {
                            let [r, g, b] = diverging(v, detail.limit);
                            [r, g, b, 255]
                        })
                        .collect();
                    draw_rgba(&canvas, detail.width, detail.height, &rgba);
                }
            }
        });
    }
    let d = &props.detail;
    html! {
        <figure class="channel-detail" data-testid="channel-detail">
            <figcaption>
                { format!("{} channel {}: its {}×{} feature map before the gate and after (× {:.4}); \
                           colours span ±{:.3}", d.block, d.channel, d.width, d.height, d.gate, d.limit) }
            </figcaption>
            <div class="maps">
                <div><canvas ref={before} data-testid="feature-before" /><span>{ "before" }</span></div>
                <div><canvas ref={after} data-testid="feature-after" /><span>{ format!("after × {:.3}", d.gate) }</span></div>
                if d.picture.is_some() {
                    <div><canvas ref={source} data-testid="feature-source" data-positions={raising.len().to_string()} />
                        <span>{ "where its squeeze comes from" }</span></div>
                }
            </div>
            if d.picture.is_some() {
                <p class="muted" data-testid="feature-source-note">{ match raising.len() {
                    0 => "No position of this map is positive: nothing here raises its squeeze.".to_string(),
                    k => format!("The squeeze is this map's mean: the {k} of its {} positions outlined on the \
                                  input give half of its positive sum, so they raise the gate's evidence for \
                                  this channel most (each sees more than its patch: its receptive field is wider).",
                                 d.before.len()),
                } }</p>
            }
        </figure>
    }
}
