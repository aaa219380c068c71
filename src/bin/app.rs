//! The web app entry point, built for wasm32 by `scripts/build-web.sh`.

fn main() {
    se_lens::ui::report_panics();
    // In the engine worker (www/engine-worker.js) the same module serves `EngineHost` only.
    if web_sys::window().is_some() {
        yew::Renderer::<se_lens::ui::App>::new().render();
    }
}
