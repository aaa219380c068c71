//! All SE blocks at once: a depth × channel matrix of gates, and each block's mean and standard
//! deviation over depth (the SE paper's Fig. 7, for the image at hand).

use std::rc::Rc;

use web_sys::HtmlCanvasElement;
use yew::prelude::*;

use super::browser::draw_rgba;
use super::heatmap::{Paint, Scale};
use super::view_model::RunView;

#[derive(Properties, PartialEq)]
pub struct OverviewProps {
    pub run: Rc<RunView>,
    pub scale: Scale,
}

/// One row per SE block (top: first block), each row's channels stretched to the full width.
#[function_component(Overview)]
pub fn overview(props: &OverviewProps) -> Html {
    let canvas = use_node_ref();
    let blocks = &props.run.blocks;
    let width = blocks.iter().map(|b| b.values.len()).max().unwrap_or(1);
    {
        let canvas = canvas.clone();
        use_effect_with((props.run.clone(), props.scale), move |(run, scale)| {
            let Some(canvas) = canvas.cast::<HtmlCanvasElement>() else {
                return;
            };
            let mut rgba = Vec::with_capacity(width * run.blocks.len() * 4);
            for block in &run.blocks {
                let channels = block.values.len().max(1);
                for x in 0..width {
                    let value = block
                        .values
                        .get(x * channels / width)
                        .copied()
                        .unwrap_or(0.0);
                    let [r, g, b] = Paint::Gates(*scale).colour(block, value);
                    rgba.extend([r, g, b, 255]);
                }
            }
            draw_rgba(&canvas, width, run.blocks.len(), &rgba);
        });
    }
    html! {
        <figure class="overview">
            <figcaption>{ "All blocks: one row per SE block, from the first (top) to the last; \
                           each row's channels stretched to the full width." }</figcaption>
            <div class="overview-grid">
                <ol class="overview-names">
                    { for blocks.iter().map(|b| html! { <li><code>{ &b.block }</code></li> }) }
                </ol>
                <canvas ref={canvas} data-testid="overview" role="img"
                        style={format!("height: {}rem", blocks.len() as f32 * 1.2)}
                        aria-label={format!("gates of all {} SE blocks, depth by channel", blocks.len())} />
            </div>
        </figure>
    }
}

#[derive(Properties, PartialEq)]
pub struct DepthChartProps {
    pub run: Rc<RunView>,
}

/// Mean gate per block with ±1 standard deviation, against depth.
#[function_component(DepthChart)]
pub fn depth_chart(props: &DepthChartProps) -> Html {
    let blocks = &props.run.blocks;
    let (width, height, pad) = (600.0f32, 200.0f32, 30.0f32);
    let step = (width - 2.0 * pad) / blocks.len().max(1) as f32;
    let x = |i: usize| pad + step * (i as f32 + 0.5);
    let y = |v: f32| height - pad - v.clamp(0.0, 1.0) * (height - 2.0 * pad);
    let points: Vec<String> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{:.1},{:.1}", x(i), y(b.mean)))
        .collect();
    html! {
        <figure class="depth-chart">
            <figcaption>{ "Mean gate per block (line) ± one standard deviation (bars), by depth" }</figcaption>
            <svg viewBox={format!("0 0 {width} {height}")} role="img" data-testid="depth-chart"
                 aria-label="mean and standard deviation of the gates of each block">
                { for [0.0f32, 0.5, 1.0].iter().map(|&v| html! {
                    <>
                        <line class="grid" x1={pad.to_string()} x2={(width - pad).to_string()}
                              y1={y(v).to_string()} y2={y(v).to_string()} />
                        <text class="axis" x="4" y={(y(v) + 4.0).to_string()}>{ format!("{v:.1}") }</text>
                    </>
                }) }
                { for blocks.iter().enumerate().map(|(i, b)| html! {
                    <g>
                        <title>{ format!("{}: mean {:.3}, std {:.3}", b.block, b.mean, b.std) }</title>
                        <line class="std" x1={x(i).to_string()} x2={x(i).to_string()}
                              y1={y(b.mean - b.std).to_string()} y2={y(b.mean + b.std).to_string()} />
                        <circle class="mean" cx={x(i).to_string()} cy={y(b.mean).to_string()} r="4"
                                data-mean={b.mean.to_string()} />
                        <text class="axis" x={x(i).to_string()} y={(height - 8.0).to_string()} text-anchor="middle">
                            { i + 1 }
                        </text>
                    </g>
                }) }
                <polyline class="mean-line" points={points.join(" ")} />
            </svg>
        </figure>
    }
}
