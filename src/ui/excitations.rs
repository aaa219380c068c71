//! The excitations: every SE block's gates as a heatmap (click a channel for its feature maps),
//! its most amplified and most suppressed channels, its ablation switch; the overview and depth
//! chart; and the comparison with a pinned image.

use std::collections::BTreeSet;
use std::rc::Rc;

use yew::prelude::*;

use super::heatmap::{colour, diverging, legend_gradient, FeatureMaps, Heatmap, Paint, Scale};
use super::overview::{DepthChart, Overview};
use super::session::{Outcome, Pinned};
use super::view_model::{BlockView, ChannelDetail, CompareView, RunView};

/// Channels listed as most amplified / most suppressed per block.
const EXTREMES: usize = 5;

#[derive(Properties, PartialEq)]
pub struct ExcitationsProps {
    pub outcome: Rc<Outcome>,
    pub ablated: BTreeSet<String>,
    pub all_off: bool,
    pub pinned: Option<Pinned>,
    pub input_name: String,
    pub detail: Option<Rc<ChannelDetail>>,
    /// A block's gates switched off or back on.
    pub on_toggle: Callback<String>,
    /// Every block's gates off (`true`) or back on.
    pub on_all: Callback<bool>,
    /// Pin the image shown as A (`true`), or unpin.
    pub on_pin: Callback<bool>,
    /// A channel clicked: its block and index.
    pub on_select: Callback<(String, usize)>,
}

#[function_component(ExcitationsPanel)]
pub fn excitations_panel(props: &ExcitationsProps) -> Html {
    let scale = use_state(|| Scale::Block);
    let run = &props.outcome.baseline;
    let absolute = *scale == Scale::Absolute;
    let on_scale = {
        let scale = scale.clone();
        Callback::from(move |event: Event| {
            let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
            scale.set(if select.value() == "absolute" {
                Scale::Absolute
            } else {
                Scale::Block
            });
        })
    };
    let all_off = props.all_off;
    html! {
        <section class="excitations" aria-label="excitations">
            <h2>{ "Excitations" }</h2>
            <p class="muted">
                { "Each cell is one channel's gate: the sigmoid output that scales the channel (0 suppresses it, \
                   1 lets it through unchanged; MobileNetV3's hard sigmoid reaches both exactly). Switch a block's \
                   gates off (all ones) to see what it contributes." }
            </p>
            <div class="legend">
                <span>{ if absolute { "0 (suppressed)" } else { "block's lowest gate" } }</span>
                <span class="ramp" style={format!("background: {}", legend_gradient(colour))}></span>
                <span>{ if absolute { "1 (passed)" } else { "block's highest gate" } }</span>
                <label>{ " Colour scale " }
                    <select data-testid="scale-select" onchange={on_scale}>
                        <option value="block" selected={!absolute}>{ "each block's range" }</option>
                        <option value="absolute" selected={absolute}>{ "0 to 1" }</option>
                    </select>
                </label>
            </div>
            <p>
                <button data-testid="ablate-all" aria-pressed={all_off.to_string()}
                        onclick={props.on_all.reform(move |_| !all_off)}>
                    { if all_off { "Switch all gates back on" } else { "Switch all gates off" } }
                </button>
            </p>
            <Compare pinned={props.pinned.clone()} run={run.clone()} input_name={props.input_name.clone()}
                     on_pin={props.on_pin.clone()} />
            <Overview run={run.clone()} scale={*scale} />
            <DepthChart run={run.clone()} />
            { for run.blocks.iter().map(|block| {
                let detail = props.detail.clone().filter(|d| d.block == block.block);
                html! {
                    <Block block={block.clone()} scale={*scale} off={props.ablated.contains(&block.block)} {detail}
                           on_toggle={props.on_toggle.clone()} on_select={props.on_select.clone()} />
                }
            }) }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct BlockProps {
    block: Rc<BlockView>,
    scale: Scale,
    off: bool,
    detail: Option<Rc<ChannelDetail>>,
    on_toggle: Callback<String>,
    on_select: Callback<(String, usize)>,
}

/// One SE block: its heatmap, its extremes, its saturated channels, its ablation switch.
#[function_component(Block)]
fn block(props: &BlockProps) -> Html {
    let block = &props.block;
    let name = block.block.clone();
    let list = |channels: &[usize]| {
        channels
            .iter()
            .map(|&c| format!("#{c} ({:.3})", block.values[c]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let toggle = {
        let name = name.clone();
        props.on_toggle.reform(move |_| name.clone())
    };
    let select = {
        let name = name.clone();
        props
            .on_select
            .reform(move |channel| (name.clone(), channel))
    };
    let saturated = block.saturated();
    html! {
        <article class={classes!("block", props.off.then_some("off"))}>
            <Heatmap block={block.clone()} paint={Paint::Gates(props.scale)} on_select={Some(select)} />
            if let Some(detail) = props.detail.clone() {
                <FeatureMaps {detail} />
            }
            <p class="extremes">
                <span>{ "Most amplified: " }{ list(block.amplified(EXTREMES)) }</span><br />
                <span>{ "Most suppressed: " }{ list(&block.suppressed(EXTREMES)) }</span>
                if saturated != (0, 0) {
                    <br />
                    <span data-testid={format!("saturated-{name}")}>
                        { format!("Exactly 0 (shut off): {} channels; exactly 1 (passed unchanged): {}", saturated.0, saturated.1) }
                    </span>
                }
            </p>
            <label class="toggle">
                <input type="checkbox" data-testid={format!("ablate-{name}")} checked={props.off} onchange={toggle} />
                { " gates off (all ones) for this block" }
            </label>
        </article>
    }
}

#[derive(Properties, PartialEq)]
struct CompareProps {
    pinned: Option<Pinned>,
    /// B: the run shown.
    run: Rc<RunView>,
    input_name: String,
    on_pin: Callback<bool>,
}

/// Pin the current image as A; then every new image B shows `B − A` per block.
#[function_component(Compare)]
fn compare(props: &CompareProps) -> Html {
    let Some(pinned) = &props.pinned else {
        return html! {
            <p>
                <button data-testid="pin" onclick={props.on_pin.reform(|_| true)}>
                    { "Pin this image as A, then load another to compare" }
                </button>
            </p>
        };
    };
    let unpin = html! {
        <button data-testid="unpin" onclick={props.on_pin.reform(|_| false)}>{ "Unpin" }</button>
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
            <h3>{ format!("Compare: B = {} minus A = {}", props.input_name, pinned.name) }</h3>
            <p>
                { format!("A: {} · B: {} · largest change {:.3}. ", label(&pinned.run), label(&props.run), compare.limit) }
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
