//! Yew components. They see view models only, never tensors.

mod app;

pub use app::App;
