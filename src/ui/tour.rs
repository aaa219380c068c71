//! A short guided tour for newcomers: upload → prediction → heatmaps → ablation → one block step
//! by step → class statistics. Each step scrolls to its part of the page and outlines it; the
//! tour can be closed at any step.

use wasm_bindgen::JsCast;
use yew::prelude::*;

/// `(data-testid of the part shown, title, text)`.
const STEPS: &[(&str, &str, &str)] = &[
    ("drop-zone", "1. An image",
     "Pick a sample, choose or drop a file, paste one, or use the camera. The image never leaves your browser."),
    ("top1-label", "2. The prediction",
     "The network's five most likely classes. SE blocks helped compute it: each rescaled its channels."),
    ("overview", "3. The excitations",
     "Every SE block's gate, one cell per channel: bright channels are passed on, dark ones suppressed. \
      Hover a cell for its value and rank; click it to see the channel's feature map."),
    ("ablate-all", "4. Ablation",
     "Switch a block's gates off (all ones) or all of them, and watch how the prediction changes."),
    ("teach", "5. One block, step by step",
     "Squeeze, two small fully connected layers, the sigmoid, the scale: on this image's own numbers."),
    ("class-stats", "6. By class",
     "Mean gates per class, as in the SE paper's Fig. 6: are early blocks the same for every class?"),
];

const MARK: &str = "data-tour-target";

/// Outlines (and scrolls to) the part of the page `step` explains; `false` if it is not there.
fn highlight(step: Option<usize>) -> bool {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return false;
    };
    if let Ok(marked) = document.query_selector_all(&format!("[{MARK}]")) {
        for i in 0..marked.length() {
            if let Some(element) = marked
                .item(i)
                .and_then(|node| node.dyn_into::<web_sys::Element>().ok())
            {
                let _ = element.remove_attribute(MARK);
            }
        }
    }
    let Some((target, _, _)) = step.and_then(|i| STEPS.get(i)) else {
        return false;
    };
    match document.query_selector(&format!("[data-testid=\"{target}\"]")) {
        Ok(Some(element)) => {
            let _ = element.set_attribute(MARK, "");
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            element.scroll_into_view_with_scroll_into_view_options(&options);
            true
        }
        _ => false,
    }
}

#[function_component(Tour)]
pub fn tour() -> Html {
    let step = use_state(|| None::<usize>);
    let present = use_state(|| true);
    {
        let present = present.clone();
        use_effect_with(*step, move |step| {
            present.set(highlight(*step));
        });
    }
    let go = |to: Option<usize>| {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| step.set(to))
    };
    let Some(current) = *step else {
        return html! {
            <button class="tour-start" data-testid="tour-start" onclick={go(Some(0))}>{ "Take the tour" }</button>
        };
    };
    let (_, title, text) = STEPS[current];
    let last = current + 1 == STEPS.len();
    html! {
        <aside class="tour" data-testid="tour" role="dialog" aria-label="guided tour" data-step={current.to_string()}>
            <h2>{ title }</h2>
            <p>{ text }</p>
            if !*present {
                <p class="muted">{ "(This part appears once an image is classified.)" }</p>
            }
            <p class="tour-buttons">
                <button disabled={current == 0} onclick={go(current.checked_sub(1))}>{ "Back" }</button>
                <button data-testid="tour-next" onclick={go((!last).then_some(current + 1))}>
                    { if last { "Done" } else { "Next" } }</button>
                <button data-testid="tour-close" aria-label="close the tour" onclick={go(None)}>{ "✕" }</button>
            </p>
        </aside>
    }
}
