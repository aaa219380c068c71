//! The web app entry point, built for wasm32 by `scripts/build-web.sh`.

fn main() {
    se_lens::ui::report_panics();
    yew::Renderer::<se_lens::ui::App>::new().render();
}
