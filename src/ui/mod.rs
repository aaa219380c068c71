//! The user interface. `view_model` turns runs into what is shown and `session` holds the app's
//! state and its transitions (plain Rust, tested natively); the Yew components (with the `web`
//! feature) see view models only, never tensors, and send requests to the engine worker.

pub mod hub;
pub mod protocol;
pub mod session;
pub mod view_model;

#[cfg(feature = "web")]
mod app;
#[cfg(feature = "web")]
mod browser;
#[cfg(feature = "web")]
mod client;
#[cfg(feature = "web")]
mod excitations;
#[cfg(feature = "web")]
mod heatmap;
#[cfg(feature = "web")]
mod input;
#[cfg(feature = "web")]
mod jobs;
#[cfg(feature = "web")]
mod model_bar;
#[cfg(feature = "web")]
mod overview;
#[cfg(feature = "web")]
mod prediction;
#[cfg(feature = "web")]
mod preprocess;
#[cfg(feature = "web")]
mod research;
#[cfg(feature = "web")]
mod teaching;
#[cfg(feature = "web")]
mod tour;
#[cfg(feature = "web")]
pub mod worker;

#[cfg(feature = "web")]
pub use app::App;
#[cfg(feature = "web")]
pub use browser::report_panics;
