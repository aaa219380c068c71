//! The prediction: the top classes (and how ablation moved them), the forward pass's timing, and
//! the run's gates as files to download.

use std::rc::Rc;

use yew::prelude::*;

use super::browser::{object_url, revoke_object_url};
use super::session::Outcome;

#[derive(Properties, PartialEq)]
pub struct PredictionProps {
    pub outcome: Rc<Outcome>,
    /// Blocks whose gates are off in the shown run.
    pub ablated: usize,
    pub architecture: String,
    pub input_name: String,
}

#[function_component(PredictionPanel)]
pub fn prediction_panel(props: &PredictionProps) -> Html {
    let outcome = &props.outcome;
    let downloads = use_downloads(props);
    let shown = outcome.ablated.as_ref().unwrap_or(&outcome.baseline);
    html! {
        <section class="prediction" aria-label="prediction">
            <h2>{ "Prediction" }</h2>
            <p class="top1">
                <span data-testid="top1-label">{ shown.top.first().map(|p| p.label.clone()).unwrap_or_default() }</span>
                if outcome.ablated.is_some() {
                    <span class="muted">{ format!(" (with {} SE block(s) off; with all gates: {})",
                        props.ablated,
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
                    (_, threads) => format!(
                        "the CPU (wasm {}SIMD, {threads} thread{})",
                        if outcome.relaxed_simd { "relaxed " } else { "" },
                        if threads == 1 { "" } else { "s" }
                    ),
                },
                outcome.preprocess_ms) }</p>
            if let Some((json, csv)) = &*downloads {
                <p class="exports">
                    <a data-testid="excitation-json" href={json.clone()} download="excitations.json">{ "Excitations (JSON)" }</a>
                    <a data-testid="excitation-csv" href={csv.clone()} download="excitations.csv">{ "Excitations (CSV)" }</a>
                </p>
            }
        </section>
    }
}

/// Object URLs of the run's `excitations.json` and `.csv` (the model's own gates), made once per
/// run and revoked when the next replaces them.
#[hook]
fn use_downloads(props: &PredictionProps) -> Rc<Option<(String, String)>> {
    let key = (
        props.outcome.clone(),
        props.architecture.clone(),
        props.input_name.clone(),
    );
    let urls = use_memo(key, |(outcome, architecture, input)| {
        let run = &outcome.baseline;
        let json = object_url(
            &run.to_json(architecture, input, &outcome.backend),
            "application/json",
        );
        json.zip(object_url(&run.to_csv(), "text/csv"))
    });
    {
        let urls = urls.clone();
        use_effect_with(urls, |urls| {
            let urls = urls.clone();
            move || {
                if let Some((json, csv)) = &*urls {
                    revoke_object_url(json);
                    revoke_object_url(csv);
                }
            }
        });
    }
    urls
}
