use yew::prelude::*;

use crate::engine::{run_probe, BackendPreference, ProbeReport};

/// The page: runs the compute probe once and shows which backend ran and what it found.
#[function_component(App)]
pub fn app() -> Html {
    let report = use_state(|| None::<ProbeReport>);
    {
        let report = report.clone();
        use_effect_with((), move |_| {
            let preference = BackendPreference::parse(&query_param("backend").unwrap_or_default());
            wasm_bindgen_futures::spawn_local(async move {
                report.set(Some(run_probe(preference).await));
            });
        });
    }

    html! {
        <main class="page">
            <header>
                <h1>{ "SE Lens" }</h1>
                <p class="tagline">
                    { "See which channels each Squeeze-and-Excitation block amplifies and which it suppresses." }
                </p>
            </header>
            { match &*report {
                None => html! { <p data-testid="status" class="status">{ "Starting the compute engine…" }</p> },
                Some(report) => view_report(report),
            } }
        </main>
    }
}

fn view_report(report: &ProbeReport) -> Html {
    let adapter = report
        .adapter
        .as_ref()
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    html! {
        <section class="probe">
            <p data-testid="status" class="status">
                { format!(
                    "Squeezed {} channels on {}{adapter}; max |GPU − CPU| = {:.1e}",
                    report.channel_means.len(), report.backend, report.max_abs_diff,
                ) }
            </p>
            <p>{ "Backend: " }<span data-testid="backend-badge" class="badge">{ badge_text(&report.backend) }</span></p>
            if let Some(reason) = &report.fallback_reason {
                <p data-testid="fallback-reason" class="note">{ format!("GPU unavailable, ran on the CPU: {reason}") }</p>
            }
            <div class="bars" aria-label="channel means">
                { for report.channel_means.iter().map(|&mean| bar(mean)) }
            </div>
        </section>
    }
}

/// The contract's badge text: `webgpu` or `cpu`.
fn badge_text(backend: &str) -> &'static str {
    if backend == "cpu" {
        "cpu"
    } else {
        "webgpu"
    }
}

fn bar(mean: f32) -> Html {
    let height = (mean.abs() * 100.0).min(100.0);
    let class = if mean >= 0.0 { "bar up" } else { "bar down" };
    html! { <span class={class} style={format!("height: {height:.0}%")} title={format!("{mean:.4}")}></span> }
}

fn query_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}
