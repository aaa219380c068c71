//! The web app entry point, built for wasm32 by Trunk.

fn main() {
    yew::Renderer::<se_lens::ui::App>::new().render();
}
